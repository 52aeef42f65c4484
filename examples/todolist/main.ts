/**
 * Serves the todo list: `npx tsx examples/todolist/main.ts`.
 *
 * - RPC at `POST http://127.0.0.1:3001/rpc` (`@effect/rpc`, HTTP protocol,
 *   NDJSON; generate a client with `RpcClient.make(TodoRpcs)` from Api.ts), and
 *   `GET /health`.
 * - The store is the file store in `.data/todolist` unless configured otherwise
 *   (Store.ts: `EVENTFOLD_STORE=file|sqlite|memory`, `EVENTFOLD_FILE_DIRECTORY`,
 *   `EVENTFOLD_SQLITE_FILE`).
 * - `PORT` (default 3001; 0 picks a free one) on `HOST` (default 127.0.0.1: the
 *   example has no authentication).
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { Executor } from "eventfold"
import { createServer } from "node:http"
import * as Server from "./Server.ts"
import * as Store from "./Store.ts"

/** A Node HTTP server on `HOST`:`PORT`. */
const HttpServerLive = Layer.unwrapEffect(
  Effect.map(
    Config.all({
      port: Config.port("PORT").pipe(Config.withDefault(3001)),
      host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
    }),
    ({ host, port }) => NodeHttpServer.layer(createServer, { port, host })
  )
)

/** Prints where the service listens, once it does. */
const announce = (storeName: string) =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const url = server.address._tag === "TcpAddress" ? `http://${server.address.hostname}:${server.address.port}` : "unix socket"
      yield* Effect.logInfo(`Todo list service on ${url} (RPC: ${url}/rpc, health: ${url}/health), store: ${storeName}`)
    })
  )

const App = Layer.unwrapEffect(
  Effect.map(Store.kind, (storeName) =>
    Layer.mergeAll(Server.layer({ storeName }), announce(storeName)).pipe(
      Layer.provide(Executor.layerOn(Store.layer)),
      Layer.provide(HttpServerLive)
    ))
)

App.pipe(Layer.launch, NodeRuntime.runMain)
