import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, Stream, Tracer } from "effect"
import { Event, EventStore, ExpectedVersion, InstrumentedEventStore, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { StoreContract } from "eventfold/testing/vitest"

const instrumentedMemory = () => InstrumentedEventStore.layer.pipe(Layer.provide(MemoryEventStore.layer()))

StoreContract.suite("InstrumentedEventStore over MemoryEventStore", { makeStore: instrumentedMemory })

const ada = StreamId.unsafeMake("account-ada")

const deposit = (amount: number): Event.EventData => ({
  eventId: Event.EventId.make(crypto.randomUUID(), { disableValidation: true }),
  type: "Deposited",
  data: JSON.stringify({ amount }),
  metadata: "{}"
})

const counts = Effect.all({
  reads: Metric.value(InstrumentedEventStore.reads),
  eventsRead: Metric.value(InstrumentedEventStore.eventsRead),
  appends: Metric.value(InstrumentedEventStore.appends),
  eventsAppended: Metric.value(InstrumentedEventStore.eventsAppended),
  conflicts: Metric.value(InstrumentedEventStore.conflicts),
  appendDurations: Metric.value(InstrumentedEventStore.appendDuration)
}).pipe(Effect.map((m) => ({
  reads: m.reads.count,
  eventsRead: m.eventsRead.count,
  appends: m.appends.count,
  eventsAppended: m.eventsAppended.count,
  conflicts: m.conflicts.count,
  appendDurations: m.appendDurations.count
})))

const recordingSpans = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const base = yield* Effect.tracer
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (...args) => {
        const span = base.span(...args)
        spans.push(span)
        return span
      },
      context: (f, fiber) => base.context(f, fiber)
    })
    const result = yield* Effect.withTracer(effect, tracer)
    return { result, spans }
  })

describe("InstrumentedEventStore", () => {
  it.effect("counts reads, events read, appends, events appended and conflicts", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const before = yield* counts
      yield* store.append({ streamId: ada, expected: ExpectedVersion.noStream, events: [deposit(1), deposit(2), deposit(3)] })
      yield* Effect.flip(store.append({ streamId: ada, expected: ExpectedVersion.noStream, events: [deposit(4)] }))
      yield* Stream.runDrain(store.read(ada, { pageSize: 2 }))
      yield* Stream.runDrain(store.readAll())
      const after = yield* counts
      expect({
        reads: after.reads - before.reads,
        eventsRead: after.eventsRead - before.eventsRead,
        appends: after.appends - before.appends,
        eventsAppended: after.eventsAppended - before.eventsAppended,
        conflicts: after.conflicts - before.conflicts,
        appendDurations: after.appendDurations - before.appendDurations
      }).toEqual({ reads: 2, eventsRead: 6, appends: 2, eventsAppended: 3, conflicts: 1, appendDurations: 2 })
    }).pipe(Effect.provide(instrumentedMemory())))

  it.effect("traces a read with its stream, options and the number of events it yielded", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({ streamId: ada, expected: ExpectedVersion.noStream, events: [deposit(1), deposit(2), deposit(3)] })
      const { spans } = yield* recordingSpans(Stream.runDrain(store.read(ada, { from: 2, pageSize: 1 })))
      const read = spans.find((s) => s.name === "eventfold.read")
      expect(Object.fromEntries(read!.attributes)).toEqual({
        "eventfold.stream_id": ada,
        "eventfold.direction": "forward",
        "eventfold.from": 2,
        "eventfold.page_size": 1,
        "eventfold.events_read": 2
      })
      expect(read!.status._tag).toBe("Ended")
    }).pipe(Effect.provide(instrumentedMemory())))

  it.effect("traces an append with its streams, expected versions, event count, new versions and positions", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const bob = StreamId.unsafeMake("account-bob")
      const { spans } = yield* recordingSpans(store.append([
        { streamId: ada, expected: ExpectedVersion.noStream, events: [deposit(1), deposit(2)] },
        { streamId: bob, expected: ExpectedVersion.any, events: [deposit(3)] }
      ]))
      const append = spans.find((s) => s.name === "eventfold.append")
      expect(Object.fromEntries(append!.attributes)).toEqual({
        "eventfold.stream_ids": [ada, bob],
        "eventfold.expected": ["no stream", "any"],
        "eventfold.events": 3,
        "eventfold.versions": [2, 1],
        "eventfold.positions": [1, 3]
      })
    }).pipe(Effect.provide(instrumentedMemory())))

  it.effect("traces a refused append with the stream that conflicted and its actual version", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({ streamId: ada, expected: ExpectedVersion.noStream, events: [deposit(1)] })
      const { spans } = yield* recordingSpans(
        Effect.flip(store.append({ streamId: ada, expected: ExpectedVersion.noStream, events: [deposit(2)] }))
      )
      const append = spans.find((s) => s.name === "eventfold.append")
      expect(append!.attributes.get("eventfold.conflict_stream_id")).toBe(ada)
      expect(append!.attributes.get("eventfold.conflict_actual")).toBe(1)
      expect(append!.status._tag === "Ended" && append!.status.exit._tag).toBe("Failure")
    }).pipe(Effect.provide(instrumentedMemory())))
})
