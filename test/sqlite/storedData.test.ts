import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Chunk, Effect, Either, Layer, Schema, Stream } from "effect"
import { Decider, EventCodec, EventStore, Executor, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"

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

  it.effect("the Executor's fold fails with a typed error naming stream, version and position on a version gap and on a bad payload, whatever the page size", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const load = (streamId: string, pageSize: number | undefined) =>
        Effect.flip(Executor.load(summing, sid(streamId), pageSize === undefined ? {} : { pageSize }))
      yield* append(sid("fold-gap"), 7)
      yield* sql.unsafe("DELETE FROM eventfold_events WHERE stream_id = ? AND version IN (5, 6)", ["fold-gap"]).raw
      yield* append(sid("fold-payload"), 7)
      yield* sql.unsafe(`UPDATE eventfold_events SET data = '{"amount": "six"}' WHERE stream_id = ? AND version = 6`, ["fold-payload"]).raw
      const [position] = yield* sql.unsafe<readonly [number | string]>(
        "SELECT position FROM eventfold_events WHERE stream_id = ? AND version = 6",
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
    }).pipe(Effect.provide(Executor.layerOn(live))))
})
