/**
 * The SQLite snapshot store (internal; public as `SqliteSnapshotStore`): one row
 * per snapshot in `eventfold_snapshots`, created by the store's migrations.
 *
 * Each operation is one autocommit statement. Saves and prunes are writes: while
 * another connection holds the write lock (an append in another process) they
 * wait, asynchronously, with short jittered retries up to `busyTimeout`, then
 * fail with `StoreUnavailable`.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import type { Key } from "../../Snapshot.ts"
import { SnapshotStore } from "../../Snapshot.ts"
import { StoreUnavailable } from "../../StoreError.ts"
import { driverDefectsAsUnavailable } from "../../internal/driverDefects.ts"
import { checkPrune, sqlLoadAndSave } from "../../internal/snapshot.ts"

/**
 * Saves and prunes run on a connection of their own, never inside a caller's
 * transaction: the executor forks them after the command, when a transaction it
 * ran in may be over and its connection handed to someone else. (On SQLite, whose
 * client has one connection, they wait until such a transaction ends.)
 */
const outsideTransactions = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapInputContext(self, (context: Context.Context<R>) => Context.omit(SqlClient.TransactionConnection)(context) as Context.Context<R>)

/** Name of the snapshots table. */
export const snapshotsTable = "eventfold_snapshots"

/**
 * The migration creating the table. The primary key is the lookup of `load`
 * (the highest version of a key) and makes a second save of one version a
 * no-op; `WITHOUT ROWID` stores rows in that key's order.
 */
export const createSnapshots = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.asVoid(sql.unsafe(`CREATE TABLE ${snapshotsTable} (
  decider TEXT NOT NULL,
  stream_id TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  version INTEGER NOT NULL,
  position INTEGER NOT NULL,
  state TEXT NOT NULL,
  taken_at INTEGER NOT NULL,
  PRIMARY KEY (decider, stream_id, schema_version, version)
) WITHOUT ROWID`).raw))

const loadSql = `SELECT version, position, state, taken_at FROM ${snapshotsTable}
WHERE decider = ? AND stream_id = ? AND schema_version = ? ORDER BY version DESC LIMIT 1`

const saveSql = `INSERT INTO ${snapshotsTable} (decider, stream_id, schema_version, version, position, state, taken_at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`

const pruneSql = `DELETE FROM ${snapshotsTable} WHERE decider = ? AND stream_id = ? AND (
  schema_version < ? OR (schema_version = ? AND version < coalesce((
    SELECT min(version) FROM (
      SELECT version FROM ${snapshotsTable} WHERE decider = ? AND stream_id = ? AND schema_version = ?
      ORDER BY version DESC LIMIT ?
    )
  ), 0))
)`

class Busy extends Data.TaggedError("Busy")<{ readonly cause: SqlError }> {}

const isBusy = (error: SqlError): boolean => {
  const cause = error.cause
  const code = typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : ""
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")
}

/** Options of {@link make}. */
export interface Options {
  /** How long a write keeps retrying while the database is locked. Default 5 seconds. */
  readonly busyTimeout?: Duration.DurationInput | undefined
}

/** The snapshot store over the `SqlClient` in context (a migrated SQLite client). */
export const make = (options?: Options): Effect.Effect<SnapshotStore.Service, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (sql) => {
    const schedule = Schedule.exponential(Duration.millis(2), 2).pipe(
      Schedule.union(Schedule.spaced(Duration.millis(50))),
      Schedule.jittered,
      Schedule.upTo(Duration.decode(options?.busyTimeout ?? Duration.seconds(5)))
    )
    const run = <A>(operation: string, statement: Effect.Effect<A, SqlError>): Effect.Effect<A, StoreUnavailable> =>
      statement.pipe(
        Effect.mapError((error) => isBusy(error) ? new Busy({ cause: error }) : new StoreUnavailable({ operation, cause: error })),
        Effect.retry({ schedule, while: (error) => error._tag === "Busy" }),
        Effect.mapError((error) => error._tag === "Busy" ? new StoreUnavailable({ operation, cause: error.cause }) : error),
        driverDefectsAsUnavailable(operation)
      )

    const { load, save } = sqlLoadAndSave(
      (params) => run("loadSnapshot", sql.unsafe(loadSql, params).values),
      (params) => outsideTransactions(run("saveSnapshot", sql.unsafe(saveSql, params).raw))
    )

    const prune: SnapshotStore.Service["prune"] = (key: Key, keep: number) =>
      Either.match(checkPrune(key, keep), {
        onLeft: Effect.fail,
        onRight: (k) =>
          Effect.map(
            outsideTransactions(run(
              "pruneSnapshots",
              sql.unsafe(pruneSql, [
                k.decider,
                k.streamId,
                k.schemaVersion,
                k.schemaVersion,
                k.decider,
                k.streamId,
                k.schemaVersion,
                keep
              ]).raw
            )),
            (result) => Number((result as { readonly changes?: number }).changes ?? 0)
          )
      })

    return SnapshotStore.of({ load, save, prune })
  })
