import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, ParseResult, Schema, Stream } from "effect"
import { Cursor, Event, EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { readFileSync } from "node:fs"

// The current events.
class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.String, currency: Schema.String }) {}
class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
const AccountEvent = Schema.Union(Opened, Deposited)

// v1 stored "AccountOpened" with { name }; v2 stored "Opened" with { owner } and no currency.
const OpenedV1 = EventCodec.version(Schema.Struct({ name: Schema.String }), (v1) => new Opened({ owner: v1.name, currency: "EUR" }))
const OpenedV2 = EventCodec.version(Schema.Struct({ owner: Schema.String }), (v2) => new Opened({ owner: v2.owner, currency: "EUR" }))
// v1 of "Deposited" stored the amount in cents as a string: a Schema.transform written by hand
const DepositedV1 = EventCodec.version(
  Schema.transform(Schema.Struct({ cents: Schema.NumberFromString }), Schema.typeSchema(Deposited), {
    strict: true,
    decode: (v1) => new Deposited({ amount: v1.cents / 100 }),
    encode: (current) => ({ cents: current.amount * 100 })
  })
)

const codec = EventCodec.make(AccountEvent, {
  versions: { AccountOpened: [OpenedV1], Opened: [OpenedV2], Deposited: [DepositedV1] }
})

const streamId = StreamId.unsafeMake("account-ada")
let counter = 0
/** A row as an old version of the program wrote it: raw type and JSON, no codec involved. */
const raw = (type: string, data: string): Event.EventData => ({
  eventId: Event.EventId.make(`00000000-0000-4000-8000-${String(++counter).padStart(12, "0")}`),
  type,
  data,
  metadata: "{}"
})

describe("EventCodec versions: typed schema evolution", () => {
  it.effect("rows stored in old shapes read back as current events, next to current rows", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({
        streamId,
        expected: ExpectedVersion.noStream,
        events: [
          raw("AccountOpened", "{\"name\":\"Ada\"}"),
          raw("Opened", "{\"owner\":\"Bo\"}"),
          raw("Opened", "{\"owner\":\"Cy\",\"currency\":\"USD\"}"),
          raw("Deposited", "{\"cents\":\"1250\"}"),
          raw("Deposited", "{\"amount\":3}")
        ]
      })
      const typed = yield* EventStore.typed(codec)
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(typed.read(streamId)))
      expect(events.map((e) => e.data)).toEqual([
        new Opened({ owner: "Ada", currency: "EUR" }),
        new Opened({ owner: "Bo", currency: "EUR" }),
        new Opened({ owner: "Cy", currency: "USD" }),
        new Deposited({ amount: 12.5 }),
        new Deposited({ amount: 3 })
      ])
      expect(events[0]!.data).toBeInstanceOf(Opened)
      // the envelope keeps what was stored
      expect(events.map((e) => [e.type, e.version])).toEqual([["AccountOpened", 1], ["Opened", 2], ["Opened", 3], ["Deposited", 4], ["Deposited", 5]])
    }).pipe(Effect.provide(MemoryEventStore.layer())))

  it.effect("a row that matches no version fails with EventDecodeError naming stream, version and type", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({
        streamId,
        expected: ExpectedVersion.noStream,
        events: [raw("Opened", "{\"owner\":\"Ada\"}"), raw("Opened", "{\"holder\":\"Bo\"}")]
      })
      const typed = yield* EventStore.typed(codec)
      const error = yield* Effect.flip(Stream.runDrain(typed.read(streamId)))
      expect(error).toMatchObject({ _tag: "EventDecodeError", streamId: "account-ada", version: 2, type: "Opened" })
      if (error._tag !== "EventDecodeError") return
      expect(ParseResult.isParseError(error.cause)).toBe(true)
      expect(error.message).toContain("matches neither the current schema of \"Opened\" nor any of its 1 old version(s)")
      expect(error.message).toContain("version 1:")
      expect(error.message).toContain("at version 2 of stream \"account-ada\"")
    }).pipe(Effect.provide(MemoryEventStore.layer())))

  it("an old stored type with no declared version is still an unknown type", () => {
    const row: Event.StoredEvent = {
      ...raw("AccountClosed", "{}"),
      streamId,
      version: 7,
      position: 9,
      cursor: Cursor.Cursor.make("9"),
      recordedAt: new Date(0)
    }
    const error = Either.getLeft(codec.decode(row))
    expect(error._tag).toBe("Some")
    if (error._tag === "Some") expect(error.value).toMatchObject({ _tag: "EventDecodeError", version: 7, position: 9, type: "AccountClosed" })
  })

  it("the raw upcaster runs first, and versions are keyed by the type it hands back", () => {
    const renamed = EventCodec.make(AccountEvent, {
      upcast: EventCodec.upcasters({ Created: (data) => ({ type: "AccountOpened", data }) }),
      versions: { AccountOpened: [OpenedV1] }
    })
    const row: Event.StoredEvent = { ...raw("Created", "{\"name\":\"Ada\"}"), streamId, version: 1, position: 1, cursor: Cursor.Cursor.make("1"), recordedAt: new Date(0) }
    expect(Either.getOrThrow(renamed.decode(row)).data).toEqual(new Opened({ owner: "Ada", currency: "EUR" }))
  })

  it("an old TaggedClass may serve as the old shape: the stored type name is its tag", () => {
    class AccountOpenedV1 extends Schema.TaggedClass<AccountOpenedV1>()("AccountOpened", { name: Schema.String }) {}
    const fromClass = EventCodec.make(AccountEvent, {
      versions: { AccountOpened: [EventCodec.version(AccountOpenedV1, (v1) => new Opened({ owner: v1.name, currency: "GBP" }))] }
    })
    const row: Event.StoredEvent = { ...raw("AccountOpened", "{\"name\":\"Ada\"}"), streamId, version: 1, position: 1, cursor: Cursor.Cursor.make("1"), recordedAt: new Date(0) }
    expect(Either.getOrThrow(fromClass.decode(row)).data).toEqual(new Opened({ owner: "Ada", currency: "GBP" }))
  })

  it("a version must decode into one of the codec's events (checked by the compiler)", () => {
    const toString = EventCodec.version(Schema.Struct({ name: Schema.String }), (v1) => v1.name)
    // @ts-expect-error a string is not an account event
    const wrong = EventCodec.make(AccountEvent, { versions: { AccountOpened: [toString] } })
    expect(typeof wrong.decode).toBe("function")
  })

  it("encoding always writes the current shape", () => {
    expect(Either.getOrThrow(codec.encode(new Opened({ owner: "Ada", currency: "EUR" })))).toEqual({
      type: "Opened",
      data: "{\"owner\":\"Ada\",\"currency\":\"EUR\"}"
    })
  })
})

describe("README: Schema evolution", () => {
  it("shows the versions this file tests, word for word", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const start = readme.indexOf("## Schema evolution")
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1))
    const snippets = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)
    expect(snippets).toHaveLength(1)
    expect(readFileSync(new URL(import.meta.url), "utf8")).toContain(snippets[0]!)
  })
})
