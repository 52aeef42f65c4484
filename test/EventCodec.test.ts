import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { Event, EventCodec, StreamId } from "eventfold"

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
        expect(error.value.cause._tag).toBe("ParseError")
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
      expect(data.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      const other = yield* EventCodec.toEventData(codec, new Opened({ owner: "Ada" }))
      expect(other.eventId).not.toBe(data.eventId)
      expect(other.metadata).toBe("{}")
    }))
})
