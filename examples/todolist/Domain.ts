/**
 * The todo list domain: a list (the aggregate) owning child items, as one
 * decider over one stream per list, `todolist-<id>`.
 *
 * The items live inside the list's stream, so every rule that spans items ("an
 * item id is used once", "an item is done only once") is checked against one
 * consistent state, and the list's stream is the only consistency boundary.
 */
import { Either, Schema } from "effect"
import { Decider, EventCodec, StreamId } from "eventfold"

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/** A list id: letters, digits, `-` and `_`, 1 to 64 characters. */
export const ListId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/),
  Schema.brand("ListId"),
  Schema.annotations({ identifier: "ListId" })
)
/** A list id. */
export type ListId = typeof ListId.Type

/** An item id, unique within its list: letters, digits, `-` and `_`, 1 to 64 characters. */
export const ItemId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/),
  Schema.brand("ItemId"),
  Schema.annotations({ identifier: "ItemId" })
)
/** An item id. */
export type ItemId = typeof ItemId.Type

/** The stream of one list. */
export const listStream = (id: ListId): StreamId.StreamId => StreamId.unsafeMake(`todolist-${id}`)

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/** A list was created with a name. */
export class ListCreated extends Schema.TaggedClass<ListCreated>()("ListCreated", { name: Schema.String }) {}
/** An item was added to the list. */
export class ItemAdded extends Schema.TaggedClass<ItemAdded>()("ItemAdded", { itemId: ItemId, text: Schema.String }) {}
/** An item was done. */
export class ItemMarkedDone extends Schema.TaggedClass<ItemMarkedDone>()("ItemMarkedDone", { itemId: ItemId }) {}
/** An item was taken off the list. */
export class ItemRemoved extends Schema.TaggedClass<ItemRemoved>()("ItemRemoved", { itemId: ItemId }) {}

/** Everything that can happen to a list. */
export const TodoListEvent = Schema.Union(ListCreated, ItemAdded, ItemMarkedDone, ItemRemoved)
/** Everything that can happen to a list. */
export type TodoListEvent = typeof TodoListEvent.Type

/** Stores list events and decodes them back. */
export const codec = EventCodec.make(TodoListEvent)

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

/** An item of a list. */
export interface Item {
  readonly text: string
  readonly done: boolean
}

/** A list as its events leave it; `created: false` for a stream with no events. */
export interface TodoList {
  readonly created: boolean
  readonly name: string
  /** The items in the order they were added. */
  readonly items: ReadonlyMap<ItemId, Item>
}

/** The state of a list that was never created. */
export const empty: TodoList = { created: false, name: "", items: new Map() }

/**
 * A new list with its items changed. Copying the map keeps states immutable (a
 * state can be compared, logged or kept by a test); it costs O(items) per event,
 * fine for a todo list. A stream of many thousands of child items would mutate a
 * state private to the fold instead, or keep one stream per item.
 */
const withItems = (list: TodoList, update: (items: Map<ItemId, Item>) => void): TodoList => {
  const items = new Map(list.items)
  update(items)
  return { ...list, items }
}

/** Folds one event into a list. */
export const evolve = (list: TodoList, event: TodoListEvent): TodoList => {
  switch (event._tag) {
    case "ListCreated":
      return { created: true, name: event.name, items: new Map() }
    case "ItemAdded":
      return withItems(list, (items) => items.set(event.itemId, { text: event.text, done: false }))
    case "ItemMarkedDone":
      return withItems(list, (items) => {
        const item = items.get(event.itemId)
        if (item !== undefined) items.set(event.itemId, { ...item, done: true })
      })
    case "ItemRemoved":
      return withItems(list, (items) => items.delete(event.itemId))
  }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** No list has this id. */
export class ListNotFound extends Schema.TaggedError<ListNotFound>()("ListNotFound", { listId: ListId }) {}
/** A list with this id exists already. */
export class ListAlreadyExists extends Schema.TaggedError<ListAlreadyExists>()("ListAlreadyExists", { listId: ListId }) {}
/** The list has no item with this id. */
export class ItemNotFound extends Schema.TaggedError<ItemNotFound>()("ItemNotFound", { listId: ListId, itemId: ItemId }) {}
/** The list already has an item with this id. */
export class ItemAlreadyExists extends Schema.TaggedError<ItemAlreadyExists>()("ItemAlreadyExists", {
  listId: ListId,
  itemId: ItemId
}) {}
/** The item is done already. */
export class ItemAlreadyDone extends Schema.TaggedError<ItemAlreadyDone>()("ItemAlreadyDone", {
  listId: ListId,
  itemId: ItemId
}) {}

// ---------------------------------------------------------------------------
// Commands and the decider
// ---------------------------------------------------------------------------

/** Create a list. */
export class CreateList extends Schema.TaggedClass<CreateList>()("CreateList", {
  listId: ListId,
  name: Schema.NonEmptyTrimmedString
}) {}
/** Add an item. */
export class AddItem extends Schema.TaggedClass<AddItem>()("AddItem", {
  listId: ListId,
  itemId: ItemId,
  text: Schema.NonEmptyTrimmedString
}) {}
/** Mark an item done. */
export class MarkItemDone extends Schema.TaggedClass<MarkItemDone>()("MarkItemDone", { listId: ListId, itemId: ItemId }) {}
/** Remove an item. */
export class RemoveItem extends Schema.TaggedClass<RemoveItem>()("RemoveItem", { listId: ListId, itemId: ItemId }) {}

/** A command on a list. */
export type TodoListCommand = CreateList | AddItem | MarkItemDone | RemoveItem

/** A domain error of a list command. */
export type TodoListError = ListNotFound | ListAlreadyExists | ItemNotFound | ItemAlreadyExists | ItemAlreadyDone

/** Fails unless the list exists and has the item. */
const existingItem = (list: TodoList, listId: ListId, itemId: ItemId): Either.Either<Item, ListNotFound | ItemNotFound> => {
  if (!list.created) return Either.left(new ListNotFound({ listId }))
  const item = list.items.get(itemId)
  return item === undefined ? Either.left(new ItemNotFound({ listId, itemId })) : Either.right(item)
}

/** The todo list decider: one list, one stream. */
export const todoList = Decider.make({
  name: "TodoList",
  codec,
  initialState: empty,
  evolve,
  streams: (command: TodoListCommand) => listStream(command.listId),
  decide: (command, list): Either.Either<ReadonlyArray<TodoListEvent>, TodoListError> => {
    switch (command._tag) {
      case "CreateList":
        return list.created
          ? Either.left(new ListAlreadyExists({ listId: command.listId }))
          : Either.right([new ListCreated({ name: command.name })])
      case "AddItem":
        if (!list.created) return Either.left(new ListNotFound({ listId: command.listId }))
        return list.items.has(command.itemId)
          ? Either.left(new ItemAlreadyExists({ listId: command.listId, itemId: command.itemId }))
          : Either.right([new ItemAdded({ itemId: command.itemId, text: command.text })])
      case "MarkItemDone":
        return Either.flatMap(existingItem(list, command.listId, command.itemId), (item) =>
          item.done
            ? Either.left(new ItemAlreadyDone({ listId: command.listId, itemId: command.itemId }))
            : Either.right([new ItemMarkedDone({ itemId: command.itemId })]))
      case "RemoveItem":
        return Either.map(existingItem(list, command.listId, command.itemId), () => [
          new ItemRemoved({ itemId: command.itemId })
        ])
    }
  }
})
