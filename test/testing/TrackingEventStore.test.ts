import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { TrackingEventStore } from "eventfold/testing"
import { StoreContract } from "eventfold/testing/vitest"
import { Schema } from "effect"

const tracked = () => TrackingEventStore.layer.pipe(Layer.provideMerge(MemoryEventStore.layer()))

StoreContract.suite("TrackingEventStore over memory", { makeStore: tracked })

class Noted extends Schema.TaggedClass<Noted>()("Noted", { text: Schema.String }) {}
const codec = EventCodec.make(Noted)

describe("TrackingEventStore", () => {
  it.effect("records successful appends with their streams, versions and events, and not failed ones", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.typed(codec)
      const a = StreamId.unsafeMake("notes-a")
      const b = StreamId.unsafeMake("notes-b")
      yield* store.append({ streamId: a, expected: ExpectedVersion.noStream, events: [new Noted({ text: "one" })] })
      yield* store.append([
        { streamId: a, expected: ExpectedVersion.unsafeExact(1), events: [new Noted({ text: "two" }), new Noted({ text: "three" })] },
        { streamId: b, expected: ExpectedVersion.noStream, events: [] }
      ])
      const failed = yield* Effect.flip(
        store.append({ streamId: a, expected: ExpectedVersion.noStream, events: [new Noted({ text: "lost" })] })
      )
      expect(failed._tag).toBe("WrongExpectedVersion")

      const appends = yield* TrackingEventStore.appends
      expect(appends).toHaveLength(2)
      expect(appends[1]!.writes.map((w) => [w.streamId, w.firstVersion, w.events.map((e) => JSON.parse(e.data).text)])).toEqual([
        ["notes-a", 2, ["two", "three"]],
        ["notes-b", 1, []]
      ])
      expect(appends[0]!.result.streams).toEqual([{ streamId: "notes-a", version: 1 }])

      yield* TrackingEventStore.clear
      expect(yield* TrackingEventStore.appends).toEqual([])
    }).pipe(Effect.provide(tracked())))
})
