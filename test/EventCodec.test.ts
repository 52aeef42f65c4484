import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Schema, Stream } from "effect"
import { Cursor, Event, EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"

class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.String }) {}
class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", {
  amount: Schema.Number,
  at: Schema.DateFromString
}) {}
const AccountEvent = Schema.Union(Opened, Deposited)

const row = (type: string, data: string, metadata = "{}"): Event.StoredEvent => ({
  streamId: StreamId.unsafeMake("account-1"),
  version: 4,
  position: 17,
  cursor: Cursor.Cursor.make("17"),
  eventId: Event.EventId.make("5f0c4c5e-8a4b-4b9e-9a57-0d1f0b6e2a11"),
  type,
  data,
  metadata,
  recordedAt: new Date(0)
})

describe("EventCodec", () => {
  const codec = EventCodec.make(AccountEvent)

  it("encodes an event to its tag and the JSON of its encoded fields", () => {
    const encoded = Either.getOrThrow(codec.encode(new Deposited({ amount: 5, at: new Date("2026-01-01T00:00:00.000Z") })))
    expect(encoded).toEqual({ type: "Deposited", data: "{\"amount\":5,\"at\":\"2026-01-01T00:00:00.000Z\"}" })
  })

  it("decodes a row back into the domain event with its envelope", () => {
    const decoded = Either.getOrThrow(codec.decode(row("Deposited", "{\"amount\":5,\"at\":\"2026-01-01T00:00:00.000Z\"}", "{\"by\":\"ada\"}")))
    expect(decoded.data).toEqual(new Deposited({ amount: 5, at: new Date("2026-01-01T00:00:00.000Z") }))
    expect(decoded.data).toBeInstanceOf(Deposited)
    expect(decoded).toMatchObject({ streamId: "account-1", version: 4, position: 17, type: "Deposited", metadata: { by: "ada" } })
  })

  const failures: ReadonlyArray<readonly [string, string, string, string]> = [
    ["bad JSON", "Opened", "{\"owner\":", "JSON"],
    ["an unknown type", "Closed", "{}", "Closed"],
    ["a payload that does not match", "Opened", "{\"owner\":42}", "owner"],
    ["a payload that is not an object", "Opened", "\"ada\"", "JSON object"]
  ]
  for (const [label, type, data, mention] of failures) {
    it(`${label} gives EventDecodeError naming stream, version, position and type`, () => {
      const error = Either.getLeft(codec.decode(row(type, data)))
      expect(error._tag).toBe("Some")
      if (error._tag === "Some") {
        expect(error.value).toMatchObject({ _tag: "EventDecodeError", streamId: "account-1", version: 4, position: 17, type })
        expect(error.value.cause).toMatchObject({ _tag: "ParseError" })
        expect(error.value.message).toContain(mention)
      }
    })
  }

  it("metadata that is not a JSON object gives EventDecodeError", () => {
    expect(Either.isLeft(codec.decode(row("Opened", "{\"owner\":\"ada\"}", "[1]")))).toBe(true)
  })

  it("an upcaster renames old types and reshapes old payloads before decoding", () => {
    const upcasting = EventCodec.make(AccountEvent, {
      upcast: EventCodec.upcasters({
        AccountOpened: (data) => ({ type: "Opened", data: { owner: (data as { name: string }).name } }),
        Deposited: (data) => ({ type: "Deposited", data: { at: "2020-01-01T00:00:00.000Z", ...(data as object) } })
      })
    })
    const opened = Either.getOrThrow(upcasting.decode(row("AccountOpened", "{\"name\":\"Ada\"}")))
    expect(opened.data).toEqual(new Opened({ owner: "Ada" }))
    const legacy = Either.getOrThrow(upcasting.decode(row("Deposited", "{\"amount\":3}")))
    expect(legacy.data).toEqual(new Deposited({ amount: 3, at: new Date("2020-01-01T00:00:00.000Z") }))
    expect(Either.getOrThrow(upcasting.decode(row("Opened", "{\"owner\":\"Bo\"}"))).data).toEqual(new Opened({ owner: "Bo" }))
  })

  it.effect("toEventData encodes, fills a fresh UUID and the metadata", () =>
    Effect.gen(function*() {
      const data = yield* EventCodec.toEventData(codec, new Opened({ owner: "Ada" }), { metadata: { user: "u1" } })
      expect(data.type).toBe("Opened")
      expect(JSON.parse(data.data)).toEqual({ owner: "Ada" })
      expect(JSON.parse(data.metadata)).toEqual({ user: "u1" })
      expect(data.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      const other = yield* EventCodec.toEventData(codec, new Opened({ owner: "Ada" }))
      expect(other.eventId).not.toBe(data.eventId)
      expect(other.metadata).toBe("{}")
    }))

  describe("encoding refuses what JSON cannot carry, so nothing unreadable is stored", () => {
    class Measured extends Schema.TaggedClass<Measured>()("Measured", { value: Schema.Number }) {}
    class Counted extends Schema.TaggedClass<Counted>()("Counted", { count: Schema.BigIntFromSelf }) {}
    class Stamped extends Schema.TaggedClass<Stamped>()("Stamped", { at: Schema.DateFromSelf }) {}
    const odd = EventCodec.make(Schema.Union(Measured, Counted, Stamped))

    it("NaN and Infinity (JSON writes them as null) are refused, naming the field", () => {
      for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = Either.getLeft(odd.encode(new Measured({ value })))
        expect(error._tag).toBe("Some")
        expect(error.pipe((o) => o._tag === "Some" && o.value.message)).toContain(`data.value is ${value} (JSON writes it as null)`)
      }
      expect(Either.getOrThrow(odd.encode(new Measured({ value: 1.5 })))).toEqual({ type: "Measured", data: "{\"value\":1.5}" })
    })

    it("a bigint (JSON.stringify throws) fails with a ParseError, not an exception", () => {
      const error = Either.getLeft(odd.encode(new Counted({ count: 10n })))
      expect(error.pipe((o) => o._tag === "Some" && o.value.message)).toContain("data.count is a bigint")
    })

    it("a Date object under DateFromSelf (JSON writes a string) is refused, naming the field", () => {
      const error = Either.getLeft(odd.encode(new Stamped({ at: new Date(0) })))
      expect(error.pipe((o) => o._tag === "Some" && o.value.message)).toContain("data.at is a Date object")
    })

    class Noted extends Schema.TaggedClass<Noted>()("Noted", { note: Schema.Unknown }) {}
    const loose = EventCodec.make(Noted)
    const refusedAt = (note: unknown): string => {
      const error = Either.getLeft(loose.encode(new Noted({ note })))
      return error._tag === "Some" ? error.value.message : "encoded"
    }
    const lossy: ReadonlyArray<readonly [string, unknown, string]> = [
      ["a function", { items: [1, 2, { when: () => 1 }] }, "data.note.items[2].when is a function"],
      ["undefined in an object", { items: [{ when: undefined }] }, "data.note.items[0].when is undefined"],
      ["undefined in an array", [1, undefined], "data.note[1] is undefined"],
      ["a Map", { byOwner: new Map([["ada", 1]]) }, "data.note.byOwner is a Map (JSON writes it as {})"],
      ["a Set", new Set([1]), "data.note is a Set"],
      ["a Date", { items: [0, 1, { when: new Date(0) }] }, "data.note.items[2].when is a Date object"],
      ["a class instance", { at: new URL("https://example.org") }, "data.note.at is an instance of URL"],
      ["a symbol", { s: Symbol("s") }, "data.note.s is a symbol"],
      ["a key that is not an identifier", { "two words": Number.NaN }, "data.note[\"two words\"] is NaN"]
    ]
    for (const [label, note, message] of lossy) {
      it(`with a Schema.Unknown field, ${label} is refused, naming its path`, () => {
        expect(refusedAt(note)).toContain(message)
      })
    }

    it("a cycle is refused, naming where the value contains itself", () => {
      const cyclic: { self?: unknown } = {}
      cyclic.self = { back: cyclic }
      expect(refusedAt(cyclic)).toContain("data.note.self.back is a cycle")
    })

    it("plain JSON under Schema.Unknown is written as it is, shared references included", () => {
      const shared = { n: 1 }
      const note = { a: shared, b: shared, list: [null, true, "x", -2.5, { deep: [[]] }], empty: Object.create(null) }
      const encoded = Either.getOrThrow(loose.encode(new Noted({ note })))
      expect(encoded.type).toBe("Noted")
      expect(JSON.parse(encoded.data)).toEqual({ note: { a: { n: 1 }, b: { n: 1 }, list: [null, true, "x", -2.5, { deep: [[]] }], empty: {} } })
    })

    it.effect("a typed append of a lossy event fails with EventEncodeError naming stream and path, and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.typed(loose)
        const streamId = StreamId.unsafeMake("lossy")
        const error = yield* Effect.flip(store.append({ streamId, expected: ExpectedVersion.any, events: [new Noted({ note: 1 }), new Noted({ note: { when: new Date(0) } })] }))
        expect(error).toMatchObject({ _tag: "EventEncodeError", streamId: "lossy" })
        expect(error.message).toContain("data.note.when is a Date object")
        expect(yield* Stream.runCount(store.read(streamId))).toBe(0)
      }).pipe(Effect.provide(MemoryEventStore.layer())))

    it("metadata JSON cannot carry faithfully is refused, naming its path", () => {
      const error = Either.getLeft(EventCodec.encodeMetadata({ trace: { at: new Date(0) } }))
      expect(error.pipe((o) => o._tag === "Some" && o.value.message)).toContain("metadata.trace.at is a Date object")
      expect(Either.getOrThrow(EventCodec.encodeMetadata({ user: "u1", n: [1] }))).toBe("{\"user\":\"u1\",\"n\":[1]}")
    })

    it.effect("a typed append of such an event fails with EventEncodeError and writes nothing", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.typed(odd)
        const streamId = StreamId.unsafeMake("odd")
        const error = yield* Effect.flip(store.append({ streamId, expected: ExpectedVersion.any, events: [new Measured({ value: 1 }), new Counted({ count: 1n })] }))
        expect(error).toMatchObject({ _tag: "EventEncodeError", streamId: "odd" })
        expect(yield* Stream.runCount(store.read(streamId))).toBe(0)
      }).pipe(Effect.provide(MemoryEventStore.layer())))

    it.effect("metadata that JSON cannot write fails toEventData typed", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(EventCodec.toEventData(odd, new Measured({ value: 1 }), { metadata: { n: 1n } }))
        expect(error._tag).toBe("ParseError")
      }))
  })

  it("an upcaster may return a frozen object; the row still decodes", () => {
    const frozen = EventCodec.make(AccountEvent, {
      upcast: EventCodec.upcasters({ Created: (data) => ({ type: "Opened", data: Object.freeze({ owner: (data as { name: string }).name }) }) })
    })
    const decoded = Either.getOrThrow(frozen.decode(row("Created", "{\"name\":\"Ada\"}")))
    expect(decoded.data).toEqual(new Opened({ owner: "Ada" }))
    expect(decoded.type).toBe("Created")
  })

  it.effect("typed appends use the event ids a write names, so a retried append is refused as a duplicate", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.typed(codec)
      const streamId = StreamId.unsafeMake("idempotent")
      const eventIds = [Event.EventId.make("0b7e8f5a-3c1d-4e2f-9a8b-7c6d5e4f3a2b")]
      const write = { streamId, expected: ExpectedVersion.any, events: [new Opened({ owner: "Ada" })], eventIds }
      yield* store.append(write)
      const again = yield* Effect.flip(store.append(write))
      expect(again).toMatchObject({ _tag: "DuplicateEventId", eventId: eventIds[0] })
      const stored = yield* Stream.runCollect(store.read(streamId))
      expect(Chunk.toReadonlyArray(stored).map((e) => e.eventId)).toEqual(eventIds)
    }).pipe(Effect.provide(MemoryEventStore.layer())))
})
