/**
 * The todo list service's RPC surface (`@effect/rpc`): four commands, a query
 * and a health check. The server implements it (Server.ts); `RpcClient.make(TodoRpcs)`
 * generates the client from the same definitions.
 *
 * Ids come from the client: the list and item ids it chooses, and a request id
 * per command call. A command retried with the same request id (after a lost
 * reply, a timeout) is applied once: the retry answers what the first call did.
 */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import {
  ItemAlreadyDone,
  ItemAlreadyExists,
  ItemId,
  ItemNotFound,
  ListAlreadyExists,
  ListId,
  ListNotFound
} from "./Domain.ts"

/** A client-chosen id for one command call (a UUID is a good choice), reused when the call is retried. */
export const RequestId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{8,128}$/),
  Schema.brand("RequestId"),
  Schema.annotations({ identifier: "RequestId" })
)
/** A request id. */
export type RequestId = typeof RequestId.Type

/** The store could not be used (unreachable, or conflicts kept winning): try again later, with the same request id. */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  reason: Schema.String
}) {}

/** What a command answers: the list's version after it. */
export class Handled extends Schema.Class<Handled>("Handled")({ listId: ListId, version: Schema.Number }) {}

/** One item as the query shows it. */
export class ItemView extends Schema.Class<ItemView>("ItemView")({ id: ItemId, text: Schema.String, done: Schema.Boolean }) {}

/** A list as the query shows it. */
export class TodoListView extends Schema.Class<TodoListView>("TodoListView")({
  id: ListId,
  name: Schema.String,
  items: Schema.Array(ItemView),
  /** How many items are not done yet. */
  remaining: Schema.Number,
  /** The number of events in the list's stream. */
  version: Schema.Number
}) {}

/** What the health check answers when the service can read its store. */
export class Health extends Schema.Class<Health>("Health")({ status: Schema.Literal("ok"), store: Schema.String }) {}

/** The errors of a command. */
export const CommandError = Schema.Union(
  ListNotFound,
  ListAlreadyExists,
  ItemNotFound,
  ItemAlreadyExists,
  ItemAlreadyDone,
  ServiceUnavailable
)

/** The todo list service. */
export class TodoRpcs extends RpcGroup.make(
  Rpc.make("CreateList", {
    payload: { requestId: RequestId, listId: ListId, name: Schema.NonEmptyTrimmedString },
    success: Handled,
    error: CommandError
  }),
  Rpc.make("AddItem", {
    payload: { requestId: RequestId, listId: ListId, itemId: ItemId, text: Schema.NonEmptyTrimmedString },
    success: Handled,
    error: CommandError
  }),
  Rpc.make("MarkItemDone", {
    payload: { requestId: RequestId, listId: ListId, itemId: ItemId },
    success: Handled,
    error: CommandError
  }),
  Rpc.make("RemoveItem", {
    payload: { requestId: RequestId, listId: ListId, itemId: ItemId },
    success: Handled,
    error: CommandError
  }),
  Rpc.make("GetList", {
    payload: { listId: ListId },
    success: TodoListView,
    error: Schema.Union(ListNotFound, ServiceUnavailable)
  }),
  Rpc.make("Health", { success: Health, error: ServiceUnavailable })
) {}
