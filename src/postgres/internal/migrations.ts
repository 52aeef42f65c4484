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
import * as Effect from "effect/Effect"
import { notifyChannel, readSideMigration } from "./readSideMigration.ts"
import { createSnapshots } from "./snapshots.ts"

/** Name of the events table. */
export const eventsTable = "eventfold_events"

/** Name of the table the Migrator records applied migrations in. */
export const migrationsTable = "eventfold_migrations"

/**
 * - `position`: an identity (a sequence with cache 1), each event's unique
 *   global number. Migration 1 paged `readAll` by it under an append lock
 *   (adr/0004); since migration 2 the order is `(transaction_id, position)`
 *   (adr/0012).
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

/** Name of the append function. */
export const appendFunction = "eventfold_append"

/** SQLSTATE the append function raises when an expected version does not match. */
export const wrongExpectedVersionCode = "EF409"

/**
 * Global order without a global lock (adr/0012-postgres-global-order.md):
 *
 * - `transaction_id`: the id of the transaction that wrote the row
 *   (`pg_current_xact_id()`, a 64-bit `xid8` that never wraps around). Rows
 *   written before this migration get 0: they keep their position order and
 *   come before every later row.
 * - `(transaction_id, position)`: the global order, and the index `readAll`
 *   pages over (a keyset on the pair, cut below the oldest running transaction).
 */
const addTransactionId = [
  `ALTER TABLE ${eventsTable} ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0'`,
  `ALTER TABLE ${eventsTable} ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id()`,
  `CREATE INDEX ${eventsTable}_global_order ON ${eventsTable} (transaction_id, position)`
]

/**
 * The append as one server-side call (plpgsql caches both statements' plans
 * per session). Called on its own it is its own transaction: the call is the
 * whole append, one round trip, and nothing is held across a commit but the
 * rows' own index entries.
 *
 * 1. Each write's head (the correlated `max` is one backward probe of the
 *    `(stream_id, version)` index) and the first write, by 1-based ordinal,
 *    whose expected version (`kind` is the `ExpectedVersion` tag, `expected`
 *    the version of `Exact`) does not match.
 * 2. A mismatch raises SQLSTATE EF409 with the stream, the expected and the
 *    actual version in the message and `{"write": ordinal, "actual": head}` in
 *    the detail; nothing is written.
 * 3. Otherwise every event is inserted at `head + its 1-based index within its
 *    write`, in the order of the writes and of their events (`ORDER BY r.ord`:
 *    the identity hands out positions after the sort). A writer that got to a
 *    version first makes the insert wait for it and then fail on
 *    `UNIQUE (stream_id, version)` (23505): optimistic concurrency stays exact.
 *    A reused event id fails on `UNIQUE (event_id)` (23505).
 *
 * Returns the heads (in write order) and the positions drawn (ascending).
 */
const createAppendFunction = `CREATE FUNCTION ${appendFunction}(
  stream_ids text[], kinds text[], expected int8[],
  write_ords int4[], event_indexes int4[], event_ids uuid[], types text[], data jsonb[], metadata jsonb[],
  recorded_at timestamptz
) RETURNS TABLE (heads int8[], positions int8[])
LANGUAGE plpgsql AS $fn$
DECLARE
  found_heads int8[];
  bad int4;
BEGIN
  SELECT array_agg(w.head ORDER BY w.ord),
    min(w.ord) FILTER (WHERE NOT coalesce(CASE w.kind
      WHEN 'Any' THEN true
      WHEN 'NoStream' THEN w.head = 0
      WHEN 'StreamExists' THEN w.head > 0
      WHEN 'Exact' THEN w.head = w.expected
    END, false))::int4
  INTO found_heads, bad
  FROM (
    SELECT u.ord, u.kind, u.expected,
      coalesce((SELECT max(e.version) FROM ${eventsTable} e WHERE e.stream_id = u.stream_id), 0)::int8 AS head
    FROM unnest(stream_ids, kinds, expected) WITH ORDINALITY AS u(stream_id, kind, expected, ord)
  ) w;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION USING
      ERRCODE = '${wrongExpectedVersionCode}',
      MESSAGE = format('wrong expected version for stream %s: expected %s, actual version %s',
        stream_ids[bad], CASE WHEN kinds[bad] = 'Exact' THEN 'version ' || expected[bad] ELSE kinds[bad] END, found_heads[bad]),
      DETAIL = json_build_object('write', bad, 'actual', found_heads[bad])::text;
  END IF;
  IF coalesce(array_length(event_ids, 1), 0) = 0 THEN
    RETURN QUERY SELECT found_heads, ARRAY[]::int8[];
    RETURN;
  END IF;
  RETURN QUERY WITH inserted AS (
    INSERT INTO ${eventsTable} (stream_id, version, event_id, type, data, metadata, recorded_at)
    SELECT stream_ids[r.write_ord], found_heads[r.write_ord] + r.event_index, r.event_id, r.type, r.data, r.metadata, recorded_at
    FROM unnest(write_ords, event_indexes, event_ids, types, data, metadata) WITH ORDINALITY
      AS r(write_ord, event_index, event_id, type, data, metadata, ord)
    ORDER BY r.ord
    RETURNING ${eventsTable}.position
  )
  SELECT found_heads, ARRAY(SELECT i.position FROM inserted i ORDER BY i.position);
END
$fn$`

/**
 * Migration 5 (adr/0012, 2026-12-03 evening; adr/0007): the same append, with
 * plans that are really cached.
 *
 * PL/pgSQL caches a statement's plan per session, but with parameters it
 * first plans each call with their values ("custom" plans), and keeps doing so
 * while the generic plan's estimated cost is higher than the custom ones'. It
 * always is here (a generic `unnest` of an array parameter is estimated at 10
 * rows, a custom one at the array's length), so every call planned both
 * statements again: measured at 0.7–1.3 ms per single-event call against
 * 0.24 ms with `plan_cache_mode = force_generic_plan`, as cheap as a prepared
 * INSERT of the row. The generic plans are the same shape (an index probe per
 * write, an insert from `unnest`). Set on the function, the setting holds only
 * while it runs. The head subquery sits under `OFFSET 0` so that it runs once
 * per write (it was expanded into each of its uses: two index probes per
 * write). Same signature, same result, same errors.
 */
const cacheAppendPlans = createAppendFunction
  .replace(`CREATE FUNCTION ${appendFunction}`, `CREATE OR REPLACE FUNCTION ${appendFunction}`)
  .replace("LANGUAGE plpgsql AS $fn$", "LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$")
  .replace(
    "FROM unnest(stream_ids, kinds, expected) WITH ORDINALITY AS u(stream_id, kind, expected, ord)\n  ) w;",
    "FROM unnest(stream_ids, kinds, expected) WITH ORDINALITY AS u(stream_id, kind, expected, ord)\n    OFFSET 0\n  ) w;"
  )

/**
 * Migration 5 (adr/0012): appends that commit in parallel although live
 * subscriptions are notified.
 *
 * Migration 3's trigger notifies in the appending transaction. A transaction
 * that has notified takes, before it commits, one lock for the whole cluster
 * (PostgreSQL queues notifications in commit order) and holds it until its
 * commit is flushed: every append's commit flush was serialized again, as
 * under ADR 0004's lock (measured on a durable server: 154 appends/s at 32
 * writers with the trigger, 575/s without).
 *
 * So an append sent on its own (autocommit) no longer notifies in its
 * transaction: this overload of `eventfold_append`, with a last argument
 * `notify_after_commit`, tells the trigger (through a transaction-local
 * setting) to skip, and the store sends the notification right after the
 * commit, with {@link notifyFunction}. Appends inside a caller's transaction
 * (the store passes `false`) and rows written by anything else still notify
 * from the trigger, at their commit.
 */
const createQuietAppendFunction = cacheAppendPlans
  .replace(
    "  recorded_at timestamptz\n) RETURNS TABLE",
    "  recorded_at timestamptz, notify_after_commit boolean\n) RETURNS TABLE"
  )
  .replace(
    "  IF coalesce(array_length(event_ids, 1), 0) = 0 THEN",
    "  IF notify_after_commit THEN\n    PERFORM set_config('eventfold.notify', 'after_commit', true);\n  END IF;\n" +
      "  IF coalesce(array_length(event_ids, 1), 0) = 0 THEN"
  )

/** The trigger's function, now skipping the transactions whose append notifies after its commit. */
const replaceNotifyTrigger = `CREATE OR REPLACE FUNCTION eventfold_notify_append() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF current_setting('eventfold.notify', true) IS DISTINCT FROM 'after_commit' THEN
    PERFORM pg_notify('${notifyChannel}', TG_TABLE_SCHEMA);
  END IF;
  RETURN NULL;
END
$fn$`

/** Name of the function that notifies subscribers after an append committed. */
export const notifyFunction = "eventfold_notify"

/**
 * The notification of an append that committed (migration 5), as its own
 * transaction. A notifying transaction gets a transaction id and so a commit
 * record; this one's commit does not wait for its flush
 * (`synchronous_commit = off` for this transaction only): it writes nothing a
 * crash could lose but the wake-up, and holds the notification lock for
 * microseconds. The payload is the events table's schema, like the trigger's.
 */
const createNotifyFunction = `CREATE FUNCTION ${notifyFunction}() RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_notify('${notifyChannel}', (SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = '${eventsTable}'::regclass));
END
$fn$`

/** Name of the forward stream-read function. */
export const readForwardFunction = "eventfold_read_forward"

/**
 * Migration 5: a stream's forward page as a server-side function, so that
 * its plan is cached per session (`@effect/sql-pg` sends every statement
 * unnamed: the server parsed and planned the page query on every command;
 * the call itself is a trivial statement to plan). The same statement as
 * before: the version range `[from_version, from_version + page_size)` and
 * the first row after it (the lookahead, adr/0003), in version order, the
 * columns the store's row mapping reads.
 */
const createReadForwardFunction = `CREATE FUNCTION ${readForwardFunction}(stream text, from_version int8, page_size int8)
RETURNS TABLE ("position" int8, version int4, event_id uuid, type text, data text, metadata text, recorded_at float8, transaction_id text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
  RETURN QUERY
  (SELECT e.position, e.version, e.event_id, e.type, e.data::text, e.metadata::text,
      floor(extract(epoch FROM e.recorded_at) * 1000)::float8, e.transaction_id::text
    FROM ${eventsTable} e
    WHERE e.stream_id = stream AND e.version >= from_version AND e.version < from_version + page_size
    ORDER BY e.version)
  UNION ALL
  (SELECT e.position, e.version, e.event_id, e.type, e.data::text, e.metadata::text,
      floor(extract(epoch FROM e.recorded_at) * 1000)::float8, e.transaction_id::text
    FROM ${eventsTable} e
    WHERE e.stream_id = stream AND e.version >= from_version + page_size
    ORDER BY e.version LIMIT 1)
  ORDER BY 2;
END
$fn$`

/** Name of the Executor's fold-read function. */
export const readFoldFunction = "eventfold_read_fold"

/**
 * Migration 5: the Executor's fold read (internal/keyset.ts `FoldReader`) as a
 * server-side function, for the same reason as the forward read: the same
 * version range and lookahead row, only the columns a fold uses (version,
 * type, payload as text, and the position for a decode error).
 */
const createReadFoldFunction = `CREATE FUNCTION ${readFoldFunction}(stream text, from_version int8, page_size int8)
RETURNS TABLE (version int4, type text, data text, "position" float8)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
  RETURN QUERY
  (SELECT e.version, e.type, e.data::text, e.position::float8
    FROM ${eventsTable} e
    WHERE e.stream_id = stream AND e.version >= from_version AND e.version < from_version + page_size
    ORDER BY e.version)
  UNION ALL
  (SELECT e.version, e.type, e.data::text, e.position::float8
    FROM ${eventsTable} e
    WHERE e.stream_id = stream AND e.version >= from_version + page_size
    ORDER BY e.version LIMIT 1)
  ORDER BY 1;
END
$fn$`

const run = (statements: ReadonlyArray<string>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(statements, (statement) => sql.unsafe(statement).raw, { discard: true }))

/** Every migration, keyed `<id>_<name>` as `Migrator.fromRecord` expects. Never edit one: add the next. */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_create_events": run([createEvents]),
  "2_global_order_by_transaction": run([...addTransactionId, createAppendFunction]),
  "3_read_side": readSideMigration,
  // command-state snapshots (src/Snapshot.ts, adr/0015-snapshots.md)
  "4_create_snapshots": createSnapshots,
  // cached plans for the append and the command's read, notifications after
  // the commit (adr/0012, adr/0007)
  "5_cached_plans_and_notify_after_commit": run([cacheAppendPlans, createReadForwardFunction, createReadFoldFunction, createQuietAppendFunction, replaceNotifyTrigger, createNotifyFunction])
}
