/**
 * The machinery of the SQLite store (internal): driver error classification,
 * busy retries, SQL text, the store, migrations and the client layer.
 * `SqliteEventStore.ts` is the documented surface over it.
 */
import { withReadSide } from "./readSide.ts"
import { SqlClient } from "@effect/sql"
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
import { transaction } from "../../internal/transaction.ts"
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

/** The insert hit `UNIQUE (stream_id, version)`: a writer got there first. */
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
  return classify("append")(error)
}

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
    self.pipe(
      Effect.retry({ schedule, while: (error) => error instanceof Busy }),
      Effect.catchIf(
        (error): error is Busy => error instanceof Busy,
        (error) => Effect.fail(new StoreUnavailable({ operation, cause: error.cause }))
      )
    ) as Effect.Effect<A, Exclude<E, Busy> | StoreUnavailable, R>
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

/** Rows per INSERT statement: 7 parameters a row, well under SQLite's 32766. */
const insertChunk = 500
const insertSqlCache = new Map<number, string>()
const insertSql = (rows: number): string => {
  let text = insertSqlCache.get(rows)
  if (text === undefined) {
    text = `INSERT INTO ${eventsTable} (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ` +
      Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?, ?)").join(", ")
    insertSqlCache.set(rows, text)
  }
  return text
}

interface RunResult {
  readonly changes: number
  readonly lastInsertRowid: number | bigint
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

    const head = (streamId: StreamId) =>
      Effect.map(sql.unsafe(headSql, [streamId]).values, (rows) => (rows[0]?.[0] as number | null | undefined) ?? 0)

    /** After a `(stream_id, version)` collision: re-read the heads (still under the lock) and name the stream. */
    const conflictAfterCollision = (writes: ReadonlyArray<StreamWrite>) =>
      Effect.flatMap(
        Effect.forEach(writes, (write) => head(write.streamId)),
        (heads) => Effect.fail(conflictOf(writes, heads))
      )

    const insertAll = (writes: ReadonlyArray<StreamWrite>, heads: ReadonlyArray<number>, recordedAt: number) =>
      Effect.suspend(() => {
        const statements: Array<readonly [string, Array<unknown>, number]> = []
        let params: Array<unknown> = []
        let rows = 0
        for (let w = 0; w < writes.length; w++) {
          const write = writes[w]!
          let version = heads[w]!
          for (const event of write.events) {
            version++
            params.push(write.streamId, version, event.eventId, event.type, event.data, event.metadata, recordedAt)
            rows++
            if (rows === insertChunk) {
              statements.push([insertSql(rows), params, rows])
              params = []
              rows = 0
            }
          }
        }
        if (rows > 0) statements.push([insertSql(rows), params, rows])
        return Effect.map(
          Effect.forEach(statements, ([text, values, count]) =>
            Effect.map(sql.unsafe(text, values).raw, (result) => {
              const last = Number((result as RunResult).lastInsertRowid)
              const positions = new Array<number>(count)
              for (let i = 0; i < count; i++) positions[i] = last - count + 1 + i
              return positions
            })),
          (chunks) => chunks.flat()
        )
      })

    // BEGIN IMMEDIATE takes the write lock at once; inside a caller's (perhaps
    // deferred) transaction the lock-taking UPDATE does the same. Whether the
    // append is nested is asked before the transaction starts: inside it, the
    // store's own transaction has already provided a connection.
    const appendTransaction = transaction(sql, "append", "BEGIN IMMEDIATE")
    const takeWriteLock = sql.unsafe(takeWriteLockSql).raw
    const attempt = (writes: ReadonlyArray<StreamWrite>, recordedAt: number, nested: boolean) =>
      appendTransaction(Effect.gen(function*() {
        if (nested) yield* takeWriteLock
        const heads: Array<number> = []
        for (const write of writes) {
          const current = yield* head(write.streamId)
          if (!ExpectedVersion.matches(write.expected, current)) {
            return yield* new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual: current })
          }
          heads.push(current)
        }
        const positions = yield* insertAll(writes, heads, recordedAt).pipe(
          Effect.catchTag(
            "SqlError",
            (error): Effect.Effect<never, WrongExpectedVersion | SqlError | Busy | StoreUnavailable | EventIdTaken> => {
              const classified = classifyInsert(error)
              return classified._tag === "VersionTaken" ? conflictAfterCollision(writes) : Effect.fail(classified)
            }
          )
        )
        const streams: Array<StreamAppendResult> = writes.map((write, i) => ({
          streamId: write.streamId,
          version: heads[i]! + write.events.length
        }))
        return { streams, positions } satisfies AppendResult
      })).pipe(
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
        return Effect.flatMap(Effect.all([Clock.currentTimeMillis, Effect.serviceOption(SqlClient.TransactionConnection)]), ([now, outer]) =>
          attempt(writes, now, Option.isSome(outer)).pipe(
            retryAppend,
            Effect.catchTag("EventIdTaken", (error) => Effect.flatMap(duplicateOf(writes, error.cause), Effect.fail))
          ))
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

