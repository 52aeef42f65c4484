/**
 * Snapshot storage on the memory and SQLite backends: the shared suite, and on
 * SQLite two clients (as two processes would) writing snapshots of one stream.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric, Option, Schedule, Schema } from "effect"
import { Executor, Snapshot, StreamId } from "eventfold"
import { MemorySnapshotStore } from "eventfold/memory"
import { SqliteEventStore, SqliteSnapshotStore } from "eventfold/sqlite"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { account, Deposit, Open } from "./fixtures/bank.ts"
import { storageSuite } from "./Snapshot.storage.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eventfold-snapshots-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let counter = 0
const freshFile = () => path.join(dir, `snapshots-${++counter}.db`)

/** The event store's migrations (which create the snapshots table) and a snapshot store, on one client. */
const sqliteStores = (filename: string) =>
  Layer.merge(SqliteEventStore.layerFromClient(), SqliteSnapshotStore.layerFromClient()).pipe(
    Layer.provide(SqliteEventStore.layerClient({ filename }))
  )

storageSuite("memory", () => MemorySnapshotStore.layer())
storageSuite("SQLite", () => sqliteStores(freshFile()))

describe("SQLite snapshot store", () => {
  it.effect("two clients on one file saving and pruning snapshots of one stream leave the highest version", () =>
    Effect.gen(function*() {
      const filename = freshFile()
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
          )).pipe(Effect.provide(Layer.orDie(sqliteStores(filename))))
      // migrate once, then two clients (each with its own connection) at once
      yield* Effect.provide(Effect.void, Layer.orDie(sqliteStores(filename)))
      yield* Effect.all([writer(1), writer(2)], { concurrency: 2 })
      const loaded = yield* Effect.flatMap(Snapshot.SnapshotStore, (store) => store.load(key)).pipe(
        Effect.provide(Layer.orDie(sqliteStores(filename)))
      )
      expect(Option.map(loaded, (s) => [s.version, s.state])).toEqual(Option.some([60, "60"]))
    }))
})

describe("Executors with snapshots on one SQLite file", () => {
  it.live("two executors, each with its own connection, running commands on one stream and saving its snapshots, agree on every result", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const decider = Snapshot.enable(account, {
        schema: Schema.Struct({ opened: Schema.Boolean, balance: Schema.Number, feeAccount: Schema.NullOr(Schema.String) }),
        version: 1,
        every: 3
      })
      const executor = (writes: "inline" | "background") =>
        Layer.orDie(
          Executor.layer({ retry: Schedule.spaced("1 millis").pipe(Schedule.intersect(Schedule.recurs(200))), snapshots: { writes } }).pipe(
            Layer.provideMerge(sqliteStores(filename))
          )
        )
      yield* Executor.execute(decider, new Open({ id: "ada", owner: "Ada", feeAccount: null })).pipe(Effect.provide(executor("inline")))
      const depositor = (writes: "inline" | "background", first: number) =>
        Effect.forEach(
          Array.from({ length: 25 }, (_, i) => first + 2 * i),
          (amount) => Executor.execute(decider, new Deposit({ id: "ada", amount })),
          { concurrency: 2 }
        ).pipe(Effect.provide(executor(writes)))
      const loadedBefore = (yield* Effect.map(Metric.value(Snapshot.loaded), (s) => s.count))
      yield* Effect.all([depositor("inline", 1), depositor("background", 2)], { concurrency: 2 })
      const total = Array.from({ length: 50 }, (_, i) => i + 1).reduce((a, b) => a + b, 0)
      const last = yield* Executor.execute(decider, new Deposit({ id: "ada", amount: 0 })).pipe(Effect.provide(executor("inline")))
      const plain = yield* Executor.execute(account, new Deposit({ id: "ada", amount: 0 })).pipe(Effect.provide(executor("inline")))
      expect(last.state).toEqual({ opened: true, balance: total, feeAccount: null })
      expect(plain.state).toEqual(last.state)
      expect(last.streams[0]!.version).toBe(52)
      expect((yield* Effect.map(Metric.value(Snapshot.loaded), (s) => s.count)) - loadedBefore).toBeGreaterThan(10)
    }))
})
