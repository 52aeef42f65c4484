/**
 * The SQLite schema of eventfold, as numbered migrations shipped in code (run by
 * `@effect/sql`'s Migrator with `Migrator.fromRecord`; nothing is read from disk).
 * Never edit a released migration: add the next number.
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"
import { readSideMigration } from "./readSideMigration.ts"
import { createSnapshots } from "./snapshots.ts"

import { eventsTable } from "../../internal/sqlTables.ts"

export { eventsTable, migrationsTable } from "../../internal/sqlTables.ts"

/**
 * `position` is the rowid (AUTOINCREMENT: never reused, even after a delete), so
 * `readAll` pages walk the table itself. `UNIQUE (stream_id, version)` is the index
 * of stream reads and of the head lookup in appends; `event_id` is the idempotency key.
 */
const createEvents = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.unsafe(`CREATE TABLE ${eventsTable} (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  metadata TEXT NOT NULL,
  recorded_at INTEGER NOT NULL,
  CONSTRAINT ${eventsTable}_stream_version UNIQUE (stream_id, version),
  CONSTRAINT ${eventsTable}_event_id UNIQUE (event_id)
)`))

/** Every migration, keyed `<id>_<name>` as `Migrator.fromRecord` expects. */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_create_events": Effect.asVoid(createEvents),
  "2_read_side": readSideMigration,
  // command-state snapshots (src/Snapshot.ts, adr/0015-snapshots.md)
  "3_create_snapshots": createSnapshots
}
