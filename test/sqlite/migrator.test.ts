/**
 * Migrations run one migrator at a time (src/internal/migrator.ts, with the
 * SQLite store's write lock), and the shared runner's error mapping.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { MigrationError } from "@effect/sql/Migrator"
import Database from "better-sqlite3"
import { Array as Arr, Effect, Fiber, Layer, Option } from "effect"
import { StoreError } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Migrator from "../../src/internal/migrator.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eventfold-migrator-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let counter = 0
const freshFile = (label: string) => path.join(dir, `${label}-${++counter}.db`)

const all = [[1, "create_events"], [2, "read_side"], [3, "create_snapshots"]]

/** The eventfold tables of a database file, read by a connection of its own. */
const tablesOf = (filename: string): ReadonlyArray<string> => {
  const db = new Database(filename, { readonly: true })
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'eventfold%' ORDER BY name").all() as Array<{
      name: string
    }>).map((row) => row.name)
  } finally {
    db.close()
  }
}

describe("SQLite migrations, one migrator at a time", () => {
  it.live("four migrators on four connections to one new file at once: one applies every migration, the others find nothing to do", () =>
    Effect.gen(function*() {
      const filename = freshFile("four")
      const results = yield* Effect.all(
        Arr.range(1, 4).map(() => Effect.provide(SqliteEventStore.migrate, SqliteEventStore.layerClient({ filename }))),
        { concurrency: "unbounded" }
      )
      const sorted = [...results].sort((a, b) => a.length - b.length)
      expect(sorted).toEqual([[], [], [], all])
      expect(tablesOf(filename)).toEqual(["eventfold_events", "eventfold_migrations", "eventfold_projections", "eventfold_snapshots"])
    }))

  it.live("a migrator waits while another connection holds the write lock, then applies every migration", () =>
    Effect.gen(function*() {
      const filename = freshFile("waits")
      const foreign = new Database(filename)
      foreign.pragma("journal_mode = WAL")
      foreign.exec("BEGIN IMMEDIATE")
      const migrating = yield* Effect.fork(Effect.provide(SqliteEventStore.migrate, SqliteEventStore.layerClient({ filename })))
      yield* Effect.sleep("150 millis")
      // still waiting for the lock (busy retries): nothing created yet
      expect(Option.isNone(yield* Fiber.poll(migrating))).toBe(true)
      expect(tablesOf(filename)).toEqual([])
      foreign.exec("ROLLBACK")
      foreign.close()
      expect(yield* Fiber.join(migrating)).toEqual(all)
      expect(tablesOf(filename)).toEqual(["eventfold_events", "eventfold_migrations", "eventfold_projections", "eventfold_snapshots"])
    }))

  it.live("a migrator that cannot get the write lock within busyTimeout fails with StoreUnavailable and creates nothing", () =>
    Effect.gen(function*() {
      const filename = freshFile("stuck")
      const foreign = new Database(filename)
      foreign.pragma("journal_mode = WAL")
      foreign.exec("BEGIN IMMEDIATE")
      const error = yield* Effect.flip(Layer.build(
        SqliteEventStore.layerFromClient({ busyTimeout: "200 millis" }).pipe(Layer.provide(SqliteEventStore.layerClient({ filename })))
      ))
      foreign.exec("ROLLBACK")
      foreign.close()
      expect(error).toBeInstanceOf(StoreError.StoreUnavailable)
      expect(error).toMatchObject({ operation: "migrate" })
      expect(tablesOf(filename)).toEqual([])
    }).pipe(Effect.scoped))
})

describe("the shared migration runner", () => {
  const client = () => SqliteEventStore.layerClient({ filename: freshFile("runner") })
  /** No lock: the body as is (the mapping is what is tested here). */
  const unlocked: Migrator.Locked = (body) => Effect.flatMap(SqlClient.SqlClient, () => body)

  it.effect("runs the loader's pending migrations, then finds nothing to do", () =>
    Effect.gen(function*() {
      const loader = Effect.succeed([[1, "one", Effect.succeed(Effect.void)]] as const)
      expect(yield* Migrator.run({ loader, locked: unlocked })).toEqual([[1, "one"]])
      expect(yield* Migrator.run({ loader, locked: unlocked })).toEqual([])
    }).pipe(Effect.provide(client())))

  it.effect("duplicate migration ids fail with StoreUnavailable(migrate) carrying the Migrator's error", () =>
    Effect.gen(function*() {
      const loader = Effect.succeed([[1, "one", Effect.succeed(Effect.void)], [1, "again", Effect.succeed(Effect.void)]] as const)
      const error = yield* Effect.flip(Migrator.run({ loader, locked: unlocked }))
      expect(error).toBeInstanceOf(StoreError.StoreUnavailable)
      expect(error.operation).toBe("migrate")
      expect(error.cause).toBeInstanceOf(MigrationError)
      expect((error.cause as MigrationError).reason).toBe("duplicates")
    }).pipe(Effect.provide(client())))

  it.effect("a migration that fails (the Migrator dies) fails with StoreUnavailable(migrate)", () =>
    Effect.gen(function*() {
      const failing = Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("SELECT * FROM no_such_table"))
      const loader = Effect.succeed([[1, "broken", Effect.succeed(failing)]] as const)
      const error = yield* Effect.flip(Migrator.run({ loader, locked: unlocked }))
      expect(error).toBeInstanceOf(StoreError.StoreUnavailable)
      expect(error.operation).toBe("migrate")
      expect((error.cause as MigrationError).reason).toBe("failed")
    }).pipe(Effect.provide(client())))

  it.effect("a driver error of the lock goes through the backend's mapping; a StoreUnavailable of the lock stays as it is", () =>
    Effect.gen(function*() {
      const loader = Effect.succeed([] as const)
      const driver: Migrator.Locked = (body) => Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.zipRight(sql.unsafe("SELEKT 1"), body))
      const mapped = yield* Effect.flip(Migrator.run({ loader, locked: driver, sqlError: (error) => ({ mapped: error._tag }) }))
      expect(mapped).toEqual({ mapped: "SqlError" })
      const byDefault = yield* Effect.flip(Migrator.run({ loader, locked: driver }))
      expect(byDefault).toMatchObject({ _tag: "StoreUnavailable", operation: "migrate" })
      const own = new StoreError.StoreUnavailable({ operation: "migrate", cause: "commit failed" })
      expect(yield* Effect.flip(Migrator.run({ loader, locked: () => Effect.fail(own) }))).toBe(own)
    }).pipe(Effect.provide(client())))
})
