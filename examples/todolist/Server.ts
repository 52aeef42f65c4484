/**
 * The todo list service over HTTP: the RPC group of Api.ts at `POST /rpc`
 * (`@effect/rpc`'s HTTP protocol, NDJSON), and `GET /health` for load
 * balancers. The handlers run the commands through the `Executor` with the
 * request id as idempotency key, and serve `GetList` by folding the list's
 * stream.
 */
import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer, Stream } from "effect"
import { EventStore, Executor } from "eventfold"
import { Handled, Health, ItemView, ServiceUnavailable, TodoListView, TodoRpcs } from "./Api.ts"
import type { TodoListError } from "./Domain.ts"
import { ItemAlreadyDone, ItemAlreadyExists, ItemNotFound, ListAlreadyExists, ListNotFound } from "./Domain.ts"
import * as Handlers from "./Handlers.ts"

const isDomainError = (error: unknown): error is TodoListError =>
  error instanceof ListNotFound || error instanceof ListAlreadyExists || error instanceof ItemNotFound ||
  error instanceof ItemAlreadyExists || error instanceof ItemAlreadyDone

/** Domain errors go to the client as they are; anything else of the store is `ServiceUnavailable`. */
const toClient = <A, E extends { readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, (error) => isDomainError(error) ? error : new ServiceUnavailable({ reason: error.message }))

const handled = (result: Handlers.Handled) => new Handled(result)

/** Whether the store answers: one read of a stream that need not exist. */
const storeAnswers = Effect.flatMap(EventStore.EventStore, (store) =>
  Stream.runDrain(Stream.take(store.readAll({ pageSize: 1 }), 1)))

/** The implementation of every RPC. */
export const handlers = (storeName: string) =>
  TodoRpcs.toLayer({
    CreateList: ({ listId, name, requestId }) => toClient(Effect.map(Handlers.createList(listId, name, { requestId }), handled)),
    AddItem: ({ itemId, listId, requestId, text }) =>
      toClient(Effect.map(Handlers.addItem(listId, itemId, text, { requestId }), handled)),
    MarkItemDone: ({ itemId, listId, requestId }) =>
      toClient(Effect.map(Handlers.markItemDone(listId, itemId, { requestId }), handled)),
    RemoveItem: ({ itemId, listId, requestId }) =>
      toClient(Effect.map(Handlers.removeItem(listId, itemId, { requestId }), handled)),
    GetList: ({ listId }) =>
      toClient(Effect.map(Handlers.getList(listId), (view) =>
        new TodoListView({ ...view, items: view.items.map((item) => new ItemView(item)) }))),
    Health: () => toClient(Effect.as(storeAnswers, new Health({ status: "ok", store: storeName })))
  })

/** `GET /health`: 200 `{"status":"ok"}` when the store answers, 503 otherwise. */
const healthRoute = HttpLayerRouter.add(
  "GET",
  "/health",
  storeAnswers.pipe(
    Effect.as(HttpServerResponse.unsafeJson({ status: "ok" })),
    Effect.catchAll((error) => Effect.succeed(HttpServerResponse.unsafeJson({ status: "unavailable", reason: error.message }, { status: 503 })))
  )
)

/**
 * Both routes as an HTTP app, served by the `HttpServer` in context, over the
 * `EventStore` and `Executor` in context.
 */
export const layer = (options: { readonly storeName: string; readonly logRequests?: boolean }) =>
  HttpLayerRouter.serve(
    Layer.mergeAll(
      RpcServer.layerHttpRouter({ group: TodoRpcs, path: "/rpc", protocol: "http" }).pipe(
        Layer.provide(handlers(options.storeName)),
        Layer.provide(RpcSerialization.layerNdjson)
      ),
      healthRoute
    ),
    { disableLogger: options.logRequests !== true, disableListenLog: true }
  )

/** The executor over the store in context, for {@link layer}. */
export const executor = Executor.layer()
