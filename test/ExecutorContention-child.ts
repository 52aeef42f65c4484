/**
 * One process of the hot-stream contention check: `fibers` fibers each run
 * `increments` commands that append one event to the same stream of a SQLite
 * file, through one Executor with default settings. Prints one JSON line:
 * commands done, commands that ran out of retries, conflicts met, milliseconds.
 *
 *   node --import tsx test/ExecutorContention-child.ts <file> <fibers> <increments>
 */
import { Effect, Either, Metric, Schema } from "effect"
import { Decider, EventCodec, Executor, StreamId } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"

const Incremented = Schema.TaggedStruct("Incremented", {})
export const counter = Decider.make({
  name: "Counter",
  codec: EventCodec.make(Incremented),
  initialState: 0,
  evolve: (count) => count + 1,
  streams: (_: "increment") => StreamId.unsafeMake("counter-hot"),
  decide: () => Either.right([Incremented.make({})])
})

const [file, fibersArg, incrementsArg] = process.argv.slice(2)
const fibers = Number(fibersArg)
const increments = Number(incrementsArg)

if (file !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const program = Effect.gen(function*() {
    const start = performance.now()
    const outcomes = yield* Effect.forEach(
      Array.from({ length: fibers }, (_, i) => i),
      () =>
        Effect.forEach(Array.from({ length: increments }, (_, i) => i), () =>
          Executor.execute(counter, "increment").pipe(
            Effect.as("done" as const),
            Effect.catchTag("RetriesExhausted", () => Effect.succeed("exhausted" as const))
          )),
      { concurrency: "unbounded" }
    )
    const flat = outcomes.flat()
    const conflicts = (yield* Metric.value(Executor.conflicts)).count
    return {
      done: flat.filter((o) => o === "done").length,
      exhausted: flat.filter((o) => o === "exhausted").length,
      conflicts,
      ms: Math.round(performance.now() - start)
    }
  }).pipe(Effect.provide(Executor.layerOn(SqliteEventStore.layer({ filename: file }))))
  console.log(JSON.stringify(await Effect.runPromise(program)))
}
