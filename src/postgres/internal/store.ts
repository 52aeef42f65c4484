/**
 * The PostgreSQL store's machinery (internal): its SQL, the append, the reads
 * in global order and the migration runner. `PgEventStore.ts` is the public
 * surface over it. The design is in adr/0012-postgres-global-order.md.
 */
import { SqlClient } from "@effect/sql"
import { SqlError as SqlErrorClass } from "@effect/sql/SqlError"
import type { SqlError } from "@effect/sql/SqlError"
import { PgMigrator } from "@effect/sql-pg"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { EventStore, rowsFetched } from "../../EventStore.ts"
import type { AppendResult, StreamAppendResult, StreamWrite } from "../../EventStore.ts"
import { DuplicateEventId, InvalidArgument, StoreUnavailable, WrongExpectedVersion } from "../../StoreError.ts"
import type { AppendError, ReadError } from "../../StoreError.ts"
import type { StoredEvent } from "../../Event.ts"
import { FirstPageTypeId, FoldReadTypeId, keysetReads, toLogEvents } from "../../internal/keyset.ts"
import type { FirstPageReader, FoldReader } from "../../internal/keyset.ts"
import { conflictOf } from "../../internal/sqlConflict.ts"
import type { Row } from "../../internal/keyset.ts"
import { checkWrites } from "../../internal/validate.ts"
import { resolveReadAll } from "../../internal/validate.ts"
import * as Migrator from "../../internal/migrator.ts"
import { transaction } from "../../internal/transaction.ts"
import { classifyAppend, driverError, isConnectionLost, isStrayCancel } from "./errors.ts"
import { globalOrderPageSql } from "./globalOrder.ts"
import {
  appendFunction,
  eventsTable,
  migrations as migrationRecord,
  notifyFunction,
  readFoldFunction,
  readForwardFunction
} from "./migrations.ts"

/** A StoreUnavailable caused by a lost connection (not a timeout, not a failed COMMIT of the caller). */
const lostConnection = (error: StoreUnavailable): boolean =>
  error.cause instanceof SqlErrorClass && isConnectionLost(error.cause)

const unavailable = (operation: string) => (error: unknown) => new StoreUnavailable({ operation, cause: error })

// ---------------------------------------------------------------------------
// SQL text, built once

/** `recorded_at` as epoch milliseconds (a float8 the driver parses as a number). */
const recordedAtMs = "floor(extract(epoch FROM recorded_at) * 1000)::float8"
/** The transaction id goes last: the shared row mapping makes `<xid>:<position>` cursors of it. */
const streamColumns = `position, version, event_id, type, data::text, metadata::text, ${recordedAtMs}, transaction_id::text`
/**
 * Stream pages are version ranges, not `LIMIT`s: versions are dense, so the
 * range `[from, from + pageSize)` is exactly one page whatever plan the planner
 * picks. The statement also returns the first row after the range (one index
 * probe, `LIMIT 1`): a short page followed by a row is a version gap (a typed
 * error, never a silently short stream), a full page followed by none is the
 * end without one more round trip. Parameters are `int8` so any `from` a caller
 * passes stays in range. (adr/0003)
 *
 * The statement lives in the function `eventfold_read_forward` (migration 5),
 * whose plan the server caches per session: `@effect/sql-pg` sends statements
 * unnamed, so sent as text it was parsed and planned on every read (adr/0007).
 */
const readForwardSql = `SELECT * FROM ${readForwardFunction}($1, $2::int8, $3::int8)`
/**
 * The Executor's fold reads, of the same version range and lookahead row, only
 * what it folds (and the position, for a decode error): see `FoldReader` in
 * internal/keyset.ts. A server-side function too (`eventfold_read_fold`,
 * migration 5), for the same reason as the forward read.
 */
const readFoldSql = `SELECT * FROM ${readFoldFunction}($1, $2::int8, $3::int8)`
/** Backward pages start at the stream's head when `from` is beyond it (one index probe). */
const readBackwardSql = `WITH head AS (
  SELECT least($2::int8, coalesce(max(version), 0)) AS top FROM ${eventsTable} WHERE stream_id = $1
)
SELECT ${streamColumns} FROM ${eventsTable}, head
WHERE stream_id = $1 AND version <= head.top AND version > head.top - $3::int8 ORDER BY version DESC`

/** One page of the global log (globalOrder.ts, shared with the read side). */
const readAllSql = globalOrderPageSql()

/** Each stream's last version (0 when it has none), in the order given. */
const headsSql = `SELECT coalesce((SELECT max(e.version) FROM ${eventsTable} e WHERE e.stream_id = w.stream_id), 0)
FROM unnest($1::text[]) WITH ORDINALITY AS w(stream_id, ord) ORDER BY w.ord`

/**
 * One call of the append function: check and insert, a transaction of its own
 * outside any other. The last argument says whether the store notifies
 * subscribers after the commit (autocommit) or the trigger does in the
 * transaction (inside a caller's transaction). (migration 5, adr/0012)
 */
const appendSql = `SELECT heads, positions FROM ${appendFunction}($1::text[], $2::text[], $3::int8[], $4::int4[], $5::int4[], $6::uuid[], $7::text[], $8::jsonb[], $9::jsonb[], $10::timestamptz, $11::bool)`

/** Wakes the subscribers up after an append committed: a transaction of its own, not flushed (migration 5). */
const notifySql = `SELECT ${notifyFunction}()`

/** An append that joins the caller's transaction first asks its isolation level. */
const isolationSql = "SELECT current_setting('transaction_isolation')"

/** Migrations take turns under this transaction advisory lock (class id "evft", key 0). */
const appendLockClass = 0x65766674
const migrateLockSql = `SELECT pg_advisory_xact_lock(${appendLockClass}, 0)`

/**
 * Serialization failures, deadlocks and version collisions of writes whose
 * expected version still holds (two `Any` appends to one stream) are retried at
 * once, up to 10 times (no sleeping, so a `TestClock` never stalls an append);
 * then a collision surfaces as `WrongExpectedVersion`, which the Executor
 * retries with its own backoff.
 */
const retrySchedule = Schedule.recurs(10)

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

/** The parameters of {@link appendSql}: per write, then per event, as arrays. */
const appendParams = (writes: ReadonlyArray<StreamWrite>, recordedAt: Date, notifyAfterCommit: boolean): ReadonlyArray<unknown> => {
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
  return [streamIds, kinds, expectedVersions, writeOrds, eventIndexes, eventIds, types, data, metadata, recordedAt, notifyAfterCommit]
}

/** Where a PostgreSQL `readAll` resumes: after `(transaction, position)`. */
interface LogCursor {
  readonly transaction: string
  readonly position: number
}

/**
 * A read statement that lost its connection (a killed backend, a server
 * restart) is run once more: the pool opens a fresh connection for it; so is
 * one cancelled by a stray `pg_cancel_backend` (see `isStrayCancel`). Reads
 * change nothing, so running one twice is harmless.
 */
const retryLostConnection = <A>(self: Effect.Effect<A, SqlError>): Effect.Effect<A, SqlError> =>
  Effect.retry(settleOnLoss(self), {
    times: lostConnectionRetries,
    while: (error) => isConnectionLost(error) || isStrayCancel(error)
  })

/**
 * A connection the server closed is only evicted from the pool when the driver
 * processes the socket's end, a moment after the statement saw its error; until
 * then the pool would hand it out again and the next statement (this store's
 * retry, or the caller's next operation) would fail too. So a statement that
 * lost its connection waits a moment (real time, 25 ms, whatever the Effect
 * clock) before it fails.
 */
const settleOnLoss = <A, E extends SqlError | StoreUnavailable | { readonly _tag: string }>(
  self: Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.tapError(self, (error) =>
    (error instanceof SqlErrorClass && isConnectionLost(error)) ||
      (error instanceof StoreUnavailable && lostConnection(error))
      ? settle
      : Effect.void)

const settle = Effect.async<void>((resume) => {
  const timer = setTimeout(() => resume(Effect.void), 25)
  return Effect.sync(() => clearTimeout(timer))
})

/**
 * How many times a statement whose connection was lost is run again. A killed
 * connection is only noticed when used, so after a server restart every pooled
 * connection fails once: a few attempts get past them.
 */
const lostConnectionRetries = 3

/** The store over `sql` (a PostgreSQL client whose schema is migrated). */
export const makeStore = (sql: SqlClient.SqlClient, storePageSize: number): EventStore.Service => {
  const fetch = (text: string, params: ReadonlyArray<unknown>) =>
    Effect.mapError(retryLostConnection(sql.unsafe<Row>(text, params).values), unavailable("read"))

  const reads = keysetReads({
    forwardLookahead: true,
    forward: (streamId, cursor, pageSize) => fetch(readForwardSql, [streamId, cursor, pageSize]),
    fold: (streamId, cursor, pageSize) => fetch(readFoldSql, [streamId, cursor, pageSize]),
    backward: (streamId, cursor, pageSize) => fetch(readBackwardSql, [streamId, cursor, pageSize]),
    all: () => Effect.succeed([])
  }, storePageSize)

  const readAll = (options?: Parameters<EventStore.Service["readAll"]>[0]): Stream.Stream<StoredEvent, ReadError> =>
    Either.match(resolveReadAll(options, storePageSize), {
      onLeft: (error) => Stream.fail(error),
      onRight: ({ after, pageSize }) => {
        if (after._tag === "Position" && after.position !== 0) {
          return Stream.fail(
            new InvalidArgument({
              operation: "readAll",
              reason: `the cursor ${after.position} is a position: a PostgreSQL store orders its log by transaction and ` +
                "resumes from the cursor of an event it yielded"
            })
          )
        }
        const start: LogCursor = after._tag === "Transaction"
          ? { transaction: after.transaction, position: after.position }
          : { transaction: "0", position: 0 }
        return Stream.paginateChunkEffect(start, (cursor) =>
          Effect.flatMap(fetch(readAllSql, [cursor.transaction, cursor.position, pageSize]), (rows) => {
            const converted = toLogEvents(rows)
            if (Either.isLeft(converted)) return Effect.fail(converted.left)
            const chunk = converted.right
            const last = rows[rows.length - 1]
            const more = rows.length < pageSize || last === undefined
              ? Option.none<LogCursor>()
              : Option.some({ transaction: String(last[8]), position: Number(last[0]) })
            return Effect.as(Metric.incrementBy(rowsFetched, rows.length), [chunk, more] as const)
          }))
      }
    })

  const heads = (writes: ReadonlyArray<StreamWrite>): Effect.Effect<Array<number>, SqlError> =>
    Effect.map(
      retryLostConnection(sql.unsafe(headsSql, [writes.map((write) => write.streamId)]).values),
      (rows) => rows.map((row) => Number(row[0]))
    )

  /**
   * Notifications after commits: at most one `eventfold_notify()` in flight
   * per store; appends that commit while it runs are covered by one more, sent
   * when it ends (it may have been sent before they committed). Sent from a
   * fiber of its own: the append does not wait for it. A notification that
   * fails is dropped (subscriptions also poll, readSide.ts).
   */
  let notifying = false
  let notifyAgain = false
  const notifyLoop: Effect.Effect<void> = Effect.suspend(() => {
    notifyAgain = false
    return Effect.zipRight(
      // failures and defects alike are dropped: the append has committed
      Effect.exit(sql.unsafe(notifySql).raw),
      // checked and cleared in one step: an append that commits later starts a new round
      Effect.suspend(() => {
        if (notifyAgain) return notifyLoop
        notifying = false
        return Effect.void
      })
    )
  })
  const notifySubscribers: Effect.Effect<void> = Effect.suspend(() => {
    if (notifying) {
      notifyAgain = true
      return Effect.void
    }
    notifying = true
    return Effect.asVoid(Effect.forkDaemon(Effect.onInterrupt(notifyLoop, () =>
      Effect.sync(() => {
        notifying = false
      }))))
  })

  /** One call of the append function: the heads and the positions drawn. */
  const call = (writes: ReadonlyArray<StreamWrite>, recordedAt: Date, notifyAfterCommit: boolean) =>
    Effect.map(
      sql.unsafe(appendSql, appendParams(writes, recordedAt, notifyAfterCommit)).values,
      ([row]) => ({
        heads: (row![0] as ReadonlyArray<number | string>).map(Number),
        // int8: the driver gives strings
        positions: (row![1] as ReadonlyArray<number | string>).map(Number)
      })
    )

  /**
   * Inside the caller's transaction (a savepoint, so a failed append leaves the
   * caller's transaction usable): only READ COMMITTED sees the heads other
   * appends committed after the caller's transaction began.
   */
  const nested = (writes: ReadonlyArray<StreamWrite>, recordedAt: Date) =>
    transaction(sql, "append")(Effect.gen(function*() {
      if (writes.some((write) => write.events.length > 0)) {
        const [row] = yield* sql.unsafe(isolationSql).values
        const isolation = String(row?.[0])
        if (isolation !== "read committed") {
          return yield* new InvalidArgument({
            operation: "append",
            reason: `an append cannot join a transaction at ${isolation.toUpperCase()}: its snapshot predates the ` +
              "appends committed since it began, so the expected versions would be checked against stale heads and " +
              "a conflict would repeat on every retry; run the transaction at READ COMMITTED, or append outside it"
          })
        }
      }
      return yield* call(writes, recordedAt, false)
    }))

  const attempt = (writes: ReadonlyArray<StreamWrite>, recordedAt: Date, inTransaction: boolean) =>
    (inTransaction
      ? nested(writes, recordedAt)
      : Effect.tap(call(writes, recordedAt, true), ({ positions }) => positions.length > 0 ? notifySubscribers : Effect.void)).pipe(
      Effect.catchTag("SqlError", (error) => Effect.fail(classifyAppend(error))),
      settleOnLoss,
      Effect.map(({ heads: current, positions }): AppendResult => {
        const streams: Array<StreamAppendResult> = writes.map((write, i) => ({
          streamId: write.streamId,
          version: current[i]! + write.events.length
        }))
        return { streams, positions }
      })
    )

  /**
   * After a collision that the checks did not foresee and retries did not
   * resolve: re-read the heads and name the stream (one whose head no longer
   * matches, else the one the violation names, else the first that writes).
   */
  const conflict = (writes: ReadonlyArray<StreamWrite>, cause?: SqlError) =>
    Effect.flatMap(heads(writes), (current) =>
      Effect.fail(conflictOf(writes, current, () => cause === undefined ? -1 : collidedWrite(writes, cause)))).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(new StoreUnavailable({ operation: "append", cause: error }))))

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
      return Effect.flatMap(
        Effect.all([Clock.currentTimeMillis, Effect.serviceOption(SqlClient.TransactionConnection)]),
        ([now, outer]) =>
          attempt(writes, new Date(now), Option.isSome(outer)).pipe(
            // a collision on (stream_id, version) means another append committed
            // that version first: running again checks against its head, and
            // fails with WrongExpectedVersion (EF409) unless the write's
            // expectation still holds (Any, StreamExists)
            Effect.retry({
              schedule: retrySchedule,
              while: (error) => error._tag === "Retryable" || error._tag === "VersionTaken"
            }),
            Effect.catchTags({
              Mismatch: (error) => {
                const write = writes[error.write]
                return write === undefined
                  ? conflict(writes, error.cause)
                  : Effect.fail(new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual: error.actual }))
              },
              VersionTaken: (error) => conflict(writes, error.cause),
              Retryable: () => conflict(writes),
              EventIdTaken: (error) => Effect.fail(duplicate(writes, error.cause))
            })
          )
      )
    })

  // the first-page read rides along under its symbol key (the Executor's fast path)
  const service: EventStore.Service & FirstPageReader & FoldReader = {
    read: reads.read,
    [FirstPageTypeId]: reads[FirstPageTypeId],
    [FoldReadTypeId]: reads[FoldReadTypeId],
    readAll,
    append
  }
  return EventStore.of(service)
}

/**
 * The migrations of the eventfold schema, for `@effect/sql`'s Migrator.
 */
export const migrationLoader: PgMigrator.Loader = PgMigrator.fromRecord(migrationRecord)

/**
 * Runs the pending migrations in one transaction under the migration lock (see
 * `internal/migrator.ts` for what is shared with SQLite).
 *
 * The connection is reserved uninterruptibly: `@effect/sql-pg`'s reservation
 * cannot be cancelled (an interrupt while it waits for the pool would lose the
 * connection the pool hands over later), so an interrupt waits for the
 * connection, then rolls back and returns it. BEGIN, the body and COMMIT run
 * interruptibly; whatever happens the connection goes back to the pool, and
 * after a lost connection it is released as broken (the pool discards it).
 */
export const migrate: Effect.Effect<Migrator.Applied, StoreUnavailable, SqlClient.SqlClient> = Migrator.run({
  loader: migrationLoader,
  locked: (body) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.scoped(Effect.gen(function*() {
          const conn = yield* sql.reserve
          const run = (statement: string) => Effect.suspend(() => conn.executeUnprepared(statement, [], undefined))
          const locked = run(`BEGIN; ${migrateLockSql}`).pipe(
            // The Migrator probes for its table with a query that fails when it is
            // missing, which would abort this transaction: create it first.
            Effect.zipRight(run(Migrator.createMigrationsTableSql.pg)),
            Effect.zipRight(body),
            Effect.provideService(SqlClient.TransactionConnection, [conn, 0])
          )
          const exit = yield* Effect.exit(restore(locked))
          if (Exit.isFailure(exit)) {
            yield* Effect.exit(run("ROLLBACK"))
            return yield* exit
          }
          yield* run("COMMIT")
          return exit.value
        }))
      ))
})
