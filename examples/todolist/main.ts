/**
 * The todo list example: a few commands against the in-memory store, then the
 * list as the query sees it.
 *
 * Run: npx tsx examples/todolist/main.ts
 */
import { Console, Effect, Layer } from "effect"
import { Executor } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { ItemId, ListId } from "./Domain.ts"
import * as Handlers from "./Handlers.ts"

const program = Effect.gen(function*() {
  const groceries = ListId.make("groceries")
  yield* Handlers.createList(groceries, "Groceries")
  yield* Handlers.addItem(groceries, ItemId.make("milk"), "Milk")
  yield* Handlers.addItem(groceries, ItemId.make("bread"), "Bread")
  yield* Handlers.addItem(groceries, ItemId.make("eggs"), "A dozen eggs")
  yield* Handlers.markItemDone(groceries, ItemId.make("milk"))
  yield* Handlers.removeItem(groceries, ItemId.make("bread"))

  // a domain rule at work: an item is done only once
  yield* Handlers.markItemDone(groceries, ItemId.make("milk")).pipe(
    Effect.catchTag("ItemAlreadyDone", (error) => Console.log(`Refused: ${error.itemId} is already done`))
  )

  const list = yield* Handlers.getList(groceries)
  yield* Console.log(`${list.name} (version ${list.version}, ${list.remaining} to do)`)
  for (const item of list.items) yield* Console.log(`  [${item.done ? "x" : " "}] ${item.text}`)
})

const AppLive = Executor.layer.pipe(Layer.provideMerge(MemoryEventStore.layer))

Effect.runPromise(program.pipe(Effect.provide(AppLive))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
