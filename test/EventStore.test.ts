import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schema, Stream } from "effect"
import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
const codec = EventCodec.make(Deposited)
const streamId = StreamId.unsafeMake("account-1")

describe("EventStore", () => {
  it.effect("decode works data-last in a pipe and data-first, with the same events", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* EventStore.typedFrom(store, codec).append({
        streamId,
        expected: ExpectedVersion.noStream,
        events: [new Deposited({ amount: 1 }), new Deposited({ amount: 2 })]
      })
      const piped = yield* Stream.runCollect(store.read(streamId).pipe(EventStore.decode(codec)))
      const direct = yield* Stream.runCollect(EventStore.decode(store.read(streamId), codec))
      expect(Chunk.toReadonlyArray(piped).map((e) => e.data)).toEqual([new Deposited({ amount: 1 }), new Deposited({ amount: 2 })])
      expect(Chunk.toReadonlyArray(direct).map((e) => e.data)).toEqual(Chunk.toReadonlyArray(piped).map((e) => e.data))
    }).pipe(Effect.provide(MemoryEventStore.layer())))

  it.effect("typed (from context) and typedFrom (a given store) read the same events", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const fromContext = yield* EventStore.typed(codec)
      yield* fromContext.append({ streamId, expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 5 })] })
      const viaFrom = yield* Stream.runCollect(EventStore.typedFrom(store, codec).read(streamId))
      expect(Chunk.toReadonlyArray(viaFrom).map((e) => [e.version, e.data.amount])).toEqual([[1, 5]])
    }).pipe(Effect.provide(MemoryEventStore.layer())))
})
