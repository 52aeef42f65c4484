/**
 * The todo list's command handlers and its query.
 *
 * A command handler builds the command and runs the decider through the
 * `Executor`, which reads the list's stream, decides, appends with the version it
 * read as the expected one, and retries on a conflict. The query folds the
 * stream into a view as the store pages it in.
 *
 * A command given a request id is idempotent: its events get ids derived from
 * the request id (`Executor.execute(..., { idempotencyKey })`), so a retry can
 * never store them twice. A retry of a command that was applied decides again
 * against a state that already holds its effect and is refused (the item
 * exists, the list exists, the item is done, or the append finds its event id
 * taken); the handler then finds the request's first event in the stream and
 * answers as the first call did.
 */
import { Effect, Option, Stream } from "effect"
import type { StoreError } from "eventfold"
import { Event, EventStore, Executor } from "eventfold"
import type { ItemId, ListId, TodoList } from "./Domain.ts"
import {
  AddItem,
  codec,
  CreateList,
  empty,
  evolve,
  ListNotFound,
  listStream,
  MarkItemDone,
  RemoveItem,
  todoList
} from "./Domain.ts"

/** What a command handler returns: the list's version after the command. */
export interface Handled {
  readonly listId: ListId
  readonly version: number
}

/** What the query returns. */
export interface TodoListView {
  readonly id: ListId
  readonly name: string
  readonly items: ReadonlyArray<{ readonly id: ItemId; readonly text: string; readonly done: boolean }>
  /** How many items are not done yet. */
  readonly remaining: number
  /** The number of events in the list's stream. */
  readonly version: number
}

/** Options of a command handler. */
export interface CommandOptions {
  /** The caller's id for this call, reused on a retry: the command is then applied once. */
  readonly requestId?: string
}

/** The version of the list's event whose id is `eventId`, if the stream holds it. */
const versionOfEvent = (listId: ListId, eventId: Event.EventId) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    store.read(listStream(listId)).pipe(
      Stream.filter((event) => event.eventId === eventId),
      Stream.runHead,
      Effect.map(Option.map((event) => event.version))
    ))

const run = (command: CreateList | AddItem | MarkItemDone | RemoveItem, options?: CommandOptions) => {
  const requestId = options?.requestId
  const executed = Effect.map(
    Executor.execute(todoList, command, requestId === undefined ? {} : { idempotencyKey: requestId }),
    (result): Handled => ({ listId: command.listId, version: result.streams[0]?.version ?? 0 })
  )
  if (requestId === undefined) return executed.pipe(Effect.withSpan(`todolist.${command._tag}`))
  return executed.pipe(
    // Refused: was it refused because this very request was applied before?
    Effect.catchAll((error) =>
      Effect.flatMap(Event.eventIdFrom(requestId, 0), (eventId) =>
        Effect.flatMap(versionOfEvent(command.listId, eventId), (applied) =>
          Option.match(applied, {
            onNone: () => Effect.fail(error),
            onSome: (version): Effect.Effect<Handled> => Effect.succeed({ listId: command.listId, version })
          })))
    ),
    Effect.withSpan(`todolist.${command._tag}`, { attributes: { requestId } })
  )
}

/** Creates a list. */
export const createList = (listId: ListId, name: string, options?: CommandOptions) =>
  run(new CreateList({ listId, name }), options)

/** Adds an item to a list. */
export const addItem = (listId: ListId, itemId: ItemId, text: string, options?: CommandOptions) =>
  run(new AddItem({ listId, itemId, text }), options)

/** Marks an item done. */
export const markItemDone = (listId: ListId, itemId: ItemId, options?: CommandOptions) =>
  run(new MarkItemDone({ listId, itemId }), options)

/** Removes an item. */
export const removeItem = (listId: ListId, itemId: ItemId, options?: CommandOptions) =>
  run(new RemoveItem({ listId, itemId }), options)

/** The error of a command handler besides its domain errors. */
export type CommandError = Executor.ExecuteError

/** Reads a list by folding its stream; `ListNotFound` when it has no events. */
export const getList = (
  listId: ListId
): Effect.Effect<TodoListView, ListNotFound | StoreError.ReadError | StoreError.EventDecodeError, EventStore.EventStore> =>
  Effect.gen(function*() {
    const store = yield* EventStore.typed(codec)
    const { list, version } = yield* store.read(listStream(listId)).pipe(
      Stream.runFold(
        { list: empty as TodoList, version: 0 },
        (acc, event) => ({ list: evolve(acc.list, event.data), version: event.version })
      )
    )
    if (!list.created) return yield* Effect.fail(new ListNotFound({ listId }))
    const items = Array.from(list.items, ([id, item]) => ({ id, text: item.text, done: item.done }))
    return { id: listId, name: list.name, items, remaining: items.filter((i) => !i.done).length, version }
  }).pipe(Effect.withSpan("todolist.getList"))
