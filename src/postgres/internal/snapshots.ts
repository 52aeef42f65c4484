/**
 * The PostgreSQL snapshot store (internal; public as `PgSnapshotStore`): one
 * row per snapshot in `eventfold_snapshots`, created by the store's migrations
 * in the first schema of the `search_path`, as the events table is.
 *
 * Each operation is one statement outside any transaction of the store (none
 * takes the append lock), so snapshot writes never hold appends back.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { SnapshotStore } from "../../Snapshot.ts"
import { InvalidArgument, StoreUnavailable } from "../../StoreError.ts"
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
 * (the highest version of a key, an index scan backward) and makes a second
 * save of one version a no-op. `state` is `text`, not `jsonb`: it is read back
 * byte for byte as it was encoded, and nothing but the policy's schema reads it.
 */
export const createSnapshots = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.asVoid(sql.unsafe(`CREATE TABLE ${snapshotsTable} (
  decider text NOT NULL,
  stream_id text NOT NULL,
  schema_version integer NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  position bigint NOT NULL,
  state text NOT NULL,
  taken_at timestamptz NOT NULL,
  PRIMARY KEY (decider, stream_id, schema_version, version)
)`).raw))

const loadSql = `SELECT version, position, state, floor(extract(epoch FROM taken_at) * 1000)::float8
FROM ${snapshotsTable} WHERE decider = $1 AND stream_id = $2 AND schema_version = $3 ORDER BY version DESC LIMIT 1`

const saveSql = `INSERT INTO ${snapshotsTable} (decider, stream_id, schema_version, version, position, state, taken_at)
VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::float8 / 1000)) ON CONFLICT DO NOTHING`

const pruneSql = `WITH kept AS (
  SELECT version FROM ${snapshotsTable} WHERE decider = $1 AND stream_id = $2 AND schema_version = $3
  ORDER BY version DESC LIMIT $4
), deleted AS (
  DELETE FROM ${snapshotsTable} WHERE decider = $1 AND stream_id = $2 AND (
    schema_version < $3 OR (schema_version = $3 AND version < coalesce((SELECT min(version) FROM kept), 0))
  ) RETURNING 1
) SELECT count(*)::int FROM deleted`

const classify = (operation: string) => (error: SqlError): StoreUnavailable | InvalidArgument => {
  const cause: unknown = error.cause
  const field = (name: "code" | "message"): string =>
    typeof cause === "object" && cause !== null && name in cause && typeof (cause as Record<string, unknown>)[name] === "string"
      ? (cause as Record<string, string>)[name]!
      : ""
  const code = field("code")
  const message = field("message")
  // class 22 (data exception): a value PostgreSQL refuses, the caller's input
  if (code.startsWith("22")) return new InvalidArgument({ operation, reason: `rejected by PostgreSQL: ${message}` })
  return new StoreUnavailable({ operation, cause: error })
}

/** The snapshot store over the `SqlClient` in context (a migrated `PgClient`). */
export const make: Effect.Effect<SnapshotStore.Service, never, SqlClient.SqlClient> = Effect.map(
  SqlClient.SqlClient,
  (sql) => {
    const run = <A>(operation: string, statement: Effect.Effect<A, SqlError>) =>
      statement.pipe(Effect.mapError(classify(operation)), driverDefectsAsUnavailable(operation))

    const { load, save } = sqlLoadAndSave(
      (params) => run("loadSnapshot", sql.unsafe(loadSql, params).values),
      (params) => outsideTransactions(run("saveSnapshot", sql.unsafe(saveSql, params).raw))
    )

    const prune: SnapshotStore.Service["prune"] = (key, keep) =>
      Either.match(checkPrune(key, keep), {
        onLeft: Effect.fail,
        onRight: (k) =>
          Effect.map(
            outsideTransactions(run("pruneSnapshots", sql.unsafe(pruneSql, [k.decider, k.streamId, k.schemaVersion, keep]).values)),
            (rows) => Number(rows[0]?.[0] ?? 0)
          )
      })

    return SnapshotStore.of({ load, save, prune })
  }
)
