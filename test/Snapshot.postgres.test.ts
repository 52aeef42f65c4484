/**
 * Snapshot storage on PostgreSQL: the shared suite (test/Snapshot.storage.ts) on
 * a fresh schema per test, and two pools (as two application instances would)
 * writing snapshots of one stream.
 */
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, Option, Redacted, Schedule, Schema } from "effect"
import { Executor, Snapshot, StreamId } from "eventfold"
import { PgEventStore, PgSnapshotStore } from "eventfold/postgres"
import { databaseForFile, freshSchemaUrl } from "./postgres/support.ts"
import { account, Deposit, Open } from "./fixtures/bank.ts"
import { storageSuite } from "./Snapshot.storage.ts"

const db = databaseForFile("pg_snapshots")

/** The event store's migrations (which create the snapshots table) and a snapshot store, on one pool. */
const pgStores = (url: string) =>
  Layer.merge(PgEventStore.layerFromClient(), PgSnapshotStore.layerFromClient()).pipe(
    Layer.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 }))
  )

storageSuite("PostgreSQL", () => Layer.unwrapEffect(Effect.map(freshSchemaUrl(db().url), pgStores)))

describe("PostgreSQL snapshot store", () => {
  it.effect("two pools saving and pruning snapshots of one stream leave the highest version", () =>
    Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const key: Snapshot.Key = { decider: "Account", streamId: StreamId.unsafeMake("account-1"), schemaVersion: 1 }
      const writer = (offset: number) =>
        Effect.flatMap(Snapshot.SnapshotStore, (store) =>
          Effect.forEach(
            Array.from({ length: 30 }, (_, i) => 2 * i + offset),
            (version) =>
              Effect.zipRight(
                store.save({ ...key, version, position: version, state: `${version}`, takenAt: new Date() }),
                store.prune(key, 1)
              ),
            { concurrency: 4 }
          )).pipe(Effect.provide(Layer.orDie(pgStores(url))))
      yield* Effect.provide(Effect.void, Layer.orDie(pgStores(url)))
      yield* Effect.all([writer(1), writer(2)], { concurrency: 2 })
      const loaded = yield* Effect.flatMap(Snapshot.SnapshotStore, (store) => store.load(key)).pipe(
        Effect.provide(Layer.orDie(pgStores(url)))
      )
      expect(Option.map(loaded, (s) => [s.version, s.state])).toEqual(Option.some([60, "60"]))
    }))
})

describe("Executors with snapshots on one PostgreSQL database", () => {
  it.live("two executors on their own pools, running commands on one stream and saving its snapshots, agree with a plain fold", () =>
    Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const decider = Snapshot.enable(account, {
        schema: Schema.Struct({ opened: Schema.Boolean, balance: Schema.Number, feeAccount: Schema.NullOr(Schema.String) }),
        version: 1,
        every: 3
      })
      const executor = (writes: "inline" | "background") =>
        Layer.orDie(
          Executor.layer({ retry: Schedule.spaced("1 millis").pipe(Schedule.intersect(Schedule.recurs(200))), snapshots: { writes } }).pipe(
            Layer.provideMerge(pgStores(url))
          )
        )
      yield* Executor.execute(decider, new Open({ id: "ada", owner: "Ada", feeAccount: null })).pipe(Effect.provide(executor("inline")))
      const depositor = (writes: "inline" | "background", first: number) =>
        Effect.forEach(
          Array.from({ length: 20 }, (_, i) => first + 2 * i),
          (amount) => Executor.execute(decider, new Deposit({ id: "ada", amount })),
          { concurrency: 2 }
        ).pipe(Effect.provide(executor(writes)))
      const loaded = Effect.map(Metric.value(Snapshot.loaded), (s) => s.count)
      const loadedBefore = yield* loaded
      yield* Effect.all([depositor("inline", 1), depositor("background", 2)], { concurrency: 2 })
      const total = Array.from({ length: 40 }, (_, i) => i + 1).reduce((a, b) => a + b, 0)
      const last = yield* Executor.execute(decider, new Deposit({ id: "ada", amount: 0 })).pipe(Effect.provide(executor("inline")))
      const plain = yield* Executor.execute(account, new Deposit({ id: "ada", amount: 0 })).pipe(Effect.provide(executor("inline")))
      expect(last.state).toEqual({ opened: true, balance: total, feeAccount: null })
      expect(plain.state).toEqual(last.state)
      expect(last.streams[0]!.version).toBe(42)
      expect((yield* loaded) - loadedBefore).toBeGreaterThan(10)
    }))
})
