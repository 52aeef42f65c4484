/**
 * Running `@effect/sql`'s Migrator for a SQL store, one migrator at a time
 * (internal; shared by the SQLite and PostgreSQL stores).
 *
 * The Migrator alone does not make concurrent migrators wait for each other: it
 * reads the latest applied id, then inserts the rows of the migrations it is
 * about to run, and when that insert fails it takes the database to be
 * "migrating elsewhere" and returns `[]` at once, so its caller could go on
 * while the schema is still being created. So every store runs the Migrator in
 * one transaction that first takes a lock only one migrator holds at a time,
 * supplied by the backend (SQLite: the database's write lock; PostgreSQL: a
 * transaction advisory lock), and released by that transaction's end. A
 * migrator that waited for the lock finds every migration applied and returns
 * `[]` (already applied: nothing to do, not an error).
 *
 * Errors: a driver error becomes what the backend says (`StoreUnavailable`, or
 * on SQLite a busy database that is retried); a `StoreUnavailable` of the
 * transaction stays; anything else the Migrator fails with (duplicate ids, a
 * migration that does not load) becomes `StoreUnavailable({ operation:
 * "migrate" })`; a migration that fails (the Migrator dies with its
 * `MigrationError`) or a driver defect too (`driverDefectsAsUnavailable`).
 */
import type { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { StoreUnavailable } from "../StoreError.ts"
import { driverDefectsAsUnavailable } from "./driverDefects.ts"
import { migrationsTable } from "./sqlTables.ts"

/** The operation named by the errors of a migration. */
export const operation = "migrate"

/**
 * The Migrator's own table, as `@effect/sql`'s Migrator creates it on each
 * dialect (same DDL, made `IF NOT EXISTS`): the backends create it before the
 * Migrator runs (SQLite takes its lock by writing to it; on PostgreSQL the
 * Migrator's probe for it would abort the transaction when it is missing).
 */
export const createMigrationsTableSql = {
  sqlite: `CREATE TABLE IF NOT EXISTS ${migrationsTable} (
  migration_id integer PRIMARY KEY NOT NULL,
  created_at datetime NOT NULL DEFAULT current_timestamp,
  name VARCHAR(255) NOT NULL
)`,
  pg: `CREATE TABLE IF NOT EXISTS ${migrationsTable} (
  migration_id integer primary key,
  created_at timestamp with time zone not null default now(),
  name text not null
)`
} as const

/**
 * What a backend supplies: runs `body` in one transaction that holds the
 * backend's migration lock (taken first, released when the transaction ends)
 * and in which the Migrator's table exists; rolled back when `body` fails.
 */
export type Locked = <A, E, R>(
  body: Effect.Effect<A, E, R>
) => Effect.Effect<A, E | SqlError | StoreUnavailable, R | SqlClient.SqlClient>

/** The applied migrations, as the Migrator reports them: `[id, name]`, in order. */
export type Applied = ReadonlyArray<readonly [id: number, name: string]>

/**
 * Runs the pending migrations of `loader` under the backend's lock (see the
 * module comment). `sqlError` maps a driver error (default:
 * `StoreUnavailable({ operation: "migrate" })`).
 */
export const run = <E = never>(options: {
  readonly loader: Migrator.Loader
  readonly locked: Locked
  readonly sqlError?: ((error: SqlError) => E | StoreUnavailable) | undefined
}): Effect.Effect<Applied, E | StoreUnavailable, SqlClient.SqlClient> => {
  const sqlError = options.sqlError ?? ((error: SqlError) => new StoreUnavailable({ operation, cause: error }))
  return options.locked(Migrator.make({})({ loader: options.loader, table: migrationsTable })).pipe(
    Effect.mapError((error): E | StoreUnavailable =>
      error instanceof SqlError
        ? sqlError(error)
        : error instanceof StoreUnavailable
        ? error
        : new StoreUnavailable({ operation, cause: error })
    ),
    driverDefectsAsUnavailable(operation)
  )
}
