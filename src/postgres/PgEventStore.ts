/**
 * An `EventStore` over PostgreSQL (`@effect/sql-pg`), for applications that run
 * many instances against one database.
 *
 * - One table, `eventfold_events`, created by numbered migrations shipped in the
 *   package and run by `@effect/sql`'s Migrator (the layers run them unless
 *   `runMigrations: false`). `data` and `metadata` are `jsonb`; what PostgreSQL
 *   refuses to store (a NUL character in a type, a `\u0000` escape in JSON) is
 *   rejected with `InvalidArgument`, as is, before any SQL, what no backend
 *   stores (ids that are not lowercase UUIDs, data that is not JSON).
 * - Reads are lazy keyset pages (the version range `[next, next + n)` of a
 *   stream; `position >= next ORDER BY position LIMIT n` for `readAll`): one short
 *   query per page, run only when the consumer pulls; no connection is held
 *   between pages, so a consumer that stops early holds nothing. For long reads
 *   pass a larger `pageSize` (1000 reads about twice as fast as the default 256).
 *   See adr/0003-postgres-reads.md.
 * - An append is one transaction: it takes the store's append lock (a transaction
 *   advisory lock, in the same round trip as `BEGIN`), then one statement checks
 *   every expected version and, only when all match, inserts every event with an
 *   `INSERT ... SELECT FROM unnest(...) WITH ORDINALITY ... ORDER BY` (so
 *   positions follow the order of the writes and of their events), then commits.
 *   Holding the lock from the moment positions are drawn until commit makes
 *   positions become visible in order, so `readAll` never passes an event whose
 *   transaction commits late. See adr/0004-global-order.md.
 * - Constraint violations and serialization failures surface as
 *   `WrongExpectedVersion` / `DuplicateEventId`, never as a raw `SqlError`; lost
 *   connections and timeouts as `StoreUnavailable`, never as a defect.
 * - A COMMIT that fails, or a connection lost during the append, gives
 *   `StoreUnavailable`, and then **the outcome is unknown**: the server may have
 *   committed before the acknowledgement was lost. Event ids are the idempotency
 *   key, so retrying the same events (same ids) can never store them twice: if
 *   the first attempt committed, the retry fails with `DuplicateEventId` (or,
 *   when its expected version no longer matches because the first attempt moved
 *   the stream, with `WrongExpectedVersion`; read the stream back and look for
 *   the ids to tell the two apart).
 * - An append run inside `sql.withTransaction` joins that transaction: your own
 *   writes and the events commit together (the append lock is then held until
 *   your transaction ends). Such a transaction must run at READ COMMITTED (the
 *   default): under REPEATABLE READ or SERIALIZABLE its snapshot predates the
 *   append lock, the version checks could never see a newer head, and a conflict
 *   would repeat forever; so an append with events fails there at once with
 *   `InvalidArgument`.
 * - Beware: `@effect/sql`'s `SqlClient.TransactionConnection` is one context tag
 *   shared by every client. Inside `withTransaction` of *any* client (another
 *   pool, another database, even SQLite) this store runs its statements on that
 *   transaction's connection. Run appends inside transactions of the client the
 *   store was built on only.
 *
 * @example
 * ```ts
 * import { PgEventStore } from "eventfold/postgres"
 *
 * program.pipe(Effect.provide(PgEventStore.layer({ url: Redacted.make("postgres://localhost/app") })))
 * ```
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient, PgMigrator } from "@effect/sql-pg"
import type { ConfigError } from "effect/ConfigError"
import { Clock, Config, Effect, Either, Layer, Option, Schedule } from "effect"
import { defaultPageSize, EventStore } from "../EventStore.ts"
import type { AppendResult, StreamAppendResult, StreamWrite } from "../EventStore.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import { DuplicateEventId, InvalidArgument, StoreUnavailable, WrongExpectedVersion } from "../StoreError.ts"
import type { AppendError } from "../StoreError.ts"
import { keysetReads } from "../internal/keyset.ts"
import type { Row } from "../internal/keyset.ts"
import { checkWrites, eventCount } from "../internal/validate.ts"
import { driverDefectsAsUnavailable } from "../internal/driverDefects.ts"
import { transaction } from "../internal/transaction.ts"
import { classifyAppend, driverError } from "./internal/errors.ts"
import { eventsTable, migrations as migrationRecord, migrationsTable } from "./internal/migrations.ts"

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export interface MakeOptions {
  /** The page size of reads that do not pass one (default `EventStore.defaultPageSize`, 256). */
  readonly pageSize?: number | undefined
}

/**
 * Options of {@link layerFromClient}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions extends MakeOptions {
  /** Run the schema migrations when the layer is built. Default `true`. */
  readonly runMigrations?: boolean | undefined
}

/**
 * Options of {@link layer}: the `@effect/sql-pg` client configuration (URL or
 * host, pool size, ...) and the store's own options.
 *
 * @since 0.1.0
 */
export interface Options extends PgClient.PgClientConfig, StoreOptions {}

const unavailable = (operation: string) => (error: unknown) => new StoreUnavailable({ operation, cause: error })

// ---------------------------------------------------------------------------
// SQL text, built once

/** `recorded_at` as epoch milliseconds (a float8 the driver parses as a number). */
const recordedAtMs = "floor(extract(epoch FROM recorded_at) * 1000)::float8"
const streamColumns = `position, version, event_id, type, data::text, metadata::text, ${recordedAtMs}`
/**
 * Stream pages are version ranges, not `LIMIT`s: versions are dense (an append
 * writes `head + 1 .. head + n`; rows are never deleted), so the range
 * `[from, from + pageSize)` is exactly one page, and the query touches only that
 * page's rows whatever plan the planner picks (with stale statistics it may pick
 * a bitmap scan plus sort, which under `LIMIT` reads the rest of the stream for
 * every page). A short page is the end of the stream. Parameters are `int8` so
 * that any `from` a caller passes stays in range.
 */
const readForwardSql =
  `SELECT ${streamColumns} FROM ${eventsTable} WHERE stream_id = $1 AND version >= $2::int8 AND version < $2::int8 + $3::int8 ORDER BY version`
/** Backward pages start at the stream's head when `from` is beyond it (one index probe). */
const readBackwardSql = `WITH head AS (
  SELECT least($2::int8, coalesce(max(version), 0)) AS top FROM ${eventsTable} WHERE stream_id = $1
)
SELECT ${streamColumns} FROM ${eventsTable}, head
WHERE stream_id = $1 AND version <= head.top AND version > head.top - $3::int8 ORDER BY version DESC`
const readAllSql =
  `SELECT position, stream_id, version, event_id, type, data::text, metadata::text, ${recordedAtMs} FROM ${eventsTable} WHERE position >= $1 ORDER BY position LIMIT $2`

/**
 * Each stream's last version (0 when it has none), in the order given. The
 * correlated `max` is answered from the `(stream_id, version)` index by one
 * backward probe, however long the stream.
 */
const headsSql = `SELECT coalesce((SELECT max(e.version) FROM ${eventsTable} e WHERE e.stream_id = w.stream_id), 0)
FROM unnest($1::text[]) WITH ORDINALITY AS w(stream_id, ord) ORDER BY w.ord`

/**
 * The append lock: a transaction-scoped advisory lock keyed by eventfold's class
 * id and the events table's oid (so stores in different schemas do not share it).
 * Released by commit or rollback, after the transaction's rows are visible.
 */
const appendLockClass = 0x65766674 // "evft"
const appendLockSql = `SELECT pg_advisory_xact_lock(${appendLockClass}, '${eventsTable}'::regclass::oid::int4)`

/**
 * The lock statement of an append that joins the caller's transaction: it reports
 * the transaction's isolation level and takes the append lock only at READ
 * COMMITTED (under REPEATABLE READ or SERIALIZABLE the append is refused, so it
 * must not first wait for the lock).
 */
const nestedAppendLockSql = `SELECT current_setting('transaction_isolation'),
  CASE WHEN current_setting('transaction_isolation') = 'read committed' THEN ${appendLockSql.slice("SELECT ".length)} END`

/**
 * How an append's own transaction begins: at READ COMMITTED whatever the
 * server's default (under REPEATABLE READ or SERIALIZABLE the snapshot would be
 * taken before the lock is granted, so the version checks would not see the
 * previous lock holder's events), then the append lock. No parameters, so the
 * driver sends both statements as one query: one round trip.
 */
const beginAppendSql = `BEGIN ISOLATION LEVEL READ COMMITTED; ${appendLockSql}`

/** The same lock for migrations, keyed by class id and 0 (the table may not exist yet). */
const migrateLockSql = `SELECT pg_advisory_xact_lock(${appendLockClass}, 0)`

/**
 * An append with events in one statement, run after the append lock was granted
 * (by the previous statement, so this statement's snapshot sees every committed
 * append): it reads each write's head (the correlated `max` is one backward probe
 * of the `(stream_id, version)` index), checks each write's expected version
 * (`kind` is the `ExpectedVersion` tag, `expected` the version of `Exact`) and
 * inserts every event only when all match, at `head + its 1-based index within
 * its write`. Returns one row: the heads in write order, the 1-based ordinal of
 * the first write whose expected version does not match (`NULL` when all match;
 * then nothing is inserted and no position is drawn) and the positions drawn,
 * ascending.
 *
 * `w` is referenced twice, so PostgreSQL computes it once. `ORDER BY r.ord`
 * fixes the order rows are inserted in, hence the order the identity hands out
 * positions in (a volatile default is evaluated after the sort): positions
 * increase with (write, event) order. 10 parameters, whatever the number of
 * writes and events.
 */
const appendSql = `WITH w AS (
  SELECT w.ord, w.stream_id, w.kind, w.expected,
    coalesce((SELECT max(e.version) FROM ${eventsTable} e WHERE e.stream_id = w.stream_id), 0) AS head
  FROM unnest($1::text[], $2::text[], $3::int8[]) WITH ORDINALITY AS w(stream_id, kind, expected, ord)
), checked AS (
  SELECT array_agg(w.head ORDER BY w.ord) AS heads,
    (min(w.ord) FILTER (WHERE NOT coalesce(CASE w.kind
      WHEN 'Any' THEN true
      WHEN 'NoStream' THEN w.head = 0
      WHEN 'StreamExists' THEN w.head > 0
      WHEN 'Exact' THEN w.head = w.expected
    END, false)))::int4 AS mismatch
  FROM w
), inserted AS (
  INSERT INTO ${eventsTable} (stream_id, version, event_id, type, data, metadata, recorded_at)
  SELECT w.stream_id, w.head + r.event_index, r.event_id, r.type, r.data, r.metadata, $10::timestamptz
  FROM unnest($4::int4[], $5::int4[], $6::uuid[], $7::text[], $8::jsonb[], $9::jsonb[]) WITH ORDINALITY
    AS r(write_ord, event_index, event_id, type, data, metadata, ord)
  JOIN w ON w.ord = r.write_ord
  WHERE (SELECT c.mismatch IS NULL FROM checked c)
  ORDER BY r.ord
  RETURNING position
)
SELECT c.heads, c.mismatch, ARRAY(SELECT i.position FROM inserted i ORDER BY i.position) FROM checked c`

/**
 * Serialization failures and deadlocks are retried at once, up to 5 times (no
 * sleeping, so a `TestClock` never stalls an append); then they surface as
 * `WrongExpectedVersion`, which the Executor retries with its own backoff.
 */
const retrySchedule = Schedule.recurs(5)

const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i

const versionKeyPrefix = "Key (stream_id, version)=("
const versionKeySuffix = /, \d+\) already exists\.$/

/**
 * The index of the write named by a `(stream_id, version)` violation's detail
 * (`Key (stream_id, version)=(acct-1, 7) already exists.`), or -1 when the
 * detail is missing or in another language.
 */
const collidedWrite = (writes: ReadonlyArray<StreamWrite>, cause: SqlError): number => {
  const { detail } = driverError(cause)
  const suffix = versionKeySuffix.exec(detail)
  if (!detail.startsWith(versionKeyPrefix) || suffix === null) return -1
  const streamId = detail.slice(versionKeyPrefix.length, suffix.index)
  return writes.findIndex((write) => write.events.length > 0 && write.streamId === streamId)
}

// ---------------------------------------------------------------------------
// Constructors

/**
 * Builds the store over the `SqlClient` in context, which must be a PostgreSQL
 * client (`PgClient`) whose schema is migrated ({@link migrate}). Bring your own
 * client this way to share its pool with your own tables.
 *
 * @since 0.1.0
 */
export const make = (options?: MakeOptions): Effect.Effect<EventStore.Service, never, SqlClient.SqlClient> =>
  Effect.map(SqlClient.SqlClient, (sql) => {
    const fetch = (text: string, params: ReadonlyArray<unknown>) =>
      Effect.mapError(sql.unsafe<Row>(text, params).values, unavailable("read"))

    const { read, readAll } = keysetReads({
      forward: (streamId, cursor, pageSize) => fetch(readForwardSql, [streamId, cursor, pageSize]),
      backward: (streamId, cursor, pageSize) => fetch(readBackwardSql, [streamId, cursor, pageSize]),
      all: (cursor, pageSize) => fetch(readAllSql, [cursor, pageSize])
    }, options?.pageSize ?? defaultPageSize)

    const heads = (writes: ReadonlyArray<StreamWrite>): Effect.Effect<Array<number>, SqlError> =>
      Effect.map(
        sql.unsafe(headsSql, [writes.map((write) => write.streamId)]).values,
        (rows) => rows.map((row) => row[0] as number)
      )

    /**
     * Runs {@link appendSql}: the heads, the first write whose expected version
     * does not match (its index, or -1) and the positions of the events in order.
     */
    const checkAndInsert = (writes: ReadonlyArray<StreamWrite>, recordedAt: Date) =>
      Effect.suspend(() => {
        const streamIds: Array<string> = []
        const kinds: Array<string> = []
        const expectedVersions: Array<number> = []
        const writeOrds: Array<number> = []
        const eventIndexes: Array<number> = []
        const eventIds: Array<string> = []
        const types: Array<string> = []
        const data: Array<string> = []
        const metadata: Array<string> = []
        for (let w = 0; w < writes.length; w++) {
          const write = writes[w]!
          streamIds.push(write.streamId)
          kinds.push(write.expected._tag)
          expectedVersions.push(write.expected._tag === "Exact" ? write.expected.version : 0)
          for (let i = 0; i < write.events.length; i++) {
            const event = write.events[i]!
            writeOrds.push(w + 1)
            eventIndexes.push(i + 1)
            eventIds.push(event.eventId)
            types.push(event.type)
            data.push(event.data)
            metadata.push(event.metadata)
          }
        }
        const params = [streamIds, kinds, expectedVersions, writeOrds, eventIndexes, eventIds, types, data, metadata, recordedAt]
        return Effect.map(sql.unsafe(appendSql, params).values, ([row]) => ({
          heads: (row![0] as ReadonlyArray<number | string>).map(Number),
          mismatch: row![1] === null ? -1 : Number(row![1]) - 1,
          // int8: the driver gives strings
          positions: (row![2] as ReadonlyArray<number | string>).map(Number)
        }))
      })

    const attempt = (writes: ReadonlyArray<StreamWrite>, recordedAt: Date, nested: boolean) => {
      const writing = eventCount(writes) > 0
      // The store's own transaction opens with the isolation level and the lock
      // in one round trip (beginAppendSql); a pure check (no events) needs no
      // lock: it draws no position.
      return transaction(sql, "append", writing ? beginAppendSql : "BEGIN")(Effect.gen(function*() {
        // Inside the caller's transaction the isolation level is the caller's,
        // and only READ COMMITTED can see the heads as of the lock.
        if (writing && nested) {
          const [row] = yield* sql.unsafe(nestedAppendLockSql).values
          const isolation = String(row?.[0])
          if (isolation !== "read committed") {
            return yield* new InvalidArgument({
              operation: "append",
              reason: `an append cannot join a transaction at ${isolation.toUpperCase()}: its snapshot predates the ` +
                "append lock, so the expected versions would be checked against stale heads and a conflict would " +
                "repeat on every retry; run the transaction at READ COMMITTED, or append outside it"
            })
          }
        }
        // With events: check and insert in one statement under the lock. A pure
        // check: read the heads and compare here.
        const { heads: current, mismatch, positions } = writing
          ? yield* checkAndInsert(writes, recordedAt)
          : yield* Effect.map(heads(writes), (current) => ({
            heads: current,
            mismatch: writes.findIndex((write, i) => !ExpectedVersion.matches(write.expected, current[i]!)),
            positions: []
          }))
        if (mismatch >= 0) {
          const write = writes[mismatch]!
          return yield* new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual: current[mismatch]! })
        }
        const streams: Array<StreamAppendResult> = writes.map((write, i) => ({
          streamId: write.streamId,
          version: current[i]! + write.events.length
        }))
        return { streams, positions } satisfies AppendResult
      })).pipe(
        // a failed COMMIT or ROLLBACK is StoreUnavailable already (transaction)
        Effect.catchTag("SqlError", (error) => Effect.fail(classifyAppend(error)))
      )
    }

    /**
     * After a collision that the checks did not foresee: re-read the heads and
     * name the stream (one whose head no longer matches, else the one the
     * violation names, else the first that writes).
     */
    const conflict = (writes: ReadonlyArray<StreamWrite>, cause?: SqlError) =>
      Effect.flatMap(heads(writes), (current) => {
        let index = writes.findIndex((write, i) => !ExpectedVersion.matches(write.expected, current[i]!))
        if (index < 0 && cause !== undefined) index = collidedWrite(writes, cause)
        if (index < 0) index = Math.max(writes.findIndex((write) => write.events.length > 0), 0)
        const write = writes[index]!
        return Effect.fail(new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual: current[index]! }))
      }).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(new StoreUnavailable({ operation: "append", cause: error }))))

    /** The event id named by the violation's detail (`Key (event_id)=(...) already exists.`). */
    const duplicate = (writes: ReadonlyArray<StreamWrite>, cause: SqlError) => {
      const eventId = uuidPattern.exec(driverError(cause).detail)?.[0]?.toLowerCase() ?? ""
      const write = writes.find((w) => w.events.some((event) => event.eventId.toLowerCase() === eventId)) ??
        writes.find((w) => w.events.length > 0) ?? writes[0]!
      const original = write.events.find((event) => event.eventId.toLowerCase() === eventId)?.eventId ?? eventId
      return new DuplicateEventId({ eventId: original, streamId: write.streamId })
    }

    const append: EventStore.Service["append"] = (input) =>
      Effect.suspend((): Effect.Effect<AppendResult, AppendError> => {
        const checked = checkWrites(input)
        if (Either.isLeft(checked)) return Effect.fail(checked.left)
        const writes = checked.right
        return Effect.flatMap(Effect.all([Clock.currentTimeMillis, Effect.serviceOption(SqlClient.TransactionConnection)]), ([now, outer]) =>
          attempt(writes, new Date(now), Option.isSome(outer)).pipe(
            Effect.retry({ schedule: retrySchedule, while: (error) => error._tag === "Retryable" }),
            Effect.catchTags({
              VersionTaken: (error) => conflict(writes, error.cause),
              Retryable: () => conflict(writes),
              EventIdTaken: (error) => Effect.fail(duplicate(writes, error.cause))
            })
          ))
      })

    return EventStore.of({ read, readAll, append })
  })

/**
 * The migrations of the eventfold schema, for `@effect/sql`'s Migrator (they
 * ship in code; nothing is read from disk).
 *
 * @since 0.1.0
 */
export const migrations: PgMigrator.Loader = PgMigrator.fromRecord(migrationRecord)

const createMigrationsTableSql = `CREATE TABLE IF NOT EXISTS ${migrationsTable} (
  migration_id integer primary key,
  created_at timestamp with time zone not null default now(),
  name text not null
)`

/**
 * Runs the pending migrations on the `SqlClient` in context, recording them in
 * the `eventfold_migrations` table of the first schema on the `search_path`.
 * Returns the `[id, name]` of those it ran. Safe to run from several instances at
 * once: they take turns under an advisory lock, and the later ones find nothing
 * left to do.
 *
 * @since 0.1.0
 */
export const migrate: Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, StoreUnavailable, SqlClient.SqlClient> =
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(
      sql.unsafe(migrateLockSql).raw.pipe(
        // The Migrator probes for its table with a query that fails when it is
        // missing, which would abort this transaction: create it first (same DDL).
        Effect.zipRight(sql.unsafe(createMigrationsTableSql).raw),
        Effect.zipRight(PgMigrator.make({})({ loader: migrations, table: migrationsTable }))
      )
    )).pipe(Effect.mapError(unavailable("migrate")), driverDefectsAsUnavailable("migrate"))

/**
 * The store over the `SqlClient` in context (a `PgClient`), migrating the schema
 * first unless `runMigrations` is `false`.
 *
 * @example
 * ```ts
 * const Store = PgEventStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url, maxConnections: 20 })))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFromClient = (options?: StoreOptions): Layer.Layer<EventStore, StoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(EventStore, Effect.zipRight(options?.runMigrations === false ? Effect.void : migrate, make(options)))

const connectFailure = <E extends { readonly _tag: string }>(error: E | SqlError) =>
  error._tag === "SqlError" ? new StoreUnavailable({ operation: "connect", cause: error }) : error as Exclude<E, SqlError>

/**
 * The store on its own `@effect/sql-pg` pool: client, migrations and store in one
 * layer. The pool is closed when the layer is released.
 *
 * @example
 * ```ts
 * const Store = PgEventStore.layer({ url: Redacted.make("postgres://app@db/app"), maxConnections: 10 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<EventStore, StoreUnavailable> => {
  const { pageSize, runMigrations, ...client } = options
  return layerFromClient({ pageSize, runMigrations }).pipe(
    Layer.provide(PgClient.layer(client)),
    Layer.catchAll((error) => Layer.fail(connectFailure(error)))
  )
}

/**
 * {@link layer} with its options (client configuration and the store's own) read
 * from `Config`. By default the connection URL is the secret `DATABASE_URL`.
 *
 * @example
 * ```ts
 * PgEventStore.layerConfig({ url: Config.redacted("EVENTS_DATABASE_URL"), maxConnections: Config.succeed(20) })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = { url: Config.redacted("DATABASE_URL") }
): Layer.Layer<EventStore, ConfigError | StoreUnavailable> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
