/**
 * End to end: the todo list service on the file store in a temporary
 * directory and a free port, driven over HTTP through the RPC client generated
 * from Api.ts. Retried commands (same request id) are applied once.
 */
import { FetchHttpClient, FileSystem, HttpServer } from "@effect/platform"
import { NodeContext, NodeHttpServer } from "@effect/platform-node"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { EventStore, Executor } from "eventfold"
import { FileEventStore } from "eventfold/file"
import { createServer } from "node:http"
import { RequestId, TodoRpcs } from "./Api.ts"
import { ItemAlreadyExists, ItemId, ListId, listStream } from "./Domain.ts"
import * as Server from "./Server.ts"

/** The service on a fresh file store and a free port; exposes the store and the `HttpServer`. */
const service = Layer.unwrapScoped(
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "eventfold-todolist-" })),
    (directory) =>
      Server.layer({ storeName: "file" }).pipe(
        Layer.provideMerge(Executor.layerOn(FileEventStore.layer({ directory }))),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0 }))
      )
  )
).pipe(Layer.provide(NodeContext.layer))

/** The generated client of the service at `url`. */
const clientAt = (url: string) =>
  RpcClient.make(TodoRpcs).pipe(
    Effect.provide(
      RpcClient.layerProtocolHttp({ url: `${url}/rpc` }).pipe(
        Layer.provide(RpcSerialization.layerNdjson),
        Layer.provide(FetchHttpClient.layer)
      )
    )
  )

const baseUrl = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://127.0.0.1:${server.address.port}` : "")

const request = (n: number) => RequestId.make(`request-${String(n).padStart(4, "0")}`)

describe("todo list service", () => {
  it.live("commands, the query and the health check over HTTP; a retried command is applied once", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const client = yield* clientAt(url)
      const store = yield* EventStore.EventStore
      const chores = ListId.make("chores")
      const dishes = ItemId.make("dishes")
      const bins = ItemId.make("bins")

      expect(yield* client.Health()).toMatchObject({ status: "ok", store: "file" })
      const health = yield* Effect.promise(() => fetch(`${url}/health`).then(async (r) => [r.status, await r.json()] as const))
      expect(health).toEqual([200, { status: "ok" }])

      const created = yield* client.CreateList({ requestId: request(1), listId: chores, name: "Chores" })
      expect(created).toMatchObject({ listId: chores, version: 1 })

      // The reply of AddItem is "lost": the client retries it with the same request id, twice.
      const added = yield* client.AddItem({ requestId: request(2), listId: chores, itemId: dishes, text: "Do the dishes" })
      const retried = yield* client.AddItem({ requestId: request(2), listId: chores, itemId: dishes, text: "Do the dishes" })
      const again = yield* client.AddItem({ requestId: request(2), listId: chores, itemId: dishes, text: "Do the dishes" })
      expect([added.version, retried.version, again.version]).toEqual([2, 2, 2])
      // The same item under a new request id is a new command, and the domain refuses it.
      const duplicate = yield* Effect.flip(
        client.AddItem({ requestId: request(3), listId: chores, itemId: dishes, text: "Do the dishes" })
      )
      expect(duplicate).toEqual(new ItemAlreadyExists({ listId: chores, itemId: dishes }))

      yield* client.AddItem({ requestId: request(4), listId: chores, itemId: bins, text: "Take the bins out" })
      const done = yield* client.MarkItemDone({ requestId: request(5), listId: chores, itemId: dishes })
      expect((yield* client.MarkItemDone({ requestId: request(5), listId: chores, itemId: dishes })).version).toBe(done.version)
      const removed = yield* client.RemoveItem({ requestId: request(6), listId: chores, itemId: bins })
      expect((yield* client.RemoveItem({ requestId: request(6), listId: chores, itemId: bins })).version).toBe(removed.version)
      // a retry of the very first command, long after
      expect((yield* client.CreateList({ requestId: request(1), listId: chores, name: "Chores" })).version).toBe(1)

      const list = yield* client.GetList({ listId: chores })
      expect({ ...list, items: list.items.map((item) => ({ ...item })) }).toEqual({
        id: chores,
        name: "Chores",
        items: [{ id: dishes, text: "Do the dishes", done: true }],
        remaining: 0,
        version: 5
      })
      // Applied once: the stream holds one event per distinct request.
      const events = yield* Stream.runCollect(store.read(listStream(chores)))
      expect(Chunk.toReadonlyArray(events).map((e) => e.type)).toEqual([
        "ListCreated",
        "ItemAdded",
        "ItemAdded",
        "ItemMarkedDone",
        "ItemRemoved"
      ])
      expect(yield* Effect.flip(client.GetList({ listId: ListId.make("nope") }))).toMatchObject({ _tag: "ListNotFound" })
    }).pipe(Effect.scoped, Effect.provide(service)))
})
