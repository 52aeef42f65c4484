import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema, Stream } from "effect"
import { Cursor, Event, EventCodec, EventStore, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", {
  amount: Schema.Number,
  note: Schema.optional(Schema.String),
  tags: Schema.optional(Schema.Array(Schema.Unknown))
}) {}
const codec = EventCodec.make(Deposited)

const row = (data: string, metadata = "{}"): Event.StoredEvent => ({
  streamId: StreamId.unsafeMake("account-1"),
  version: 4,
  position: 17,
  cursor: Cursor.Cursor.make("17"),
  eventId: Event.EventId.make("5f0c4c5e-8a4b-4b9e-9a57-0d1f0b6e2a11"),
  type: "Deposited",
  data,
  metadata,
  recordedAt: new Date(0)
})

const decodeError = (stored: Event.StoredEvent): StoreError.EventDecodeError =>
  Either.match(codec.decode(stored), {
    onLeft: (error) => error,
    onRight: (decoded) => expect.unreachable(`decoded ${JSON.stringify(decoded.data)}`)
  })

describe("EventCodec: stored numbers too large for a double", () => {
  it("a stored 1e400 (which JSON.parse reads as Infinity) fails with EventDecodeError naming stream, version and path", () => {
    for (const [data, path] of [
      ["{\"amount\":1e400}", "data.amount"],
      ["{\"amount\":-1E+400}", "data.amount"],
      [`{"amount":${"9".repeat(400)}}`, "data.amount"],
      ["{\"amount\":1,\"tags\":[1,{\"x\":2e308}]}", "data.tags[1].x"]
    ] as const) {
      const error = decodeError(row(data))
      expect(error, data).toBeInstanceOf(StoreError.EventDecodeError)
      expect(error, data).toMatchObject({ streamId: "account-1", version: 4, position: 17, type: "Deposited" })
      expect(error.message, data).toContain(path)
      expect(error.message, data).toContain("Infinity")
    }
  })

  it("metadata holding 1e400 fails the same way", () => {
    const error = decodeError(row("{\"amount\":1}", "{\"weight\":1e400}"))
    expect(error).toMatchObject({ streamId: "account-1", version: 4 })
    expect(error.message).toContain("metadata.weight")
  })

  it("large but finite numbers, underflow to 0 and exponent-like text in strings decode as before", () => {
    const decoded = (data: string) => Either.getOrThrow(codec.decode(row(data))).data
    expect(decoded("{\"amount\":1e308}").amount).toBe(1e308)
    expect(decoded("{\"amount\":1e-400}").amount).toBe(0)
    expect(decoded(`{"amount":1,"note":"e999 and ${"1".repeat(400)}"}`).note).toBe(`e999 and ${"1".repeat(400)}`)
  })

  it.effect("on the memory store, a raw row with 1e400 text reads back as a typed EventDecodeError, not Infinity", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const streamId = StreamId.unsafeMake("overflow")
      const raw = (data: string): Event.EventData => ({
        eventId: Event.EventId.make(crypto.randomUUID(), { disableValidation: true }),
        type: "Deposited",
        data,
        metadata: "{}"
      })
      yield* store.append({ streamId, expected: ExpectedVersion.noStream, events: [raw("{\"amount\":1}"), raw("{\"amount\":1e400}")] })
      const error = yield* Effect.flip(Stream.runCollect(store.read(streamId).pipe(EventStore.decode(codec))))
      expect(error).toBeInstanceOf(StoreError.EventDecodeError)
      expect(error).toMatchObject({ _tag: "EventDecodeError", streamId: "overflow", version: 2, type: "Deposited" })
      expect(error.message).toContain("data.amount")
    }).pipe(Effect.provide(MemoryEventStore.layer())))
})
