/**
 * Runs the bank: `npm start`.
 *
 * - The store is SQLite in `.data/bank.sqlite` (created on first run), or
 *   PostgreSQL when `DATABASE_URL` is set. Nothing else changes: the store is a
 *   layer swap.
 * - The port is `PORT` (default 3000) on `HOST` (default 127.0.0.1: the example has
 *   no authentication, so it is not offered to the network unless you say so,
 *   e.g. `HOST=0.0.0.0`). Swagger UI is at `/docs`, the OpenAPI document at
 *   `/openapi.json`.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { createServer } from "node:http"
import * as ReadModel from "./ReadModel.ts"
import * as Server from "./Server.ts"
import * as Store from "./Store.ts"

/** A Node HTTP server on `HOST`:`PORT` (default 127.0.0.1:3000). */
const HttpServerLive = Layer.unwrapEffect(
  Effect.map(
    Config.all({
      port: Config.port("PORT").pipe(Config.withDefault(3000)),
      host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1"))
    }),
    ({ host, port }) => NodeHttpServer.layer(createServer, { port, host })
  )
)

/** Prints where the server listens, once it does. */
const announce = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const url = server.address._tag === "TcpAddress" ? `http://localhost:${server.address.port}` : "unix socket"
    yield* Effect.logInfo(`Bank API listening on ${url} (Swagger UI: ${url}/docs, OpenAPI: ${url}/openapi.json)`)
  })
)

Layer.mergeAll(Server.make({ readSide: ReadModel.layer() }), announce).pipe(
  Layer.provide(Store.layer),
  Layer.provide(HttpServerLive),
  Layer.launch,
  NodeRuntime.runMain
)
