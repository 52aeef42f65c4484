import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Layer, Schema, Stream, TestClock } from "effect"
import { EventCodec, EventStore, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { ChaosEventStore } from "eventfold/testing"
import { StoreContract } from "eventfold/testing/vitest"

const chaotic = (options: ChaosEventStore.Options) => ChaosEventStore.layer(options).pipe(Layer.provideMerge(MemoryEventStore.layer()))

StoreContract.suite("ChaosEventStore with every rate at zero", { makeStore: () => chaotic({ seed: 1 }) })

class Ticked extends Schema.TaggedClass<Ticked>()("Ticked", { n: Schema.Number }) {}
const codec = EventCodec.make(Ticked)
const stream = StreamId.unsafeMake("ticks")

/** A fixed sequence of 40 appends (each expecting the current version) and reads; returns the outcome of each. */
const workload = Effect.gen(function*() {
  const store = yield* EventStore.typed(codec)
  const outcomes: Array<string> = []
  let version = 0
  for (let i = 0; i < 40; i++) {
    if (i % 3 === 2) {
      const read = yield* Effect.either(Stream.runCount(store.read(stream)))
      outcomes.push(Either.isRight(read) ? `read ${read.right}` : `read failed`)
    } else {
      const expected = ExpectedVersion.unsafeExact(version)
      const appended = yield* Effect.either(store.append({ streamId: stream, expected, events: [new Ticked({ n: i })] }))
      if (Either.isRight(appended)) version++
      outcomes.push(Either.isRight(appended) ? "appended" : appended.left._tag)
    }
  }
  return { outcomes, faults: yield* ChaosEventStore.faults }
})

const options = { seed: 7, appendConflictRate: 0.3, appendFailureRate: 0.1, readFailureRate: 0.4, readFailureMaxEvents: 3 }

describe("ChaosEventStore", () => {
  it.effect("the same seed gives the same faults, run after run", () =>
    Effect.gen(function*() {
      const first = yield* Effect.provide(workload, chaotic(options))
      const second = yield* Effect.provide(workload, chaotic(options))
      expect(second).toEqual(first)
      const kinds = new Set(first.faults.map((f) => f._tag))
      expect(kinds).toEqual(new Set(["Conflict", "AppendUnavailable", "ReadUnavailable"]))
      expect(first.outcomes.filter((o) => o === "WrongExpectedVersion").length).toBe(first.faults.filter((f) => f._tag === "Conflict").length)
      const other = yield* Effect.provide(workload, chaotic({ ...options, seed: 8 }))
      expect(other.outcomes).not.toEqual(first.outcomes)
    }))

  it.effect("an injected conflict reports the stream's real version and writes nothing", () =>
    Effect.gen(function*() {
      const inner = yield* EventStore.EventStore
      yield* Effect.flatMap(EventCodec.toEventData(codec, new Ticked({ n: 1 })), (event) =>
        inner.append({ streamId: stream, expected: ExpectedVersion.any, events: [event] }))
      const { store } = yield* ChaosEventStore.make(inner, { seed: "s", appendConflictRate: 1 })
      const event = yield* EventCodec.toEventData(codec, new Ticked({ n: 2 }))
      const error = yield* Effect.flip(store.append({ streamId: stream, expected: ExpectedVersion.unsafeExact(1), events: [event] }))
      expect(error).toMatchObject({ _tag: "WrongExpectedVersion", streamId: "ticks", actual: 1 })
      expect(yield* Stream.runCount(inner.read(stream))).toBe(1)
    }).pipe(Effect.provide(MemoryEventStore.layer())))

  it.effect("conflicts are injected only into appends that check an expected version, and name a write that does", () =>
    Effect.gen(function*() {
      const inner = yield* EventStore.EventStore
      const a = StreamId.unsafeMake("a")
      const b = StreamId.unsafeMake("b")
      const c = StreamId.unsafeMake("c")
      const tick = (n: number) => Effect.map(EventCodec.toEventData(codec, new Ticked({ n })), (event) => [event])
      const named: Array<string> = []
      for (let seed = 0; seed < 20; seed++) {
        const { chaos, store } = yield* ChaosEventStore.make(inner, { seed, appendConflictRate: 1 })
        // Every write is Any: nothing to conflict with, so the append goes through.
        const unchecked = yield* store.append([
          { streamId: a, expected: ExpectedVersion.any, events: yield* tick(seed) },
          { streamId: c, expected: ExpectedVersion.any, events: [] }
        ])
        expect(unchecked.streams).toEqual([{ streamId: a, version: seed + 1 }, { streamId: c, version: 0 }])
        // Only b checks its version: the conflict is always b's, with b's expectation.
        const conflict = yield* Effect.flip(store.append([
          { streamId: a, expected: ExpectedVersion.any, events: yield* tick(100 + seed) },
          { streamId: b, expected: ExpectedVersion.unsafeExact(0), events: yield* tick(200 + seed) },
          { streamId: c, expected: ExpectedVersion.any, events: yield* tick(300 + seed) }
        ]))
        expect(conflict).toBeInstanceOf(StoreError.WrongExpectedVersion)
        expect(conflict).toMatchObject({ streamId: "b", expected: { _tag: "Exact", version: 0 }, actual: 0 })
        // Two checked writes: the conflict names one of them, never the Any one.
        const either = yield* Effect.flip(store.append([
          { streamId: b, expected: ExpectedVersion.noStream, events: [] },
          { streamId: a, expected: ExpectedVersion.any, events: [] },
          { streamId: c, expected: ExpectedVersion.noStream, events: [] }
        ]))
        expect(either._tag).toBe("WrongExpectedVersion")
        named.push((either as StoreError.WrongExpectedVersion).streamId)
        expect((either as StoreError.WrongExpectedVersion).expected).toEqual(ExpectedVersion.noStream)
        expect((yield* chaos.faults).map((f) => f._tag === "Conflict" ? f.streamId : f._tag)).toEqual(["b", named.at(-1)])
      }
      expect(new Set(named)).toEqual(new Set(["b", "c"]))
      expect(yield* Stream.runCount(inner.read(a))).toBe(20)
      expect(yield* Stream.runCount(inner.read(b))).toBe(0)
    }).pipe(Effect.provide(MemoryEventStore.layer())))

  it.effect("an injected read failure comes after at most readFailureMaxEvents events", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.typed(codec)
      yield* store.append({ streamId: stream, expected: ExpectedVersion.any, events: [1, 2, 3, 4, 5, 6].map((n) => new Ticked({ n })) })
      const seen: Array<number> = []
      const error = yield* Effect.flip(Stream.runForEach(store.read(stream), (e) => Effect.sync(() => seen.push(e.data.n))))
      expect(error._tag).toBe("StoreUnavailable")
      const [fault] = yield* ChaosEventStore.faults
      expect(fault).toMatchObject({ _tag: "ReadUnavailable", operation: "read" })
      expect(seen).toEqual([1, 2, 3, 4, 5, 6].slice(0, (fault as { afterEvents: number }).afterEvents))
      expect(seen.length).toBeLessThanOrEqual(2)
    }).pipe(Effect.provide(chaotic({ seed: 3, readFailureRate: 1, readFailureMaxEvents: 2 }))))

  it.effect("delays run on the Effect clock, so TestClock releases them", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.typed(codec)
      const fiber = yield* Effect.fork(store.append({ streamId: stream, expected: ExpectedVersion.noStream, events: [new Ticked({ n: 1 })] }))
      yield* TestClock.adjust("1 millis")
      const [delay] = yield* ChaosEventStore.faults
      expect(delay).toMatchObject({ _tag: "Delay", operation: "append" })
      const millis = (delay as { millis: number }).millis
      expect(millis).toBeGreaterThan(1)
      expect(millis).toBeLessThanOrEqual(3000)
      yield* TestClock.adjust(`${millis - 2} millis`)
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      expect(result.streams).toEqual([{ streamId: "ticks", version: 1 }])
      // Reads are delayed too: the read below finishes only once the clock moves on.
      const read = yield* Effect.fork(Stream.runCollect(store.read(stream)))
      yield* TestClock.adjust("3 seconds")
      expect(Chunk.size(yield* Fiber.join(read))).toBe(1)
    }).pipe(Effect.provide(chaotic({ seed: 11, delayRate: 1, maxDelay: "3 seconds" }))))

  it.effect("a rate outside [0, 1] fails with InvalidArgument", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(EventStore.EventStore, chaotic({ seed: 1, appendConflictRate: 1.5 })))
      expect(error).toMatchObject({ _tag: "InvalidArgument", reason: "appendConflictRate must be between 0 and 1, got 1.5" })
    }))
})
