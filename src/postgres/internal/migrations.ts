/**
 * The PostgreSQL schema of eventfold, as numbered migrations shipped in code (run
 * by `@effect/sql`'s Migrator through `PgMigrator.fromRecord`; nothing is read
 * from disk). Never edit a released migration: add the next number.
 *
 * Tables are created unqualified, in the first schema of the connection's
 * `search_path`: point `search_path` at another schema to keep several stores in
 * one database.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** Name of the events table. */
export const eventsTable = "eventfold_events"

/** Name of the table the Migrator records applied migrations in. */
export const migrationsTable = "eventfold_migrations"

/**
 * - `position`: an identity (a sequence with cache 1). Appends take it while
 *   holding the store's append lock, so positions become visible in order (see
 *   adr/0004-global-order.md); it is the key of `readAll`'s keyset pages.
 * - `UNIQUE (stream_id, version)`: the index of stream reads and head lookups,
 *   and the backstop against concurrent writers of one version.
 * - `UNIQUE (event_id)`: the idempotency key.
 * - `data`, `metadata`: `jsonb`, so invalid JSON is rejected on append.
 */
const createEvents = `CREATE TABLE ${eventsTable} (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream_id text NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  event_id uuid NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  recorded_at timestamptz NOT NULL,
  CONSTRAINT ${eventsTable}_stream_version UNIQUE (stream_id, version),
  CONSTRAINT ${eventsTable}_event_id UNIQUE (event_id)
)`

/** Every migration, keyed `<id>_<name>` as `Migrator.fromRecord` expects. */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_create_events": Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.asVoid(sql.unsafe(createEvents).raw))
}
