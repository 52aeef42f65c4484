import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Schema } from "effect"
import { Executor, ExpectedVersion, Pipeline, StoreError, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { Property } from "eventfold/testing"
import { account as testingAccount, Deposit as TestingDeposit, model } from "./testing/fixtures/Account.ts"

const streamId = StreamId.unsafeMake("account-1")

class Overdrawn extends Schema.TaggedError<Overdrawn>()("Overdrawn", { balance: Schema.Number }) {}
class Closed extends Data.TaggedError("Closed")<{ readonly id: string }> {}

const conflict = new StoreError.WrongExpectedVersion({ streamId, expected: ExpectedVersion.unsafeExact(3), actual: 5 })

/** One of every infrastructure error: the store's (with InvalidStreamId), the executor's and the pipeline's. */
const infrastructure = [
  conflict,
  new StoreError.DuplicateEventId({ eventId: "0b7e6f5a-6a43-4c57-9d8e-2a3f1b9c0d11", streamId }),
  new StoreError.EventDecodeError({ streamId, version: 4, position: 17, type: "Opened", cause: new Error("bad") }),
  new StoreError.EventEncodeError({ streamId, cause: new Error("bad") }),
  new StoreError.InvalidArgument({ operation: "append", reason: "pageSize must be a positive integer, got 0" }),
  new StoreError.StoreUnavailable({ operation: "read", cause: new Error("connection lost") }),
  new StoreError.InvalidStreamId({ input: "", reason: "a stream id must not be empty" }),
  new Executor.RetriesExhausted({ attempts: 5, last: conflict }),
  new Pipeline.InvalidDecision({ decider: "Account", reason: "streams(command) named no stream" }),
  new Pipeline.UnexpectedInput({ awaiting: "the append's outcome", input: "StreamEnded" })
] as const

const domain: ReadonlyArray<unknown> = [
  new Overdrawn({ balance: -1 }),
  new Closed({ id: "x" }),
  new Error("boom"),
  { _tag: "StoreUnavailable", operation: "read" },
  { _tag: "RetriesExhausted", attempts: 1 },
  "InvalidStreamId",
  undefined,
  null
]

describe("error refinements", () => {
  it("Executor.isExecuteError matches each infrastructure error, store errors exactly as StoreError.isStoreError does", () => {
    for (const error of infrastructure) expect(Executor.isExecuteError(error), error._tag).toBe(true)
    const storeTags = infrastructure.filter((error) => StoreError.isStoreError(error)).map((error) => error._tag)
    expect(storeTags).toEqual([
      "WrongExpectedVersion",
      "DuplicateEventId",
      "EventDecodeError",
      "EventEncodeError",
      "InvalidArgument",
      "StoreUnavailable",
      "InvalidStreamId"
    ])
  })

  it("no domain error, plain Error or look-alike is matched by either refinement", () => {
    for (const other of domain) {
      expect(Executor.isExecuteError(other)).toBe(false)
      expect(StoreError.isStoreError(other)).toBe(false)
    }
  })

  it.effect("Effect.catchIf with Executor.isExecuteError maps every infrastructure error and leaves the domain error typed", () =>
    Effect.gen(function*() {
      const run = (error: Overdrawn | Executor.ExecuteError) => {
        const mapped: Effect.Effect<string, Overdrawn> = Effect.fail(error).pipe(
          Effect.catchIf(Executor.isExecuteError, (infra) => Effect.succeed(`infrastructure: ${infra._tag}`))
        )
        return Effect.either(mapped)
      }
      const domainOutcome = yield* run(new Overdrawn({ balance: -1 }))
      expect(domainOutcome._tag === "Left" && domainOutcome.left._tag).toBe("Overdrawn")
      for (const error of infrastructure) {
        if (error._tag === "WrongExpectedVersion" || error._tag === "UnexpectedInput") continue
        const outcome = yield* run(error)
        expect(outcome).toMatchObject({ _tag: "Right", right: `infrastructure: ${error._tag}` })
      }
    }))

  it.effect("Effect.catchIf with StoreError.isStoreError removes exactly the store errors from the channel", () =>
    Effect.gen(function*() {
      const program = (error: Overdrawn | Executor.ExecuteError) => {
        const mapped: Effect.Effect<string, Overdrawn | Executor.RetriesExhausted | Pipeline.InvalidDecision> = Effect.fail(error)
          .pipe(Effect.catchIf(StoreError.isStoreError, (store) => Effect.succeed(store._tag)))
        return Effect.either(mapped)
      }
      expect(yield* program(new StoreError.InvalidStreamId({ input: "", reason: "empty" }))).toMatchObject({
        _tag: "Right",
        right: "InvalidStreamId"
      })
      const retries = yield* program(new Executor.RetriesExhausted({ attempts: 5, last: conflict }))
      expect(retries._tag === "Left" && retries.left._tag).toBe("RetriesExhausted")
    }))

  it.effect("Property.checkModel fails with InvalidStreamId instead of taking it for a domain rejection", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Property.checkModel(testingAccount, model, [new TestingDeposit({ id: "x".repeat(300), amount: 1 })])
      )
      expect(error._tag).toBe("InvalidStreamId")
      expect(Executor.isExecuteError(error)).toBe(true)
    }).pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer()))))
})
