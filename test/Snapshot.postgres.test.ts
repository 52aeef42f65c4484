/**
 * Snapshot storage on PostgreSQL: the shared suite (test/Snapshot.storage.ts) on
 * a fresh schema per test, and two pools (as two application instances would)
 * writing snapshots of one stream.
 */
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { Snapshot, StreamId } from "eventfold"
import { PgEventStore, PgSnapshotStore } from "eventfold/postgres"
import { databaseForFile, freshSchemaUrl } from "./postgres/support.ts"
import { storageSuite } from "./Snapshot.storage.ts"

const db = databaseForFile("pg_snapshots")

/** The event store's migrations (which create the snapshots table) and a snapshot store, on one pool. */
const pgStores = (url: string) =>
  Layer.merge(PgEventStore.layerStore(), PgSnapshotStore.layerFromClient()).pipe(
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
