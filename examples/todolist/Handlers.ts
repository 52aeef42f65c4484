/**
 * The todo list's command handlers and its query.
 *
 * A command handler builds the command and runs the decider through the
 * `Executor`, which reads the list's stream, decides, appends with the version it
 * read as the expected one, and retries on a conflict. The query folds the
 * stream into a view as the store pages it in.
 */
import { Effect, Stream } from "effect"
import type { StoreError } from "eventfold"
import { EventStore, Executor } from "eventfold"
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

const run = (command: CreateList | AddItem | MarkItemDone | RemoveItem) =>
  Effect.map(Executor.execute(todoList, command), (result): Handled => ({
    listId: command.listId,
    version: result.streams[0]?.version ?? 0
  })).pipe(Effect.withSpan(`todolist.${command._tag}`))

/** Creates a list. */
export const createList = (listId: ListId, name: string) => run(new CreateList({ listId, name }))

/** Adds an item to a list. */
export const addItem = (listId: ListId, itemId: ItemId, text: string) => run(new AddItem({ listId, itemId, text }))

/** Marks an item done. */
export const markItemDone = (listId: ListId, itemId: ItemId) => run(new MarkItemDone({ listId, itemId }))

/** Removes an item. */
export const removeItem = (listId: ListId, itemId: ItemId) => run(new RemoveItem({ listId, itemId }))

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
