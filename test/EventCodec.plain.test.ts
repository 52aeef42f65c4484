import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import { EventCodec, StreamId } from "eventfold"
import type { Cursor, Event } from "eventfold"

const Opened = Schema.TaggedStruct("Opened", { owner: Schema.String, limit: Schema.Number, vip: Schema.Boolean, tier: Schema.Literal("gold") })
const Closed = Schema.TaggedStruct("Closed", { reason: Schema.String })
const plain = Schema.Union(Opened, Closed)

/** A stored row with this type and JSON payload. */
const row = (type: string, data: string): Event.StoredEvent => ({
  streamId: StreamId.unsafeMake("plain"),
  version: 1,
  position: 1,
  cursor: "1" as Cursor.Cursor,
  eventId: "00000000-0000-4000-8000-000000000001" as Event.EventId,
  type,
  data,
  metadata: "{}",
  recordedAt: new Date(0)
})

/** What Schema itself makes of the payload: the decoded event, or the ParseError's message. */
const bySchema = (type: string, data: string) =>
  Either.match(Schema.decodeUnknownEither(plain)({ ...(JSON.parse(data) as object), _tag: type }), {
    onLeft: (error) => ({ error: error.message }),
    onRight: (event) => ({ event })
  })

const byCodec = (codec: EventCodec.EventCodec<typeof plain.Type>, type: string, data: string) =>
  Either.match(codec.decode(row(type, data)), {
    onLeft: (error) => ({ error: (error.cause as { readonly message: string }).message }),
    onRight: (event) => ({ event: event.data })
  })

const value = fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.constant("gold"), fc.constant([1]), fc.constant({}))
const payload = fc.record(
  { owner: value, limit: value, vip: value, tier: value, reason: value, extra: value },
  { requiredKeys: [] }
)

describe("EventCodec: structs of primitive fields decode by a field check", () => {
  it("decodes every payload as Schema does: the same event (keys and order) or the same error", () => {
    const codec = EventCodec.make(plain)
    fc.assert(
      fc.property(fc.constantFrom("Opened", "Closed", "Unknown"), payload, (type, fields) => {
        const data = JSON.stringify(fields)
        const expected = bySchema(type, data)
        const actual = byCodec(codec, type, data)
        expect(actual).toEqual(expected)
        if ("event" in expected && "event" in actual) expect(Object.keys(actual.event)).toEqual(Object.keys(expected.event))
      }),
      { numRuns: 2000 }
    )
  })

  it("drops fields the schema does not name, as Schema does", () => {
    const decoded = EventCodec.make(plain).decode(row("Closed", `{"reason":"done","extra":1,"__proto__":{"x":1}}`))
    expect(Either.getOrThrow(decoded).data).toStrictEqual({ _tag: "Closed", reason: "done" })
  })

  it("leaves refined, transformed and optional fields to Schema", () => {
    const Refined = Schema.TaggedStruct("Refined", { n: Schema.Number.pipe(Schema.int()) })
    const Dated = Schema.TaggedStruct("Dated", { at: Schema.DateFromString })
    const Optional = Schema.TaggedStruct("Optional", { note: Schema.optional(Schema.String) })
    const codec = EventCodec.make(Schema.Union(Refined, Dated, Optional))
    expect(Either.isLeft(codec.decode(row("Refined", `{"n":1.5}`)))).toBe(true)
    expect(Either.getOrThrow(codec.decode(row("Dated", `{"at":"2020-01-01T00:00:00.000Z"}`))).data).toEqual({
      _tag: "Dated",
      at: new Date("2020-01-01T00:00:00.000Z")
    })
    expect(Either.getOrThrow(codec.decode(row("Optional", `{}`))).data).toStrictEqual({ _tag: "Optional" })
  })
})

describe("EventCodec: structs of primitive fields encode by a field check", () => {
  const schemaEncode = (event: unknown) =>
    Either.match(Schema.encodeUnknownEither(plain)(event), {
      onLeft: () => ({ refused: true }),
      onRight: (encoded) => {
        const { _tag, ...fields } = encoded
        // what the store keeps: the fields without the tag, as JSON (non-finite numbers are refused)
        return Object.values(fields).some((v) => typeof v === "number" && !Number.isFinite(v))
          ? { refused: true }
          : { type: _tag, data: JSON.stringify(fields) }
      }
    })

  it("writes every event as Schema and JSON.stringify do, and refuses what they refuse", () => {
    const codec = EventCodec.make(plain)
    const number = fc.oneof(fc.double(), fc.constant(-0), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY))
    const field = fc.oneof(fc.string(), number, fc.boolean(), fc.constant(null), fc.constant("gold"), fc.constant(undefined))
    const event = fc.record(
      { _tag: fc.constantFrom("Opened", "Closed", "Other"), owner: field, limit: field, vip: field, tier: field, reason: field, extra: field },
      { requiredKeys: ["_tag"] }
    )
    fc.assert(
      fc.property(event, (e) => {
        const expected = schemaEncode(e)
        const actual = Either.match(codec.encode(e as typeof plain.Type), {
          onLeft: () => ({ refused: true }),
          onRight: (encoded) => ({ type: encoded.type, data: encoded.data })
        })
        expect(actual).toEqual(expected)
      }),
      { numRuns: 3000 }
    )
  })
})
