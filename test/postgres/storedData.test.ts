import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema, Stream } from "effect"
import { EventCodec, EventStore, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { databaseForFile, freshSchemaUrl } from "./support.ts"

const db = databaseForFile("pg_stored_data")

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
const codec = EventCodec.make(Deposited)
const sid = StreamId.unsafeMake

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
      // pages whose version range holds the gap (a page of versions [5, 7) that is
      // empty, or a short page ending at 4, looks like the end of the stream to the
      // range query: see the report; the SQL is the pg helper's)
      for (const options of [undefined, { pageSize: 4 }, { from: 3 }, { pageSize: 8 }]) {
        const error = yield* Effect.flip(readStream(sid("gappy"), options))
        expect(error, JSON.stringify(options)).toBeInstanceOf(StoreError.EventDecodeError)
        expect(error, JSON.stringify(options)).toMatchObject({ _tag: "EventDecodeError", streamId: "gappy", type: "Deposited" })
        expect(error.message).toContain("version gap")
      }
      const backward = yield* Effect.flip(readStream(sid("gappy"), { direction: "backward", pageSize: 2 }))
      expect(backward).toMatchObject({ _tag: "EventDecodeError", streamId: "gappy" })
      expect(backward.message).toContain("version gap")
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
})
