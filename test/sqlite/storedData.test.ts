import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Chunk, Effect, Layer, Schema, Stream } from "effect"
import { EventCodec, EventStore, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
const codec = EventCodec.make(Deposited)
const sid = StreamId.unsafeMake

const live = SqliteEventStore.layerFromClient().pipe(Layer.provideMerge(SqliteEventStore.layerClient({ filename: ":memory:" })))

/** Appends `n` deposits to `streamId` through the store. */
const append = (streamId: StreamId.StreamId, n: number) =>
  Effect.flatMap(EventStore.typed(codec), (store) =>
    store.append({
      streamId,
      expected: ExpectedVersion.noStream,
      events: Array.from({ length: n }, (_, i) => new Deposited({ amount: i + 1 }))
    }))

const readStream = (streamId: StreamId.StreamId, options?: EventStore.ReadOptions) =>
  Effect.flatMap(EventStore.EventStore, (store) => Stream.runCollect(store.read(streamId, options)))

describe("SqliteEventStore: stored rows it does not trust", () => {
  it.effect("a version gap made outside the store (1,2,3,4,7) fails forward and backward reads with a typed error naming stream and version", () =>
    Effect.gen(function*() {
      yield* append(sid("gappy"), 7)
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("DELETE FROM eventfold_events WHERE stream_id = ? AND version IN (5, 6)", ["gappy"]).raw
      for (const options of [undefined, { pageSize: 2 }, { pageSize: 4 }, { from: 3 }]) {
        const error = yield* Effect.flip(readStream(sid("gappy"), options))
        expect(error).toBeInstanceOf(StoreError.EventDecodeError)
        expect(error).toMatchObject({ _tag: "EventDecodeError", streamId: "gappy", version: 7, type: "Deposited" })
        expect(error.message).toContain("expected version 5, found 7")
      }
      const backward = yield* Effect.flip(readStream(sid("gappy"), { direction: "backward", pageSize: 2 }))
      expect(backward).toMatchObject({ _tag: "EventDecodeError", streamId: "gappy", version: 4 })
      expect(backward.message).toContain("expected version 6, found 4")
      // a consumer that stops before the page holding the gap reads its events
      const prefix = yield* Effect.flatMap(
        EventStore.EventStore,
        (store) => Stream.runCollect(Stream.take(store.read(sid("gappy"), { pageSize: 2 }), 4))
      )
      expect(Chunk.toReadonlyArray(prefix).map((e) => e.version)).toEqual([1, 2, 3, 4])
    }).pipe(Effect.provide(live)))

  it.effect("missing first versions (2,3 stored, 1 gone) fail forward and backward reads", () =>
    Effect.gen(function*() {
      yield* append(sid("headless"), 3)
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("DELETE FROM eventfold_events WHERE stream_id = ? AND version = 1", ["headless"]).raw
      const forward = yield* Effect.flip(readStream(sid("headless")))
      expect(forward).toMatchObject({ _tag: "EventDecodeError", streamId: "headless", version: 2 })
      const backward = yield* Effect.flip(readStream(sid("headless"), { direction: "backward" }))
      expect(backward).toMatchObject({ _tag: "EventDecodeError", streamId: "headless", version: 1 })
      expect(backward.message).toContain("version 1 is missing")
    }).pipe(Effect.provide(live)))

  it.effect("a corrupt recorded_at fails read and readAll with a typed error, never an Invalid Date", () =>
    Effect.gen(function*() {
      yield* append(sid("timeless"), 3)
      const sql = yield* SqlClient.SqlClient
      for (const bad of ["garbage", 1e300, null]) {
        yield* sql.unsafe("UPDATE eventfold_events SET recorded_at = ? WHERE stream_id = ? AND version = 2", [bad ?? "", "timeless"]).raw
        const read = yield* Effect.flip(readStream(sid("timeless")))
        expect(read).toMatchObject({ _tag: "EventDecodeError", streamId: "timeless", version: 2, type: "Deposited" })
        expect(read.message).toContain("recorded_at")
        const all = yield* Effect.flip(Effect.flatMap(EventStore.EventStore, (store) => Stream.runCollect(store.readAll())))
        expect(all).toMatchObject({ _tag: "EventDecodeError", streamId: "timeless", version: 2 })
      }
    }).pipe(Effect.provide(live)))

  it.effect("a version that is not a positive integer fails the read", () =>
    Effect.gen(function*() {
      yield* append(sid("fractional"), 2)
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("UPDATE eventfold_events SET version = 1.5 WHERE stream_id = ? AND version = 2", ["fractional"]).raw
      const error = yield* Effect.flip(readStream(sid("fractional")))
      expect(error).toMatchObject({ _tag: "EventDecodeError", streamId: "fractional", version: 1.5 })
      expect(StoreError.isStoreError(error)).toBe(true)
    }).pipe(Effect.provide(live)))
})
