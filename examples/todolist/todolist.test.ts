/**
 * The todo list: scenario tests of every command (pure), and the handlers and
 * query over the in-memory store.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Executor } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { Scenario } from "eventfold/testing"
import {
  AddItem,
  CreateList,
  ItemAdded,
  ItemAlreadyDone,
  ItemAlreadyExists,
  ItemId,
  ItemMarkedDone,
  ItemNotFound,
  ItemRemoved,
  ListAlreadyExists,
  ListCreated,
  ListId,
  listStream,
  ListNotFound,
  MarkItemDone,
  RemoveItem,
  todoList
} from "./Domain.ts"
import * as Handlers from "./Handlers.ts"

const chores = ListId.make("chores")
const dishes = ItemId.make("dishes")
const laundry = ItemId.make("laundry")
const created = new ListCreated({ name: "Chores" })
const dishesAdded = new ItemAdded({ itemId: dishes, text: "Do the dishes" })

describe("CreateList", () => {
  it("creates a list that does not exist", () => {
    Scenario.decider(todoList).when(new CreateList({ listId: chores, name: "Chores" })).then([created])
  })

  it("fails with ListAlreadyExists when the list exists", () => {
    Scenario.decider(todoList).given([created]).when(new CreateList({ listId: chores, name: "Again" })).thenFails(
      new ListAlreadyExists({ listId: chores })
    )
  })
})

describe("AddItem", () => {
  it("adds an item to an existing list", () => {
    Scenario.decider(todoList).given([created]).when(new AddItem({ listId: chores, itemId: dishes, text: "Do the dishes" }))
      .then([dishesAdded])
  })

  it("fails with ListNotFound when the list does not exist", () => {
    Scenario.decider(todoList).when(new AddItem({ listId: chores, itemId: dishes, text: "Do the dishes" })).thenFails(
      new ListNotFound({ listId: chores })
    )
  })

  it("fails with ItemAlreadyExists when the item id is taken", () => {
    Scenario.decider(todoList).given([created, dishesAdded])
      .when(new AddItem({ listId: chores, itemId: dishes, text: "Dishes again" }))
      .thenFails(new ItemAlreadyExists({ listId: chores, itemId: dishes }))
  })

  it("adds again an item id that was removed", () => {
    Scenario.decider(todoList).given([created, dishesAdded, new ItemRemoved({ itemId: dishes })])
      .when(new AddItem({ listId: chores, itemId: dishes, text: "Dishes, really" }))
      .then([new ItemAdded({ itemId: dishes, text: "Dishes, really" })])
  })
})

describe("MarkItemDone", () => {
  it("marks an open item done", () => {
    Scenario.decider(todoList).given([created, dishesAdded]).when(new MarkItemDone({ listId: chores, itemId: dishes })).then([
      new ItemMarkedDone({ itemId: dishes })
    ])
  })

  it("fails with ItemAlreadyDone when the item is done", () => {
    Scenario.decider(todoList).given([created, dishesAdded, new ItemMarkedDone({ itemId: dishes })])
      .when(new MarkItemDone({ listId: chores, itemId: dishes }))
      .thenFails(new ItemAlreadyDone({ listId: chores, itemId: dishes }))
  })

  it("fails with ItemNotFound for an unknown or removed item, and ListNotFound without a list", () => {
    Scenario.decider(todoList).given([created, dishesAdded]).when(new MarkItemDone({ listId: chores, itemId: laundry }))
      .thenFails(new ItemNotFound({ listId: chores, itemId: laundry }))
    Scenario.decider(todoList).given([created, dishesAdded, new ItemRemoved({ itemId: dishes })])
      .when(new MarkItemDone({ listId: chores, itemId: dishes }))
      .thenFails(new ItemNotFound({ listId: chores, itemId: dishes }))
    Scenario.decider(todoList).when(new MarkItemDone({ listId: chores, itemId: dishes })).thenFails(
      new ListNotFound({ listId: chores })
    )
  })
})

describe("RemoveItem", () => {
  it("removes an item, done or not", () => {
    Scenario.decider(todoList).given([created, dishesAdded]).when(new RemoveItem({ listId: chores, itemId: dishes })).then([
      new ItemRemoved({ itemId: dishes })
    ])
    Scenario.decider(todoList).given([created, dishesAdded, new ItemMarkedDone({ itemId: dishes })])
      .when(new RemoveItem({ listId: chores, itemId: dishes }))
      .then([new ItemRemoved({ itemId: dishes })])
  })

  it("fails with ItemNotFound for an unknown item, and ListNotFound without a list", () => {
    Scenario.decider(todoList).given([created]).when(new RemoveItem({ listId: chores, itemId: dishes })).thenFails(
      new ItemNotFound({ listId: chores, itemId: dishes })
    )
    Scenario.decider(todoList).when(new RemoveItem({ listId: chores, itemId: dishes })).thenFails(
      new ListNotFound({ listId: chores })
    )
  })

  it.effect("through the executor over the memory store, appends ItemRemoved to the list's stream", () =>
    Scenario.executor(todoList)
      .given([{ streamId: listStream(chores), event: created }, { streamId: listStream(chores), event: dishesAdded }])
      .when(new RemoveItem({ listId: chores, itemId: dishes }))
      .then([new ItemRemoved({ itemId: dishes })])
      .pipe(Effect.orDie))
})

describe("handlers and the getList query over the memory store", () => {
  const AppLive = Executor.layerOn(MemoryEventStore.layer())

  it.effect("run every command and read the list back with one item done, one open and one removed", () =>
    Effect.gen(function*() {
      expect(yield* Handlers.createList(chores, "Chores")).toEqual({ listId: chores, version: 1 })
      yield* Handlers.addItem(chores, dishes, "Do the dishes")
      yield* Handlers.addItem(chores, laundry, "Laundry")
      yield* Handlers.addItem(chores, ItemId.make("bins"), "Take the bins out")
      yield* Handlers.markItemDone(chores, dishes)
      expect(yield* Handlers.removeItem(chores, ItemId.make("bins"))).toEqual({ listId: chores, version: 6 })

      expect(yield* Handlers.getList(chores)).toEqual({
        id: chores,
        name: "Chores",
        items: [
          { id: dishes, text: "Do the dishes", done: true },
          { id: laundry, text: "Laundry", done: false }
        ],
        remaining: 1,
        version: 6
      })
    }).pipe(Effect.provide(AppLive)))

  it.effect("return the domain error and append nothing when a command is refused", () =>
    Effect.gen(function*() {
      yield* Handlers.createList(chores, "Chores")
      yield* Handlers.addItem(chores, dishes, "Do the dishes")
      yield* Handlers.markItemDone(chores, dishes)
      expect(yield* Effect.flip(Handlers.markItemDone(chores, dishes))).toEqual(
        new ItemAlreadyDone({ listId: chores, itemId: dishes })
      )
      expect(yield* Effect.flip(Handlers.createList(chores, "Again"))).toEqual(new ListAlreadyExists({ listId: chores }))
      expect((yield* Handlers.getList(chores)).version).toBe(3)
    }).pipe(Effect.provide(AppLive)))

  it.effect("getList fails with ListNotFound for a list that was never created", () =>
    Effect.gen(function*() {
      const missing = ListId.make("missing")
      expect(yield* Effect.flip(Handlers.getList(missing))).toEqual(new ListNotFound({ listId: missing }))
      expect(yield* Effect.flip(Handlers.addItem(missing, dishes, "x"))).toEqual(new ListNotFound({ listId: missing }))
    }).pipe(Effect.provide(AppLive)))

  it("rejects malformed ids and blank texts when a command is built", () => {
    expect(() => ListId.make("no spaces")).toThrow()
    expect(() => new AddItem({ listId: chores, itemId: dishes, text: "   " })).toThrow()
  })
})
