import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Redacted, Schema, Stream } from "effect"
import { Decider, EventCodec, EventStore, Executor, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { databaseForFile, freshSchemaUrl } from "./support.ts"

const db = databaseForFile("pg_stored_data")

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
const codec = EventCodec.make(Deposited)
const sid = StreamId.unsafeMake

/** Loads a stream by folding the sum of its deposits (the Executor's fold read). */
const summing = Decider.make({
  name: "Summing",
  codec,
  initialState: 0,
  evolve: (sum: number, event: Deposited) => sum + event.amount,
  streams: (streamId: StreamId.StreamId) => streamId,
  decide: () => Either.right([])
})

/** A store on a fresh schema, with its SqlClient for raw SQL. */
const storeAndClient = () =>
  Layer.unwrapEffect(Effect.map(freshSchemaUrl(db().url), (url) =>
    PgEventStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url) })))))

const append = (streamId: StreamId.StreamId, n: number) =>
  Effect.flatMap(EventStore.typed(codec), (store) =>
    store.append({
      streamId,
      expected: ExpectedVersion.noStream,
      events: Array.from({ length: n }, (_, i) => new Deposited({ amount: i + 1 }))
    }))

const readStream = (streamId: StreamId.StreamId, options?: EventStore.ReadOptions) =>
  Effect.flatMap(EventStore.EventStore, (store) => Stream.runCollect(store.read(streamId, options)))

describe("PgEventStore: stored rows it does not trust", () => {
  it.live("a version gap made outside the store (1,2,3,4,7) fails reads with a typed error naming stream and version", () =>
    Effect.gen(function*() {
      yield* append(sid("gappy"), 7)
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("DELETE FROM eventfold_events WHERE stream_id = $1 AND version IN (5, 6)", ["gappy"]).raw
      // every page size: a gap inside a page, at a page's end (pageSize 2: versions
      // [5, 7) hold no row; 3: a short page ends at 4; 5, 6: the first page ends at 4),
      // the row after the gap is the page's lookahead row and fails the read
      const pageSizes = [1, 2, 3, 4, 5, 6, 7, 8].map((pageSize) => ({ pageSize }))
      for (const options of [undefined, { from: 3 }, { from: 5 }, { from: 4, pageSize: 1 }, ...pageSizes]) {
        const error = yield* Effect.flip(readStream(sid("gappy"), options))
        expect(error, JSON.stringify(options)).toBeInstanceOf(StoreError.EventDecodeError)
        expect(error, JSON.stringify(options)).toMatchObject({ _tag: "EventDecodeError", streamId: "gappy", type: "Deposited" })
        expect(error.message).toContain("version gap")
      }
      const backward = yield* Effect.flip(readStream(sid("gappy"), { direction: "backward", pageSize: 2 }))
      expect(backward).toMatchObject({ _tag: "EventDecodeError", streamId: "gappy" })
      expect(backward.message).toContain("version gap")
    }).pipe(Effect.provide(storeAndClient())))

  it.live("a gap after a page's last version (rows 1..4 and 300) fails with the default page too, naming version 300", () =>
    Effect.gen(function*() {
      yield* append(sid("far"), 5)
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("UPDATE eventfold_events SET version = 300 WHERE stream_id = $1 AND version = 5", ["far"]).raw
      for (const options of [undefined, { pageSize: 4 }, { pageSize: 2 }, { pageSize: 299 }, { pageSize: 1000 }]) {
        const error = yield* Effect.flip(readStream(sid("far"), options))
        expect(error, JSON.stringify(options)).toMatchObject({ _tag: "EventDecodeError", streamId: "far", version: 300 })
        expect(error.message).toContain("version gap: expected version 5, found 300")
      }
    }).pipe(Effect.provide(storeAndClient())))

  it.live("a stream whose last page is exactly full reads to its end, every event once", () =>
    Effect.gen(function*() {
      yield* append(sid("even"), 6)
      for (const pageSize of [1, 2, 3, 6, 7]) {
        const events = yield* readStream(sid("even"), { pageSize })
        expect(Array.from(events, (event) => event.version), String(pageSize)).toEqual([1, 2, 3, 4, 5, 6])
      }
      const fromMiddle = yield* readStream(sid("even"), { from: 4, pageSize: 3 })
      expect(Array.from(fromMiddle, (event) => event.version)).toEqual([4, 5, 6])
    }).pipe(Effect.provide(storeAndClient())))

  it.live("a jsonb number 1e400 written by raw SQL reads back as a typed EventDecodeError, never Infinity", () =>
    Effect.gen(function*() {
      yield* append(sid("huge"), 3)
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("UPDATE eventfold_events SET data = '{\"amount\": 1e400}'::jsonb WHERE stream_id = $1 AND version = 2", ["huge"]).raw
      const raw = yield* readStream(sid("huge"))
      expect(raw.pipe((events) => Array.from(events)[1]?.data)).toMatch(/^\{"amount": 1[0]{400}\}$/)
      const typed = yield* Effect.flip(Effect.flatMap(EventStore.EventStore, (store) =>
        Stream.runCollect(store.read(sid("huge")).pipe(EventStore.decode(codec)))))
      expect(typed).toBeInstanceOf(StoreError.EventDecodeError)
      expect(typed).toMatchObject({ _tag: "EventDecodeError", streamId: "huge", version: 2, type: "Deposited" })
      expect(typed.message).toContain("data.amount")
    }).pipe(Effect.provide(storeAndClient())))

  it.live("a recorded_at of infinity fails read and readAll with a typed error, never an Invalid Date", () =>
    Effect.gen(function*() {
      yield* append(sid("timeless"), 3)
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("UPDATE eventfold_events SET recorded_at = 'infinity' WHERE stream_id = $1 AND version = 2", ["timeless"]).raw
      const read = yield* Effect.flip(readStream(sid("timeless")))
      expect(read).toMatchObject({ _tag: "EventDecodeError", streamId: "timeless", version: 2, type: "Deposited" })
      expect(read.message).toContain("recorded_at")
      const all = yield* Effect.flip(Effect.flatMap(EventStore.EventStore, (store) => Stream.runCollect(store.readAll())))
      expect(all).toMatchObject({ _tag: "EventDecodeError", streamId: "timeless", version: 2 })
    }).pipe(Effect.provide(storeAndClient())))

  it.effect("the Executor's fold fails with a typed error naming stream, version and position on a version gap and on a bad payload, whatever the page size", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const load = (streamId: string, pageSize: number | undefined) =>
        Effect.flip(Executor.load(summing, sid(streamId), pageSize === undefined ? {} : { pageSize }))
      yield* append(sid("fold-gap"), 7)
      yield* sql.unsafe("DELETE FROM eventfold_events WHERE stream_id = $1 AND version IN (5, 6)", ["fold-gap"]).raw
      yield* append(sid("fold-payload"), 7)
      yield* sql.unsafe(`UPDATE eventfold_events SET data = '{"amount": "six"}'::jsonb WHERE stream_id = $1 AND version = 6`, ["fold-payload"]).raw
      const [position] = yield* sql.unsafe<readonly [number | string]>(
        "SELECT position FROM eventfold_events WHERE stream_id = $1 AND version = 6",
        ["fold-payload"]
      ).values
      for (const pageSize of [undefined, 2, 4, 5, 6]) {
        const gap = yield* load("fold-gap", pageSize)
        expect(gap, String(pageSize)).toBeInstanceOf(StoreError.EventDecodeError)
        expect(gap).toMatchObject({ _tag: "EventDecodeError", streamId: "fold-gap", type: "Deposited" })
        expect(gap.message).toContain("version gap")
        const payload = yield* load("fold-payload", pageSize)
        expect(payload, String(pageSize)).toMatchObject({
          _tag: "EventDecodeError",
          streamId: "fold-payload",
          version: 6,
          position: Number(position?.[0]),
          type: "Deposited"
        })
      }
    }).pipe(Effect.provide(Executor.layerOn(storeAndClient()))))
})
