/**
 * The SQLite migration of the read side (internal; in its own module so that
 * `migrations.ts` can list it without an import cycle).
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"

const eventsTable = "eventfold_events"

/** Name of the table of projection checkpoints and leases. */
export const projectionsTable = "eventfold_projections"

/**
 * Migration 2: the projections table (checkpoint, lease) and the index of
 * reads filtered by type.
 */
export const readSideMigration: Effect.Effect<void, unknown, SqlClient.SqlClient> = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.zipRight(
    sql.unsafe(`CREATE TABLE ${projectionsTable} (
  name TEXT PRIMARY KEY,
  cursor TEXT NOT NULL,
  position INTEGER NOT NULL,
  runner TEXT,
  lease_expires_at INTEGER,
  updated_at INTEGER
)`).raw,
    sql.unsafe(`CREATE INDEX ${eventsTable}_type_position ON ${eventsTable} (type, position)`).raw
  )).pipe(Effect.asVoid)

