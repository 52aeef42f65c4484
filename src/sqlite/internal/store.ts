/**
 * The machinery of the SQLite store (internal): driver error classification,
 * busy retries, SQL text, the store, migrations and the client layer.
 * `SqliteEventStore.ts` is the documented surface over it.
 */
import { withReadSide } from "./readSide.ts"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { defaultPageSize, EventStore } from "../../EventStore.ts"
import type { AppendResult, StreamAppendResult, StreamWrite } from "../../EventStore.ts"
import * as ExpectedVersion from "../../ExpectedVersion.ts"
import { DuplicateEventId, StoreUnavailable, WrongExpectedVersion } from "../../StoreError.ts"
import type { AppendError } from "../../StoreError.ts"
import type { StreamId } from "../../StreamId.ts"
import { keysetReads } from "../../internal/keyset.ts"
import { conflictOf } from "../../internal/sqlConflict.ts"
import type { Row } from "../../internal/keyset.ts"
import { checkWrites } from "../../internal/validate.ts"
import * as Migrator from "../../internal/migrator.ts"
import { transaction, transactionOn } from "../../internal/transaction.ts"
import { journalModeProblem } from "./journalMode.ts"
import { eventsTable, migrations as migrationRecord, migrationsTable } from "./migrations.ts"

/** Options of the store: see `SqliteEventStore.MakeOptions`. */
export interface MakeOptions {
  readonly busyTimeout?: Duration.DurationInput | undefined
  readonly pageSize?: number | undefined
}

/** The default busy timeout: 5 seconds. */
export const defaultBusyTimeout: Duration.Duration = Duration.seconds(5)

// ---------------------------------------------------------------------------
// Errors of the driver, classified

/** The database is locked by another connection: worth waiting and retrying. */
class Busy extends Data.TaggedError("Busy")<{ readonly cause: SqlError }> {}

/** The insert hit `UNIQUE (stream_id, version)` (a writer got there first), or a guarded row found another head. */
class VersionTaken extends Data.TaggedError("VersionTaken")<{ readonly cause: SqlError }> {}

/** The insert hit `UNIQUE (event_id)`. */
class EventIdTaken extends Data.TaggedError("EventIdTaken")<{ readonly cause: SqlError }> {}

const sqliteCode = (error: SqlError): string => {
  const cause = error.cause
  if (typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string") return cause.code
  return ""
}

const causeMessage = (error: SqlError): string => error.cause instanceof Error ? error.cause.message : ""

const isBusyCode = (code: string) => code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")

/** Busy errors become `Busy`; every other driver error is `StoreUnavailable`. */
const classify = (operation: string) => (error: SqlError): Busy | StoreUnavailable =>
  isBusyCode(sqliteCode(error)) ? new Busy({ cause: error }) : new StoreUnavailable({ operation, cause: error })

/** Like {@link classify}, and also recognizes the two unique constraints of an insert. */
const classifyInsert = (error: SqlError): Busy | StoreUnavailable | VersionTaken | EventIdTaken => {
  const code = sqliteCode(error)
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    const message = causeMessage(error)
    if (message.includes(`${eventsTable}.event_id`)) return new EventIdTaken({ cause: error })
    if (message.includes(`${eventsTable}.stream_id`)) return new VersionTaken({ cause: error })
  }
  // a guarded row found the stream at another version than expected (see `guardedRow`)
  if (code === "SQLITE_CONSTRAINT_NOTNULL" && causeMessage(error).includes(`${eventsTable}.version`)) {
    return new VersionTaken({ cause: error })
  }
  return classify("append")(error)
}

const isBusy = (error: unknown): error is Busy => error instanceof Busy

/**
 * Retries while the database is busy, with short jittered backoff (2 ms doubling,
 * at most 50 ms apart) until `budget` has elapsed; then the busy error becomes
 * `StoreUnavailable`. The waiting is `Effect.sleep`, so the event loop (and the
 * connection holding the lock, when it lives in this process) keeps running.
 */
const retryBusy = (operation: string, budget: Duration.Duration) => {
  const schedule = Schedule.exponential(Duration.millis(2), 2).pipe(
    Schedule.union(Schedule.spaced(Duration.millis(50))),
    Schedule.jittered,
    Schedule.upTo(budget)
  )
  return <A, E, R>(self: Effect.Effect<A, E | Busy, R>): Effect.Effect<A, Exclude<E, Busy> | StoreUnavailable, R> =>
    // the first attempt runs bare: the schedule's driver is built only once the database is busy
    Effect.catchIf(self, isBusy, () =>
      self.pipe(
        Effect.retry({ schedule, while: isBusy }),
        Effect.catchIf(isBusy, (error) => Effect.fail(new StoreUnavailable({ operation, cause: error.cause })))
      )) as Effect.Effect<A, Exclude<E, Busy> | StoreUnavailable, R>
}

// ---------------------------------------------------------------------------
// SQL text, built once

const streamColumns = "position, version, event_id, type, data, metadata, recorded_at"
const readForwardSql =
  `SELECT ${streamColumns} FROM ${eventsTable} WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`
const readFoldSql =
  `SELECT version, type, data, position FROM ${eventsTable} WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`
const readBackwardSql =
  `SELECT ${streamColumns} FROM ${eventsTable} WHERE stream_id = ? AND version <= ? ORDER BY version DESC LIMIT ?`
const readAllSql =
  `SELECT position, stream_id, version, event_id, type, data, metadata, recorded_at FROM ${eventsTable} WHERE position > ? ORDER BY position LIMIT ?`
const headSql = `SELECT max(version) FROM ${eventsTable} WHERE stream_id = ?`
/**
 * A write that touches no row but makes SQLite take the write lock. The store's
 * own appends begin with `BEGIN IMMEDIATE`; an append inside a caller's
 * transaction (which may have begun deferred) runs this first instead. Either
 * way the versions are checked under the lock, and a deferred read-then-write
 * can no longer fail with `SQLITE_BUSY_SNAPSHOT`.
 */
const takeWriteLockSql = `UPDATE ${eventsTable} SET position = position WHERE 0`

/** Rows per INSERT statement: 7 parameters a row (9 for a guarded row), well under SQLite's 32766. */
const insertChunk = 500
const insertColumns = "INSERT INTO " + eventsTable + " (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES "
const plainRow = "(?, ?, ?, ?, ?, ?, ?)"
/**
 * The first row of a stream's events when the append knows the version it
 * expects (`NoStream`, `Exact(n)`): its version is `n + 1` only while the
 * stream's head is `n`, and NULL otherwise, which `version NOT NULL` refuses.
 * So the version check rides in the INSERT itself: one index lookup, no
 * statement of its own. Parameters: stream id, expected head, version, stream id.
 */
const guardedRow =
  `(?, (SELECT CASE WHEN coalesce(max(version), 0) = ? THEN ? END FROM ${eventsTable} WHERE stream_id = ?), ?, ?, ?, ?, ?)`

/** INSERT texts by shape (row count and guarded rows), built once each (a bounded cache). */
const insertSqlCache = new Map<string, string>()
const insertSql = (rows: number, guarded: ReadonlyArray<number>): string => {
  const key = guarded.length === 0 ? `${rows}` : `${rows}:${guarded.join(",")}`
  let text = insertSqlCache.get(key)
  if (text === undefined) {
    const values = new Array<string>(rows).fill(plainRow)
    for (const row of guarded) values[row] = guardedRow
    text = insertColumns + values.join(", ")
    if (insertSqlCache.size >= 256) insertSqlCache.clear()
    insertSqlCache.set(key, text)
  }
  return text
}

/** The version a write's stream must be at when it is `NoStream` or `Exact(n)`; undefined otherwise. */
const knownHead = (write: StreamWrite): number | undefined =>
  write.expected._tag === "Exact" ? write.expected.version : write.expected._tag === "NoStream" ? 0 : undefined

interface RunResult {
  readonly changes: number
  readonly lastInsertRowid: number | bigint
}

/** The head version from the rows of {@link headSql} (0 for a stream with no events). */
const headOfRows = (rows: unknown): number => {
  const row = (rows as ReadonlyArray<Record<string, unknown>>)[0]
  const value = row?.["max(version)"]
  return typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : 0
}

/**
 * The INSERT statements of an append, in one plain loop over the events: one
 * statement of all the rows, or of `insertChunk` rows each for more (the SQL
 * text of each shape is built once and kept; the driver keeps the prepared
 * statement). With `guarded`, the first row of each write checks the write's
 * expected version (`heads` are then the expected versions: see `guardedRow`).
 */
const insertStatements = (
  writes: ReadonlyArray<StreamWrite>,
  heads: ReadonlyArray<number>,
  recordedAt: number,
  guarded: boolean
): Array<readonly [string, Array<unknown>, number]> => {
  const statements: Array<readonly [string, Array<unknown>, number]> = []
  let params: Array<unknown> = []
  let rows = 0
  let guards: Array<number> = []
  for (let w = 0; w < writes.length; w++) {
    const write = writes[w]!
    const events = write.events
    let version = heads[w]!
    for (let e = 0; e < events.length; e++) {
      const event = events[e]!
      version++
      if (guarded && e === 0) {
        guards.push(rows)
        params.push(write.streamId, heads[w]!, version, write.streamId)
      } else {
        params.push(write.streamId, version)
      }
      params.push(event.eventId, event.type, event.data, event.metadata, recordedAt)
      rows++
      if (rows === insertChunk) {
        statements.push([insertSql(rows, guards), params, rows])
        params = []
        rows = 0
        guards = []
      }
    }
  }
  if (rows > 0) statements.push([insertSql(rows, guards), params, rows])
  return statements
}

/** Appends to `into`, from `at`, the positions of the `count` rows an INSERT wrote (rowids are consecutive under the write lock). */
const positionsOf = (result: unknown, count: number, into: Array<number>, at: number): Array<number> => {
  const last = Number((result as RunResult).lastInsertRowid)
  for (let i = 0; i < count; i++) into[at + i] = last - count + 1 + i
  return into
}

// ---------------------------------------------------------------------------
// The store

/** The store over `sql`: see `SqliteEventStore.make`. */
export const make = (options?: MakeOptions): Effect.Effect<EventStore.Service, never, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const budget = Duration.decode(options?.busyTimeout ?? defaultBusyTimeout)
    const retryRead = retryBusy("read", budget)
    const retryAppend = retryBusy("append", budget)

    const fetch = (text: string, params: ReadonlyArray<unknown>) =>
      sql.unsafe<Row>(text, params).values.pipe(Effect.mapError(classify("read")), retryRead)

    const reads = keysetReads({
      forward: (streamId, cursor, pageSize) => fetch(readForwardSql, [streamId, cursor, pageSize]),
      fold: (streamId, cursor, pageSize) => fetch(readFoldSql, [streamId, cursor, pageSize]),
      backward: (streamId, cursor, pageSize) => fetch(readBackwardSql, [streamId, cursor, pageSize]),
      all: (cursor, pageSize) => fetch(readAllSql, [cursor, pageSize])
    }, options?.pageSize ?? defaultPageSize)

    // --- append: every statement on the transaction's connection (`executeRaw`:
    // the driver's cached prepared statement, no statement compiler, no span per
    // statement), the per-event work in plain loops, few Effect steps per append

    const head = (conn: Connection, streamId: StreamId) =>
      Effect.map(conn.executeRaw(headSql, [streamId]), headOfRows)

    const heads = (conn: Connection, writes: ReadonlyArray<StreamWrite>): Effect.Effect<Array<number>, SqlError> =>
      writes.length === 1
        ? Effect.map(head(conn, writes[0]!.streamId), (current) => [current])
        : Effect.forEach(writes, (write) => head(conn, write.streamId))

    /** After a `(stream_id, version)` collision: re-read the heads (still under the lock) and name the stream. */
    const conflictAfterCollision = (conn: Connection, writes: ReadonlyArray<StreamWrite>) =>
      Effect.flatMap(heads(conn, writes), (current) => Effect.fail(conflictOf(writes, current)))

    const insertAll = (
      conn: Connection,
      writes: ReadonlyArray<StreamWrite>,
      current: ReadonlyArray<number>,
      recordedAt: number,
      guarded: boolean
    ): Effect.Effect<Array<number>, SqlError> => {
      const statements = insertStatements(writes, current, recordedAt, guarded)
      if (statements.length === 1) {
        const [text, values, count] = statements[0]!
        return Effect.map(conn.executeRaw(text, values), (result) => positionsOf(result, count, [], 0))
      }
      const positions: Array<number> = []
      return Effect.as(
        Effect.forEach(statements, ([text, values, count]) =>
          Effect.map(conn.executeRaw(text, values), (result) => positionsOf(result, count, positions, positions.length)), {
          discard: true
        }),
        positions
      )
    }

    // BEGIN IMMEDIATE takes the write lock at once (BEGIN, COMMIT and ROLLBACK
    // are prepared once, by the driver's statement cache); inside a caller's
    // (perhaps deferred) transaction the lock-taking UPDATE does the same.
    // Whether the append is nested is asked before the transaction starts:
    // inside it, the store's own transaction has already provided a connection.
    const appendTransaction = transactionOn(sql, "append", { begin: "BEGIN IMMEDIATE", prepared: true })
    /** Inserts at the versions after `current`, then the result; a collision becomes `WrongExpectedVersion`. */
    const insertAt = (
      conn: Connection,
      writes: ReadonlyArray<StreamWrite>,
      current: ReadonlyArray<number>,
      recordedAt: number,
      guarded: boolean
    ) =>
      Effect.map(
        Effect.catchTag(
          insertAll(conn, writes, current, recordedAt, guarded),
          "SqlError",
          (error): Effect.Effect<never, WrongExpectedVersion | SqlError | Busy | StoreUnavailable | EventIdTaken> => {
            const classified = classifyInsert(error)
            return classified._tag === "VersionTaken" ? conflictAfterCollision(conn, writes) : Effect.fail(classified)
          }
        ),
        (positions): AppendResult => {
          const streams: Array<StreamAppendResult> = new Array(writes.length)
          for (let i = 0; i < writes.length; i++) {
            streams[i] = { streamId: writes[i]!.streamId, version: current[i]! + writes[i]!.events.length }
          }
          return { streams, positions }
        }
      )

    /**
     * The expected versions, when every write has events and expects `NoStream`
     * or `Exact(n)` (the Executor's appends): then the INSERT checks them itself
     * (see `guardedRow`), and no head is read.
     */
    const expectedHeads = (writes: ReadonlyArray<StreamWrite>): Array<number> | undefined => {
      const known = new Array<number>(writes.length)
      for (let i = 0; i < writes.length; i++) {
        const head = writes[i]!.events.length === 0 ? undefined : knownHead(writes[i]!)
        if (head === undefined) return undefined
        known[i] = head
      }
      return known
    }

    const attempt = (writes: ReadonlyArray<StreamWrite>, recordedAt: number, nested: boolean) =>
      appendTransaction((conn) => {
        const lock = nested ? conn.executeRaw(takeWriteLockSql, []) : undefined
        const known = expectedHeads(writes)
        const checked = known !== undefined
          ? insertAt(conn, writes, known, recordedAt, true)
          : Effect.flatMap(heads(conn, writes), (current) => {
            for (let i = 0; i < writes.length; i++) {
              const write = writes[i]!
              if (!ExpectedVersion.matches(write.expected, current[i]!)) {
                return Effect.fail(new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual: current[i]! }))
              }
            }
            return insertAt(conn, writes, current, recordedAt, false)
          })
        return lock === undefined ? checked : Effect.zipRight(lock, checked)
      }).pipe(
        Effect.catchTag("SqlError", (error) => Effect.fail(classify("append")(error)))
      )

    /** Which of the append's ids is already stored (looked up after the rollback). */
    const duplicateOf = (writes: ReadonlyArray<StreamWrite>, cause: SqlError) =>
      Effect.gen(function*() {
        for (const write of writes) {
          for (let i = 0; i < write.events.length; i += insertChunk) {
            const ids = write.events.slice(i, i + insertChunk).map((event) => event.eventId)
            const found = yield* sql.unsafe(
              `SELECT event_id FROM ${eventsTable} WHERE event_id IN (${ids.map(() => "?").join(", ")}) LIMIT 1`,
              ids
            ).values
            const eventId = found[0]?.[0]
            if (typeof eventId === "string") return new DuplicateEventId({ eventId, streamId: write.streamId })
          }
        }
        return new StoreUnavailable({ operation: "append", cause })
      }).pipe(Effect.catchAll((error) => Effect.succeed(new StoreUnavailable({ operation: "append", cause: error }))))

    const append: EventStore.Service["append"] = (input) =>
      Effect.suspend((): Effect.Effect<AppendResult, AppendError> => {
        const checked = checkWrites(input)
        if (Either.isLeft(checked)) return Effect.fail(checked.left)
        const writes = checked.right
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) =>
            attempt(writes, now, Option.isSome(outer)).pipe(
              retryAppend,
              Effect.catchTag("EventIdTaken", (error) => Effect.flatMap(duplicateOf(writes, error.cause), Effect.fail))
            )))
      })

    // the first-page read rides along under its symbol key (the Executor's fast path)
    return withReadSide(sql, budget, EventStore.of({ ...reads, append }))
  })


/** The migrations as a Migrator loader. */
export const loader: SqliteMigrator.Loader = SqliteMigrator.fromRecord(migrationRecord)

/**
 * Runs the pending migrations: see `SqliteEventStore.migrate`, and
 * `internal/migrator.ts` for what is shared with PostgreSQL. The lock is the
 * database's write lock: the Migrator reads, then writes, in a deferred
 * transaction, and treats a failed write as "another process is migrating"
 * without waiting for it. So the write lock is taken first, by a write to the
 * Migrator's own table (created before, outside the transaction), and the
 * Migrator runs inside that transaction. A busy database is retried for
 * `busyTimeout`.
 */
export const migrate = (
  options?: Pick<MakeOptions, "busyTimeout">
): Effect.Effect<Migrator.Applied, StoreUnavailable, SqlClient.SqlClient> =>
  Migrator.run({
    loader,
    locked: (body) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.zipRight(
          sql.unsafe(Migrator.createMigrationsTableSql.sqlite).raw,
          transaction(sql, Migrator.operation)(Effect.zipRight(sql.unsafe(lockMigrationsSql).raw, body))
        )),
    sqlError: classify(Migrator.operation)
  }).pipe(retryBusy(Migrator.operation, Duration.decode(options?.busyTimeout ?? defaultBusyTimeout)))

const lockMigrationsSql = `UPDATE ${migrationsTable} SET migration_id = migration_id WHERE 0`

/** The client layer: see `SqliteEventStore.layerClient`. */
export const layerClient = (
  options: { readonly filename: string }
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, StoreUnavailable> =>
  SqliteClient.layer({ filename: options.filename }).pipe(
    Layer.tap((context) =>
      Effect.flatMap(Effect.provide(SqlClient.SqlClient, context), (sql) =>
        Effect.gen(function*() {
          yield* sql.unsafe("PRAGMA busy_timeout = 0").raw
          const [row] = yield* sql.unsafe("PRAGMA journal_mode").values
          const problem = journalModeProblem(options.filename, String(row?.[0]))
          if (problem !== undefined) return yield* new StoreUnavailable({ operation: "open", cause: new Error(problem) })
        }))
    ),
    // `new Database(filename)` throws inside the client's constructor: a defect,
    // which `Layer.catchAll` would not see.
    Layer.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Layer.failCause(cause as Cause.Cause<never>) // interruption only: it holds no failure
        : Layer.fail(Option.getOrElse(
          Cause.failureOption(cause).pipe(Option.filter((error) => error instanceof StoreUnavailable)),
          () => new StoreUnavailable({ operation: "open", cause: Cause.squash(cause) })
        ))
    )
  )

