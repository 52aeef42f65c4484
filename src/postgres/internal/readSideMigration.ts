/**
 * The PostgreSQL migration of the read side (internal; its own module so that
 * `migrations.ts` lists it without an import cycle).
 *
 * - `eventfold_projections`: one row per projection, its checkpoint (cursor
 *   text and position) and the runner that leads it (the fencing token every
 *   checkpoint write checks).
 * - A statement-level trigger on the events table that sends
 *   `NOTIFY eventfold_events` (payload: the table's schema). NOTIFY is
 *   transactional: the notification is delivered when the appending
 *   transaction commits, and never if it rolls back. It is a separate object
 *   from the append itself, so it keeps working however appends are written
 *   (one statement, a function, inside a caller's transaction).
 */
import { SqlClient } from "@effect/sql"
import * as Effect from "effect/Effect"

const eventsTable = "eventfold_events"

/** Name of the table of projection checkpoints and runners. */
export const projectionsTable = "eventfold_projections"

/** The channel appends notify on. */
export const notifyChannel = "eventfold_events"

const statements = [
  `CREATE TABLE ${projectionsTable} (
  name text PRIMARY KEY,
  cursor text NOT NULL,
  position bigint NOT NULL,
  runner text,
  updated_at timestamptz
)`,
  `CREATE FUNCTION eventfold_notify_append() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('${notifyChannel}', TG_TABLE_SCHEMA);
  RETURN NULL;
END
$fn$`,
  `CREATE TRIGGER ${eventsTable}_notify AFTER INSERT ON ${eventsTable}
FOR EACH STATEMENT EXECUTE FUNCTION eventfold_notify_append()`
]

/** Migration 3 (2 is the global order's). */
export const readSideMigration: Effect.Effect<void, unknown, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => Effect.forEach(statements, (statement) => sql.unsafe(statement).raw, { discard: true })
)
