import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Schema, Stream } from "effect"
import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { Arbitraries } from "eventfold/testing"

class Moved extends Schema.TaggedClass<Moved>()("Moved", { x: Schema.Int, y: Schema.Int }) {}
class Named extends Schema.TaggedClass<Named>()("Named", { name: Schema.String }) {}
const Shape = Schema.Union(Moved, Named)
const codec = EventCodec.make(Shape)
const shapes = fc.oneof(
  fc.record({ x: fc.integer(), y: fc.integer() }).map((p) => new Moved(p)),
  fc.string().map((name) => new Named({ name }))
)

describe("Arbitraries", () => {
  it.prop("every generated stream id is valid", [Arbitraries.streamId], ([id]) => Either.isRight(StreamId.either(id)))

  it.prop("every generated invalid stream id is rejected", [Arbitraries.invalidStreamId], ([id]) => Either.isLeft(StreamId.either(id)))

  it.prop("generated envelopes decode back to the event they were made from", [Arbitraries.eventData(codec, shapes)], ([data]) => {
    const decoded = codec.decode({
      ...data,
      streamId: StreamId.unsafeMake("s"),
      version: 1,
      position: 1,
      recordedAt: new Date(0)
    })
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isRight(decoded)) expect(Either.getOrThrow(codec.encode(decoded.right.data)).data).toBe(data.data)
  })

  it.effect.prop(
    "the memory store accepts an append exactly when ExpectedVersion.matches says so",
    [fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), Arbitraries.expectedVersion(5), fc.integer({ min: 0, max: 3 })), { maxLength: 25 })],
    ([steps]) =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const ids = ["s0", "s1", "s2"].map(StreamId.unsafeMake)
        const model = [0, 0, 0]
        for (const [which, expected, count] of steps) {
          const events = yield* Effect.forEach(Array.from({ length: count }, (_, i) => new Named({ name: `e${i}` })), (e) =>
            Effect.orDie(EventCodec.toEventData(codec, e)))
          const result = yield* Effect.either(store.append({ streamId: ids[which]!, expected, events }))
          const shouldPass = ExpectedVersion.matches(expected, model[which]!)
          expect(Either.isRight(result)).toBe(shouldPass)
          if (shouldPass) model[which] = model[which]! + count
          else expect(Either.getLeft(result)).toMatchObject({ value: { _tag: "WrongExpectedVersion", actual: model[which] } })
        }
        for (const [i, id] of ids.entries()) expect(yield* Stream.runCount(store.read(id))).toBe(model[i])
      }).pipe(Effect.provide(MemoryEventStore.layer))
  )
})
