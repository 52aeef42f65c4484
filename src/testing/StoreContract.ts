/**
 * The store contract suite: one function that registers the whole behaviour
 * every `EventStore` must have with `@effect/vitest`. Every backend in eventfold
 * runs it; a third-party backend can run it too.
 *
 * In a test file, run by vitest (it registers tests, so it has no example that
 * runs outside a vitest run; the repository's own backends use it in
 * test/{sqlite,postgres,file}/contract.test.ts):
 *
 * ```ts
 * // test/MyStore.test.ts
 * import { StoreContract } from "eventfold/testing/vitest"
 * import { MyEventStore } from "my-eventfold-backend"
 *
 * StoreContract.suite("MyEventStore", { makeStore: () => MyEventStore.layer() })
 * ```
 *
 * @since 0.1.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Arr from "effect/Array"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Layer from "effect/Layer"
import { Cursor, Event, EventCodec, EventStore, ExpectedVersion, StoreError, StreamId } from "../index.ts"
import * as SubscriptionContract from "./SubscriptionContract.ts"

/**
 * What the suite needs from a backend.
 *
 * Besides `read`, `readAll` and `append`, the suite checks that reads are lazy by
 * watching the `EventStore.rowsFetched` counter: a backend must increment it by
 * the number of rows each page query returns (`Metric.incrementBy(EventStore.rowsFetched, rows.length)`),
 * when the page is fetched. A backend that never increments it fails the suite.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E> {
  /** A layer with a fresh, empty store. Called once per test. */
  readonly makeStore: () => Layer.Layer<EventStore.EventStore, E>
  /**
   * Whether the store has a read side (`EventStore.Service["readSide"]`): then
   * the subscription and projection cases of `SubscriptionContract` run too.
   * Default `true`.
   *
   * @since 0.2.0
   */
  readonly readSide?: boolean | undefined
}

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
const AccountEvent = Schema.Union(Deposited, Withdrawn)
type AccountEvent = typeof AccountEvent.Type
const codec = EventCodec.make(AccountEvent)

const sid = StreamId.unsafeMake

/** `n` encoded `Deposited` events with amounts `first`, `first + 1`, ... */
const deposits = (n: number, first = 1): Effect.Effect<Array<Event.EventData>> =>
  Effect.forEach(Arr.range(first, first + n - 1), (amount) =>
    Effect.orDie(EventCodec.toEventData(codec, new Deposited({ amount }))))

const raw = (type: string, data: string, metadata = "{}"): Effect.Effect<Event.EventData> =>
  Effect.map(Event.makeEventId, (eventId) => ({ eventId, type, data, metadata }))

const write = (streamId: StreamId.StreamId, expected: ExpectedVersion.ExpectedVersion, events: Array<Event.EventData>) => ({
  streamId,
  expected,
  events
})

const versionsOf = (events: Chunk.Chunk<Event.StoredEvent>) => Chunk.toReadonlyArray(events).map((e) => e.version)

const readVersions = (streamId: StreamId.StreamId, options?: EventStore.ReadOptions) =>
  Effect.flatMap(EventStore.EventStore, (store) => Stream.runCollect(store.read(streamId, options))).pipe(
    Effect.map(versionsOf)
  )

const appendDeposits = (streamId: StreamId.StreamId, n: number, expected = ExpectedVersion.any, batch = 1000) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    let written = 0
    let current = expected
    while (written < n) {
      const size = Math.min(batch, n - written)
      const events = yield* deposits(size, written + 1)
      const result = yield* store.append(write(streamId, current, events))
      written += size
      current = ExpectedVersion.any
      if (written >= n) return result
    }
    return yield* store.append(write(streamId, current, []))
  })

const fetchedSoFar = Effect.map(Metric.value(EventStore.rowsFetched), (state) => state.count)

/**
 * Registers the contract suite for one backend.
 *
 * @since 0.1.0
 * @category combinators
 */
export const suite = <E>(name: string, options: Options<E>): void => {
  const run = <A, E>(self: Effect.Effect<A, E, EventStore.EventStore>) => Effect.provide(self, options.makeStore())

  describe(`${name} store contract`, () => {
    describe("read", () => {
      it.live("a stream that was never written reads as empty", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const forward = yield* Stream.runCollect(store.read(sid("nobody-here")))
          const backward = yield* Stream.runCollect(store.read(sid("nobody-here"), { direction: "backward" }))
          expect(Chunk.size(forward)).toBe(0)
          expect(Chunk.size(backward)).toBe(0)
        })))

      it.live("events come back in version order with their data, type and ids", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const events = yield* deposits(5)
          yield* store.append(write(sid("ordered"), ExpectedVersion.noStream, events))
          const read = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(sid("ordered"))))
          expect(read.map((e) => e.version)).toEqual([1, 2, 3, 4, 5])
          expect(read.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId))
          expect(read.map((e) => e.type)).toEqual(["Deposited", "Deposited", "Deposited", "Deposited", "Deposited"])
          expect(read.map((e) => JSON.parse(e.data))).toEqual([1, 2, 3, 4, 5].map((amount) => ({ amount })))
          expect(read.every((e) => e.streamId === "ordered")).toBe(true)
        })))

      it.live("from, direction and pageSize are honoured", () =>
        run(Effect.gen(function*() {
          yield* appendDeposits(sid("paged"), 23)
          expect(yield* readVersions(sid("paged"), { from: 20 })).toEqual([20, 21, 22, 23])
          expect(yield* readVersions(sid("paged"), { from: 24 })).toEqual([])
          expect(yield* readVersions(sid("paged"), { pageSize: 5 })).toEqual(Arr.range(1, 23))
          expect(yield* readVersions(sid("paged"), { pageSize: 1, from: 21 })).toEqual([21, 22, 23])
          expect(yield* readVersions(sid("paged"), { direction: "backward", pageSize: 4 })).toEqual(Arr.range(1, 23).reverse())
          expect(yield* readVersions(sid("paged"), { direction: "backward", from: 3, pageSize: 2 })).toEqual([3, 2, 1])
          expect(yield* readVersions(sid("paged"), { direction: "backward", from: 100 })).toEqual(Arr.range(1, 23).reverse())
        })))

      it.live("bad read options fail with InvalidArgument", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const zeroPage = yield* Effect.flip(Stream.runDrain(store.read(sid("s"), { pageSize: 0 })))
          const negative = yield* Effect.flip(Stream.runDrain(store.read(sid("s"), { from: -1 })))
          const fractional = yield* Effect.flip(Stream.runDrain(store.readAll({ pageSize: 1.5 })))
          expect(zeroPage._tag).toBe("InvalidArgument")
          expect(negative._tag).toBe("InvalidArgument")
          expect(fractional._tag).toBe("InvalidArgument")
        })))

      it.live("streams are isolated from each other", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* store.append([
            write(sid("left"), ExpectedVersion.noStream, yield* deposits(2, 10)),
            write(sid("right"), ExpectedVersion.noStream, yield* deposits(3, 20))
          ])
          yield* store.append(write(sid("left-extra"), ExpectedVersion.noStream, yield* deposits(1, 30)))
          const left = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(sid("left"))))
          const right = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(sid("right"))))
          expect(left.map((e) => JSON.parse(e.data).amount)).toEqual([10, 11])
          expect(right.map((e) => JSON.parse(e.data).amount)).toEqual([20, 21, 22])
          expect(right.map((e) => e.version)).toEqual([1, 2, 3])
        })))

      it.live("stream ids with quotes, unicode, % and _ and SQL fragments are stored and read literally", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const ids = [
            "it's \"quoted\"",
            "ünïcødé-流-🚀",
            "100%_done",
            "%",
            "_",
            "x'; DROP TABLE events; --",
            "a\\b",
            "Robert'); DELETE FROM events WHERE ('1'='1"
          ].map(sid)
          for (const [i, id] of ids.entries()) {
            yield* store.append(write(id, ExpectedVersion.noStream, yield* deposits(1, i)))
          }
          for (const [i, id] of ids.entries()) {
            const events = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(id)))
            expect(events.map((e) => [e.streamId, JSON.parse(e.data).amount])).toEqual([[id, i]])
          }
          // A LIKE-style wildcard id matches nothing but itself.
          expect(yield* readVersions(sid("1%"))).toEqual([])
          const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll()))
          expect(all.map((e) => e.streamId)).toEqual(ids)
        })))

      it.effect("a stream id with a lone UTF-16 surrogate is rejected by StreamId.make with InvalidStreamId", () =>
        Effect.gen(function*() {
          // "\ud83d\ude80" is 🚀; either half alone is not text a database can store faithfully.
          for (const input of ["\ud800", "a\udc00b", "rocket-\ud83d", "\ude80-rocket", "\ude80\ud83d"]) {
            const error = yield* Effect.flip(StreamId.make(input))
            expect(error, JSON.stringify(input)).toBeInstanceOf(StreamId.InvalidStreamId)
            expect(error.input).toBe(input)
          }
          expect(yield* StreamId.make("rocket-\ud83d\ude80")).toBe("rocket-🚀")
        }))

      it.live("stream ids with astral characters (emoji) round-trip exactly through read and readAll", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const ids = [
            "🚀",
            // shares its high surrogate with 🚀: must be a different stream
            "🚁",
            "account-👩‍👩‍👧‍👦",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢-𝟙𝟚𝟛",
            "🇺🇳🏳️‍🌈",
            // 200 code points, 400 UTF-16 code units: still a valid id
            "🚀".repeat(200)
          ].map(sid)
          for (const [i, id] of ids.entries()) {
            yield* store.append(write(id, ExpectedVersion.noStream, yield* deposits(1, i)))
          }
          for (const [i, id] of ids.entries()) {
            const events = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(id)))
            expect(events.map((e) => [e.streamId, JSON.parse(e.data).amount])).toEqual([[id, i]])
            const backward = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(id, { direction: "backward" })))
            expect(backward.map((e) => e.streamId)).toEqual([id])
          }
          expect(yield* readVersions(sid("🚀".repeat(199)))).toEqual([])
          const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ pageSize: 2 })))
          expect(all.map((e) => e.streamId)).toEqual(ids)
          expect(all.map((e) => [...e.streamId].length)).toEqual([1, 1, 15, 11, 6, 200])
        })))

      it.live("a consumer that stops early fetches no further page and leaves the store usable", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* appendDeposits(sid("long"), 500)
          const before = yield* fetchedSoFar
          const firstThree = yield* Stream.runCollect(Stream.take(store.read(sid("long"), { pageSize: 10 }), 3))
          const fetched = (yield* fetchedSoFar) - before
          expect(versionsOf(firstThree)).toEqual([1, 2, 3])
          expect(fetched).toBeGreaterThanOrEqual(3)
          expect(fetched).toBeLessThanOrEqual(10)
          // Many abandoned reads must not exhaust connections or locks.
          for (let i = 0; i < 50; i++) {
            yield* Stream.runDrain(Stream.take(store.read(sid("long"), { pageSize: 7 }), 1))
            yield* Stream.runDrain(Stream.take(store.readAll({ pageSize: 7 }), 1))
          }
          const after = yield* store.append(write(sid("long"), ExpectedVersion.unsafeExact(500), yield* deposits(1)))
          expect(after.streams).toEqual([{ streamId: "long", version: 501 }])
          expect((yield* readVersions(sid("long"), { from: 499 }))).toEqual([499, 500, 501])
        })))

      it.live("a 20,000-event stream consumed one at a time never runs more than a page ahead", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const total = 20_000
          const pageSize = 100
          yield* appendDeposits(sid("big"), total, ExpectedVersion.noStream, 2_000)
          const start = yield* fetchedSoFar
          let consumed = 0
          let maxAhead = 0
          // Rows handed to the consumer that the store never counted as fetched:
          // a backend that does not report rowsFetched would pass "ahead <= pageSize"
          // trivially, so every event consumed must have been counted first.
          let maxBehind = 0
          let sum = 0
          yield* store.read(sid("big"), { pageSize }).pipe(
            Stream.rechunk(1),
            Stream.runForEach((event) =>
              Effect.map(fetchedSoFar, (fetched) => {
                consumed++
                sum += JSON.parse(event.data).amount
                maxAhead = Math.max(maxAhead, fetched - start - consumed)
                maxBehind = Math.max(maxBehind, consumed - (fetched - start))
              })
            )
          )
          expect(consumed).toBe(total)
          expect(sum).toBe((total * (total + 1)) / 2)
          expect(maxBehind).toBe(0)
          expect((yield* fetchedSoFar) - start).toBe(total)
          expect(maxAhead).toBeLessThanOrEqual(pageSize)
        })))
    })

    describe("append and expected versions", () => {
      const cases: ReadonlyArray<readonly [string, ExpectedVersion.ExpectedVersion, number, boolean]> = [
        ["Any on a new stream", ExpectedVersion.any, 0, true],
        ["NoStream on a new stream", ExpectedVersion.noStream, 0, true],
        ["StreamExists on a new stream", ExpectedVersion.streamExists, 0, false],
        ["Exact(0) on a new stream", ExpectedVersion.unsafeExact(0), 0, true],
        ["Exact(1) on a new stream", ExpectedVersion.unsafeExact(1), 0, false],
        ["Any on a stream at version 2", ExpectedVersion.any, 2, true],
        ["NoStream on a stream at version 2", ExpectedVersion.noStream, 2, false],
        ["StreamExists on a stream at version 2", ExpectedVersion.streamExists, 2, true],
        ["Exact(2) on a stream at version 2", ExpectedVersion.unsafeExact(2), 2, true],
        ["Exact(1) on a stream at version 2", ExpectedVersion.unsafeExact(1), 2, false],
        ["Exact(3) on a stream at version 2", ExpectedVersion.unsafeExact(3), 2, false]
      ]
      for (const [label, expected, existing, succeeds] of cases) {
        it.live(`${label} ${succeeds ? "appends" : "fails with WrongExpectedVersion and writes nothing"}`, () =>
          run(Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const id = sid("expected")
            if (existing > 0) yield* store.append(write(id, ExpectedVersion.noStream, yield* deposits(existing)))
            const result = yield* Effect.either(store.append(write(id, expected, yield* deposits(1, 100))))
            const versions = yield* readVersions(id)
            if (succeeds) {
              expect(Either.getOrThrow(result).streams).toEqual([{ streamId: id, version: existing + 1 }])
              expect(versions).toEqual(Arr.range(1, existing + 1))
            } else {
              const error = Either.getLeft(result)
              expect(error._tag).toBe("Some")
              const failure = (error as { value: StoreError.AppendError }).value
              expect(failure).toBeInstanceOf(StoreError.WrongExpectedVersion)
              expect(failure).toMatchObject({ streamId: id, expected, actual: existing })
              expect(versions).toEqual(existing === 0 ? [] : Arr.range(1, existing))
            }
          })))
      }

      it.live("the conflict error names the stream, what was expected and the actual version", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* store.append(write(sid("named"), ExpectedVersion.noStream, yield* deposits(3)))
          const error = yield* Effect.flip(store.append(write(sid("named"), ExpectedVersion.unsafeExact(1), yield* deposits(1))))
          expect(error).toBeInstanceOf(StoreError.WrongExpectedVersion)
          expect(error).toMatchObject({ streamId: "named", expected: { _tag: "Exact", version: 1 }, actual: 3 })
          expect(error.message).toContain("named")
          expect(error.message).toContain("version 1")
          expect(error.message).toContain("actual version 3")
        })))

      it.live("append returns each stream's new version and increasing global positions", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const first = yield* store.append(write(sid("a"), ExpectedVersion.noStream, yield* deposits(2)))
          const second = yield* store.append([
            write(sid("a"), ExpectedVersion.unsafeExact(2), yield* deposits(1)),
            write(sid("b"), ExpectedVersion.noStream, yield* deposits(2))
          ])
          expect(first.streams).toEqual([{ streamId: "a", version: 2 }])
          expect(second.streams).toEqual([{ streamId: "a", version: 3 }, { streamId: "b", version: 2 }])
          const positions = [...first.positions, ...second.positions]
          expect(positions).toHaveLength(5)
          for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!)
          const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll()))
          expect(all.map((e) => e.position)).toEqual(positions)
          expect(all.map((e) => [e.streamId, e.version])).toEqual([["a", 1], ["a", 2], ["a", 3], ["b", 1], ["b", 2]])
        })))

      it.live("appending zero events checks the expected version and writes nothing", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const empty = yield* store.append(write(sid("zero"), ExpectedVersion.noStream, []))
          expect(empty).toEqual({ streams: [{ streamId: "zero", version: 0 }], positions: [] })
          yield* store.append(write(sid("zero"), ExpectedVersion.noStream, yield* deposits(1)))
          const stale = yield* Effect.flip(store.append(write(sid("zero"), ExpectedVersion.noStream, [])))
          expect(stale).toMatchObject({ _tag: "WrongExpectedVersion", actual: 1 })
          const current = yield* store.append(write(sid("zero"), ExpectedVersion.unsafeExact(1), []))
          expect(current.streams).toEqual([{ streamId: "zero", version: 1 }])
          expect(yield* readVersions(sid("zero"))).toEqual([1])
          expect(Chunk.size(yield* Stream.runCollect(store.readAll()))).toBe(1)
        })))

      it.live("a multi-stream append is all-or-nothing when any one stream conflicts", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* store.append(write(sid("x"), ExpectedVersion.noStream, yield* deposits(1)))
          yield* store.append(write(sid("y"), ExpectedVersion.noStream, yield* deposits(2)))
          const error = yield* Effect.flip(store.append([
            write(sid("x"), ExpectedVersion.unsafeExact(1), yield* deposits(1, 50)),
            write(sid("z"), ExpectedVersion.noStream, yield* deposits(1, 60)),
            write(sid("y"), ExpectedVersion.unsafeExact(1), yield* deposits(1, 70))
          ]))
          expect(error).toMatchObject({ _tag: "WrongExpectedVersion", streamId: "y", actual: 2 })
          expect(yield* readVersions(sid("x"))).toEqual([1])
          expect(yield* readVersions(sid("y"))).toEqual([1, 2])
          expect(yield* readVersions(sid("z"))).toEqual([])
          expect(Chunk.size(yield* Stream.runCollect(store.readAll()))).toBe(3)
        })))

      it.live("a read-only participant with a stale version fails the whole append; a current one lets it pass", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* store.append(write(sid("source"), ExpectedVersion.noStream, yield* deposits(1)))
          yield* store.append(write(sid("guard"), ExpectedVersion.noStream, yield* deposits(2)))
          const stale = yield* Effect.flip(store.append([
            write(sid("source"), ExpectedVersion.unsafeExact(1), yield* deposits(1)),
            write(sid("guard"), ExpectedVersion.unsafeExact(1), [])
          ]))
          expect(stale).toMatchObject({ _tag: "WrongExpectedVersion", streamId: "guard", actual: 2 })
          expect(yield* readVersions(sid("source"))).toEqual([1])
          const ok = yield* store.append([
            write(sid("source"), ExpectedVersion.unsafeExact(1), yield* deposits(1)),
            write(sid("guard"), ExpectedVersion.unsafeExact(2), [])
          ])
          expect(ok.streams).toEqual([{ streamId: "source", version: 2 }, { streamId: "guard", version: 2 }])
          expect(yield* readVersions(sid("source"))).toEqual([1, 2])
          expect(yield* readVersions(sid("guard"))).toEqual([1, 2])
        })))

      it.live("the same stream twice in one append, or no writes at all, is an InvalidArgument", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const twice = yield* Effect.flip(store.append([
            write(sid("dup"), ExpectedVersion.any, yield* deposits(1)),
            write(sid("dup"), ExpectedVersion.any, yield* deposits(1))
          ]))
          expect(twice._tag).toBe("InvalidArgument")
          const none = yield* Effect.flip(store.append([] as unknown as [EventStore.StreamWrite]))
          expect(none._tag).toBe("InvalidArgument")
          expect(yield* readVersions(sid("dup"))).toEqual([])
        })))

      it.live(
        "append rejects data that is not JSON, metadata that is not a JSON object, an event id that is not a lowercase UUID, an empty type and NUL characters with InvalidArgument, and writes nothing (even for the other, valid writes of the same append)",
        () =>
          run(Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            yield* store.append(write(sid("before"), ExpectedVersion.noStream, yield* deposits(1)))
            const good = yield* raw("Deposited", "{\"amount\":1}")
            const cases: ReadonlyArray<readonly [string, Event.EventData]> = [
              ["data cut short", { ...good, data: "{\"amount\":" }],
              ["empty data", { ...good, data: "" }],
              ["data in single quotes", { ...good, data: "{'amount':1}" }],
              ["data that is a bare word", { ...good, data: "undefined" }],
              ["metadata that is not JSON", { ...good, metadata: "{" }],
              ["empty metadata", { ...good, metadata: "" }],
              ["metadata that is an array", { ...good, metadata: "[1,2]" }],
              ["metadata that is null", { ...good, metadata: "null" }],
              ["metadata that is a string", { ...good, metadata: "\"note\"" }],
              ["metadata that is a number", { ...good, metadata: "42" }],
              ["an upper-case event id", { ...good, eventId: good.eventId.toUpperCase() as Event.EventId }],
              ["an event id that is not a UUID", { ...good, eventId: "not-a-uuid" as Event.EventId }],
              ["an empty event id", { ...good, eventId: "" as Event.EventId }],
              ["an empty type", { ...good, type: "" }],
              ["a type with a NUL character", { ...good, type: "Depo\u0000sited" }],
              ["data with a NUL character", { ...good, data: JSON.stringify({ amount: 1, note: "a\u0000b" }) }],
              ["metadata with a NUL character", { ...good, metadata: JSON.stringify({ user: "\u0000" }) }]
            ]
            for (const [label, bad] of cases) {
              const error = yield* Effect.flip(store.append([
                write(sid("valid-neighbour"), ExpectedVersion.any, yield* deposits(2)),
                write(sid("invalid-target"), ExpectedVersion.any, [...(yield* deposits(1)), bad])
              ]))
              expect(error, label).toBeInstanceOf(StoreError.InvalidArgument)
              expect(error, label).toMatchObject({ _tag: "InvalidArgument", operation: "append" })
              const alone = yield* Effect.flip(store.append(write(sid("invalid-target"), ExpectedVersion.noStream, [bad])))
              expect(alone._tag, label).toBe("InvalidArgument")
            }
            expect(yield* readVersions(sid("valid-neighbour"))).toEqual([])
            expect(yield* readVersions(sid("invalid-target"))).toEqual([])
            const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll()))
            expect(all.map((e) => e.streamId)).toEqual(["before"])
            // The valid event, on its own, is accepted.
            const ok = yield* store.append(write(sid("invalid-target"), ExpectedVersion.noStream, [good]))
            expect(ok.streams).toEqual([{ streamId: "invalid-target", version: 1 }])
            // an escaped backslash followed by "u0000" is plain text, not a NUL
            const text = yield* raw("Deposited", JSON.stringify({ amount: 1, note: "\\u0000" }))
            expect(text.data).toContain("\\\\u0000")
            yield* store.append(write(sid("invalid-target"), ExpectedVersion.any, [text]))
          }))
      )

      it.live(
        "an expected version that is not one (Exact -1, NaN, 1.5, Infinity, an unknown _tag) fails with InvalidArgument and writes nothing",
        () =>
          run(Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cases: ReadonlyArray<readonly [string, unknown]> = [
              ["Exact -1", { _tag: "Exact", version: -1 }],
              ["Exact NaN", { _tag: "Exact", version: Number.NaN }],
              ["Exact 1.5", { _tag: "Exact", version: 1.5 }],
              ["Exact Infinity", { _tag: "Exact", version: Infinity }],
              ["Exact without a version", { _tag: "Exact" }],
              ["Exact with a string version", { _tag: "Exact", version: "0" }],
              ["an unknown _tag", { _tag: "Whatever" }]
            ]
            for (const [label, expected] of cases) {
              const bad = expected as ExpectedVersion.ExpectedVersion
              const alone = yield* Effect.flip(store.append(write(sid("bad-expected"), bad, yield* deposits(1))))
              expect(alone, label).toBeInstanceOf(StoreError.InvalidArgument)
              const error = yield* Effect.flip(store.append([
                write(sid("bad-expected-neighbour"), ExpectedVersion.any, yield* deposits(1)),
                write(sid("bad-expected"), bad, [])
              ]))
              expect(error, label).toMatchObject({ _tag: "InvalidArgument", operation: "append" })
            }
            expect(yield* readVersions(sid("bad-expected"))).toEqual([])
            expect(yield* readVersions(sid("bad-expected-neighbour"))).toEqual([])
            expect(Chunk.size(yield* Stream.runCollect(store.readAll()))).toBe(0)
          }))
      )

      it.live(
        "a stream id made by a cast (empty, 201 characters, NUL, control characters, a lone surrogate) fails append and read with InvalidArgument and writes nothing",
        () =>
          run(Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const cases: ReadonlyArray<readonly [string, string]> = [
              ["empty", ""],
              ["201 characters", "x".repeat(201)],
              ["a NUL", "a\u0000b"],
              ["a newline", "a\nb"],
              ["a DEL", "a\u007fb"],
              ["a lone high surrogate", "a\uD800b"],
              ["a lone low surrogate", "\uDC00"]
            ]
            for (const [label, id] of cases) {
              const bad = id as StreamId.StreamId
              const error = yield* Effect.flip(store.append(write(bad, ExpectedVersion.any, yield* deposits(1))))
              expect(error, label).toBeInstanceOf(StoreError.InvalidArgument)
              expect(error, label).toMatchObject({ _tag: "InvalidArgument", operation: "append" })
              const both = yield* Effect.flip(store.append([
                write(sid("good-id-neighbour"), ExpectedVersion.any, yield* deposits(1)),
                write(bad, ExpectedVersion.noStream, [])
              ]))
              expect(both._tag, label).toBe("InvalidArgument")
              const read = yield* Effect.flip(Stream.runCollect(store.read(bad)))
              expect(read, label).toMatchObject({ _tag: "InvalidArgument", operation: "read" })
            }
            // 200 characters is the limit, and allowed
            const longest = sid("y".repeat(200))
            yield* store.append(write(longest, ExpectedVersion.noStream, yield* deposits(1)))
            expect(yield* readVersions(longest)).toEqual([1])
            const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll()))
            expect(all.map((e) => e.streamId)).toEqual([longest])
          }))
      )

      it.live("an event id that is already stored is rejected and nothing of that append is written", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const [event] = yield* deposits(1)
          yield* store.append(write(sid("idem"), ExpectedVersion.noStream, [event!]))
          const again = yield* Effect.flip(store.append([
            write(sid("other"), ExpectedVersion.any, yield* deposits(1)),
            write(sid("idem"), ExpectedVersion.any, [event!])
          ]))
          expect(again).toBeInstanceOf(StoreError.DuplicateEventId)
          expect(again).toMatchObject({ eventId: event!.eventId })
          const withinOne = yield* Effect.flip(store.append(write(sid("twice"), ExpectedVersion.any, [event!, event!])))
          expect(withinOne._tag).toBe("DuplicateEventId")
          expect(yield* readVersions(sid("idem"))).toEqual([1])
          expect(yield* readVersions(sid("other"))).toEqual([])
          expect(yield* readVersions(sid("twice"))).toEqual([])
        })))

      it.live("metadata and recordedAt round-trip", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const before = yield* Clock.currentTimeMillis
          const metadata = JSON.stringify({ correlationId: "c-1", user: { name: "Ada" }, tags: ["a", "b"] })
          yield* store.append(write(sid("meta"), ExpectedVersion.noStream, [yield* raw("Deposited", "{\"amount\":1}", metadata)]))
          const after = yield* Clock.currentTimeMillis
          const [stored] = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(sid("meta"))))
          expect(JSON.parse(stored!.metadata)).toEqual(JSON.parse(metadata))
          expect(stored!.recordedAt).toBeInstanceOf(Date)
          expect(stored!.recordedAt.getTime()).toBeGreaterThanOrEqual(before)
          expect(stored!.recordedAt.getTime()).toBeLessThanOrEqual(after)
          const [viaAll] = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll()))
          expect(viaAll!.recordedAt.getTime()).toBe(stored!.recordedAt.getTime())
          const typed = yield* EventStore.typed(codec)
          const [decoded] = Chunk.toReadonlyArray(yield* Stream.runCollect(typed.read(sid("meta"))))
          expect(decoded!.metadata).toEqual({ correlationId: "c-1", user: { name: "Ada" }, tags: ["a", "b"] })
          expect(decoded!.data).toEqual(new Deposited({ amount: 1 }))
        })))

      it.live("concurrent appends with the same expected version: exactly one wins", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const attempts = yield* Effect.forEach(Arr.range(1, 8), (i) =>
            Effect.flatMap(deposits(1, i), (events) =>
              Effect.either(store.append(write(sid("race"), ExpectedVersion.noStream, events)))), { concurrency: "unbounded" })
          expect(attempts.filter(Either.isRight)).toHaveLength(1)
          const losers = attempts.filter(Either.isLeft).map((e) => e.left)
          expect(losers).toHaveLength(7)
          for (const loser of losers) expect(loser).toMatchObject({ _tag: "WrongExpectedVersion", actual: 1 })
          expect(yield* readVersions(sid("race"))).toEqual([1])
        })))

      it.live("concurrent appends with Any from many fibers lose nothing and keep versions dense", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* Effect.forEach(Arr.range(1, 10), (i) =>
            Effect.flatMap(deposits(3, i * 10), (events) =>
              store.append(write(sid("crowd"), ExpectedVersion.any, events))), { concurrency: "unbounded", discard: true })
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(sid("crowd"))))
          expect(events.map((e) => e.version)).toEqual(Arr.range(1, 30))
          expect(new Set(events.map((e) => JSON.parse(e.data).amount)).size).toBe(30)
        })))
    })

    describe("readAll", () => {
      it.live("yields every event in global order, after a cursor (exclusive)", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* store.append(write(sid("p"), ExpectedVersion.noStream, yield* deposits(2, 1)))
          yield* store.append(write(sid("q"), ExpectedVersion.noStream, yield* deposits(2, 3)))
          yield* store.append(write(sid("p"), ExpectedVersion.unsafeExact(2), yield* deposits(2, 5)))
          const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ pageSize: 2 })))
          expect(all.map((e) => JSON.parse(e.data).amount)).toEqual([1, 2, 3, 4, 5, 6])
          expect(all.map((e) => `${e.streamId}@${e.version}`)).toEqual(["p@1", "p@2", "q@1", "q@2", "p@3", "p@4"])
          for (let i = 1; i < all.length; i++) expect(all[i]!.position).toBeGreaterThan(all[i - 1]!.position)
          const tail = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ after: all[2]!.cursor, pageSize: 1 })))
          expect(tail.map((e) => e.position)).toEqual(all.slice(3).map((e) => e.position))
          const resumed = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ after: all[5]!.cursor })))
          expect(resumed).toEqual([])
          const fromStart = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ after: Cursor.start, pageSize: 4 })))
          expect(fromStart).toEqual(all)
        })))

      it.live("every event carries a distinct cursor, the same through read and readAll, that survives a text round trip", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* store.append([
            write(sid("c1"), ExpectedVersion.noStream, yield* deposits(2, 1)),
            write(sid("c2"), ExpectedVersion.noStream, yield* deposits(1, 3))
          ])
          yield* store.append(write(sid("c1"), ExpectedVersion.unsafeExact(2), yield* deposits(1, 4)))
          const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll()))
          expect(new Set(all.map((e) => e.cursor)).size).toBe(4)
          for (const event of all) expect(Cursor.isCursor(event.cursor)).toBe(true)
          const c1 = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(sid("c1"))))
          expect(c1.map((e) => e.cursor)).toEqual(all.filter((e) => e.streamId === "c1").map((e) => e.cursor))
          // a checkpoint stored as text and decoded back resumes at the same place
          const text = JSON.parse(JSON.stringify({ checkpoint: all[1]!.cursor })).checkpoint as string
          const decoded = yield* Cursor.decode(text)
          expect(decoded).toBe(all[1]!.cursor)
          const resumed = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ after: decoded })))
          expect(resumed.map((e) => e.eventId)).toEqual(all.slice(2).map((e) => e.eventId))
        })))

      it.live("a malformed cursor fails with InvalidArgument", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* appendDeposits(sid("m"), 1)
          for (const bad of ["", "-1", "1.5", "abc", "01", "1:", ":1"]) {
            const error = yield* Effect.flip(Stream.runDrain(store.readAll({ after: bad as Cursor.Cursor })))
            expect(error._tag).toBe("InvalidArgument")
          }
        })))

      it.live("a read started before an append does not fail and sees a consistent prefix", () =>
        run(Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* appendDeposits(sid("live"), 30)
          const fiber = yield* Effect.fork(Stream.runCollect(store.read(sid("live"), { pageSize: 4 })))
          yield* store.append(write(sid("live"), ExpectedVersion.unsafeExact(30), yield* deposits(5, 31)))
          const seen = versionsOf(yield* Fiber.join(fiber))
          expect(seen.slice(0, 30)).toEqual(Arr.range(1, 30))
          expect(seen).toEqual(Arr.range(1, seen.length))
        })))
    })

    describe("typed reads", () => {
      it.live("a typed read yields decoded domain events", () =>
        run(Effect.gen(function*() {
          const typed = yield* EventStore.typed(codec)
          yield* typed.append({
            streamId: sid("typed"),
            expected: ExpectedVersion.noStream,
            events: [new Deposited({ amount: 10 }), new Withdrawn({ amount: 4 })]
          })
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(typed.read(sid("typed"))))
          expect(events.map((e) => e.data)).toEqual([new Deposited({ amount: 10 }), new Withdrawn({ amount: 4 })])
          expect(events[1]!.data).toBeInstanceOf(Withdrawn)
          const balance = yield* typed.readAll().pipe(
            Stream.runFold(0, (sum, e: { data: AccountEvent }) => e.data._tag === "Deposited" ? sum + e.data.amount : sum - e.data.amount)
          )
          expect(balance).toBe(6)
        })))

      const corrupt = (label: string, type: string, data: string) =>
        it.live(`a row with ${label} fails the typed read with EventDecodeError naming stream, version and type`, () =>
          run(Effect.gen(function*() {
            const store = yield* EventStore.EventStore
            const typed = yield* EventStore.typed(codec)
            const good = yield* deposits(2)
            const bad = yield* raw(type, data)
            const appended = yield* store.append(write(sid("corrupt"), ExpectedVersion.noStream, [...good, bad]))
            const seen: Array<number> = []
            const exit = yield* typed.read(sid("corrupt")).pipe(
              Stream.runForEach((e) => Effect.sync(() => seen.push(e.version))),
              Effect.exit
            )
            expect(Exit.isFailure(exit)).toBe(true)
            const error = yield* Effect.flip(Stream.runDrain(typed.read(sid("corrupt"))))
            expect(error).toBeInstanceOf(StoreError.EventDecodeError)
            expect(error).toMatchObject({ streamId: "corrupt", version: 3, type, position: appended.positions[2] })
            expect(error.message).toContain("corrupt")
            expect(seen).toEqual([1, 2])
            const viaAll = yield* Effect.flip(Stream.runDrain(typed.readAll()))
            expect(viaAll).toMatchObject({ _tag: "EventDecodeError", streamId: "corrupt", version: 3 })
          })))

      corrupt("an unknown type", "Teleported", "{\"amount\":1}")
      corrupt("a payload that does not match the schema", "Deposited", "{\"amount\":\"lots\"}")
      corrupt("a payload that is not an object", "Withdrawn", "[1,2]")
    })
    if (options.readSide !== false) SubscriptionContract.cases(options)
  })
}
