/**
 * The read side of the SQLite store (internal): filtered `readAll` pushed down
 * to SQL, wake-ups when this process appends (other processes are found by
 * polling), checkpoints in `eventfold_projections` committed in the handler's
 * transaction, and leadership as a lease row renewed by a heartbeat.
 */
import type { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Cursor from "../../Cursor.ts"
import type { EventStore } from "../../EventStore.ts"
import { rowsFetched } from "../../EventStore.ts"
import type { Checkpoint, CheckpointStore, Record } from "../../Projection.ts"
import { LeadershipLost } from "../../Projection.ts"
import { StoreUnavailable } from "../../StoreError.ts"
import type { ReadSide } from "../../Subscription.ts"
import { ofPosition } from "../../internal/cursor.ts"
import { toLogEvents } from "../../internal/keyset.ts"
import { transaction } from "../../internal/transaction.ts"
import { resolveReadAllByPosition } from "../../internal/validate.ts"
import { eventsTable } from "./migrations.ts"
import { projectionsTable } from "./readSideMigration.ts"

/** How often subscriptions on SQLite look for appends of other processes. */
export const pollInterval = Duration.millis(200)

interface RunResult {
  readonly changes: number
}

class Busy extends Data.TaggedError("Busy")<{ readonly cause: SqlError }> {}

const isBusy = (error: SqlError): boolean => {
  const cause = error.cause
  const code = typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : ""
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")
}

const columns = "position, stream_id, version, event_id, type, data, metadata, recorded_at"

/**
 * Adds the read side to a SQLite store built on `sql`. `busyTimeout` bounds how
 * long its writes wait for the write lock.
 */
export const withReadSide = (
  sql: SqlClient.SqlClient,
  busyTimeout: Duration.Duration,
  service: EventStore.Service
): Effect.Effect<EventStore.Service> =>
  Effect.map(PubSub.sliding<void>(1), (pubsub) => {
    const busySchedule = Schedule.exponential(Duration.millis(2), 2).pipe(
      Schedule.union(Schedule.spaced(Duration.millis(50))),
      Schedule.jittered,
      Schedule.upTo(busyTimeout)
    )
    /** Runs a statement, waiting out `SQLITE_BUSY` up to the busy timeout; other failures are `StoreUnavailable`. */
    const withBusyRetry = (operation: string) =>
    <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | StoreUnavailable, R> =>
      (self as Effect.Effect<A, unknown, R>).pipe(
        Effect.mapError((error) =>
          error instanceof SqlError
            ? isBusy(error) ? new Busy({ cause: error }) : new StoreUnavailable({ operation, cause: error })
            : error
        ),
        Effect.retry({ schedule: busySchedule, while: (error) => error instanceof Busy }),
        Effect.catchIf(
          (error): error is Busy => error instanceof Busy,
          (error) => Effect.fail(new StoreUnavailable({ operation, cause: error.cause }))
        )
      ) as Effect.Effect<A, Exclude<E, SqlError> | StoreUnavailable, R>

    const values = (operation: string, text: string, params: ReadonlyArray<unknown>) =>
      withBusyRetry(operation)(sql.unsafe<ReadonlyArray<unknown>>(text, params).values)
    const run = (operation: string, text: string, params: ReadonlyArray<unknown>) =>
      withBusyRetry(operation)(Effect.map(sql.unsafe(text, params).raw, (result) => (result as RunResult).changes))

    // ---- filtered reads
    /** The page query after a position, with the filter in its WHERE (parameters: after, filter..., limit). */
    const pageQuery = (prefix: string | undefined, types: ReadonlyArray<string> | undefined) => {
      const where = [`position > ?`]
      const filterParams: Array<unknown> = []
      if (prefix !== undefined) {
        where.push("substr(stream_id, 1, length(?)) = ?")
        filterParams.push(prefix, prefix)
      }
      if (types !== undefined && types.length > 0) {
        where.push(`type IN (${types.map(() => "?").join(", ")})`)
        filterParams.push(...types)
      }
      return { text: `SELECT ${columns} FROM ${eventsTable} WHERE ${where.join(" AND ")} ORDER BY position LIMIT ?`, filterParams }
    }
    const unfilteredPage = pageQuery(undefined, undefined)
    /** One page: the rows, through the store's own row checks (a corrupt row fails with EventDecodeError). */
    const fetchPage = (query: { readonly text: string; readonly filterParams: ReadonlyArray<unknown> }, after: number, pageSize: number) =>
      values("read", query.text, [after, ...query.filterParams, pageSize]).pipe(
        Effect.tap((rows) => Metric.incrementBy(rowsFetched, rows.length)),
        Effect.flatMap(toLogEvents)
      )

    const readAll: EventStore.Service["readAll"] = (options) => {
      const prefix = options?.streamPrefix !== undefined && options.streamPrefix !== "" ? options.streamPrefix : undefined
      const types = options?.types
      if (prefix === undefined && types === undefined) return service.readAll(options)
      return Either.match(resolveReadAllByPosition(options), {
        onLeft: (error) => Stream.fail(error),
        onRight: ({ after, pageSize }) => {
          const query = pageQuery(prefix, types)
          return Stream.paginateChunkEffect(after, (cursor) =>
            Effect.map(fetchPage(query, cursor, pageSize), (chunk) => {
              const last = Chunk.last(chunk)
              return [chunk, Chunk.size(chunk) < pageSize ? Option.none() : Option.map(last, (e) => e.position)] as const
            }))
        }
      })
    }

    /** `readAll`'s first page as one effect (subscriptions and projections read page by page). */
    const page: NonNullable<ReadSide["page"]>["read"] = (after, options) => {
      const prefix = options.streamPrefix !== undefined && options.streamPrefix !== "" ? options.streamPrefix : undefined
      return Either.match(resolveReadAllByPosition({ after, pageSize: options.pageSize }), {
        onLeft: (error) => Effect.fail(error),
        onRight: ({ after, pageSize }) =>
          fetchPage(prefix === undefined && options.types === undefined ? unfilteredPage : pageQuery(prefix, options.types), after, pageSize)
      })
    }

    // ---- checkpoints and leases
    const head = Effect.map(
      values("head", `SELECT coalesce(max(position), 0) FROM ${eventsTable}`, []),
      (rows) => Number(rows[0]?.[0] ?? 0)
    )

    const cursorFrom = (text: unknown): Either.Either<Cursor.Cursor, StoreUnavailable> =>
      Either.mapLeft(Cursor.decode(String(text)), (cause) => new StoreUnavailable({ operation: "projection", cause }))

    const load = (name: string) =>
      Effect.flatMap(
        values("projection", `SELECT cursor, position FROM ${projectionsTable} WHERE name = ?`, [name]),
        (rows): Effect.Effect<Option.Option<Checkpoint>, StoreUnavailable> => {
          const row = rows[0]
          if (row === undefined) return Effect.succeedNone
          return Effect.map(cursorFrom(row[0]), (cursor) => Option.some({ cursor, position: Number(row[1]) }))
        }
      )

    const commitSql = `UPDATE ${projectionsTable} SET cursor = ?, position = ?, updated_at = ? WHERE name = ? AND runner = ?`
    const projectionTransaction = transaction(sql, "projection", "BEGIN IMMEDIATE")
    const commit: CheckpointStore["commit"] = (name, runner, checkpoint, body) =>
      withBusyRetry("projection")(projectionTransaction(Effect.gen(function*() {
        const result = yield* body
        const now = yield* Clock.currentTimeMillis
        const changed = yield* Effect.map(
          sql.unsafe(commitSql, [checkpoint.cursor, checkpoint.position, now, name, runner]).raw,
          (r) => (r as RunResult).changes
        )
        if (changed === 0) return yield* new LeadershipLost({ projection: name, runner })
        return result
      })))

    const acquireSql = `INSERT INTO ${projectionsTable} (name, cursor, position, runner, lease_expires_at, updated_at)
VALUES (?, '0', 0, ?, ?, NULL)
ON CONFLICT (name) DO UPDATE SET runner = excluded.runner, lease_expires_at = excluded.lease_expires_at
WHERE ${projectionsTable}.runner IS NULL OR ${projectionsTable}.runner = excluded.runner OR ${projectionsTable}.lease_expires_at < ?`
    const renewSql = `UPDATE ${projectionsTable} SET lease_expires_at = ? WHERE name = ? AND runner = ?`
    const releaseSql = `UPDATE ${projectionsTable} SET runner = NULL, lease_expires_at = NULL WHERE name = ? AND runner = ?`

    const lead: CheckpointStore["lead"] = (name, runner, { leaseDuration }) =>
      Effect.gen(function*() {
        const lease = Duration.toMillis(leaseDuration)
        const retryEvery = Duration.millis(Math.max(lease / 4, 1))
        yield* Effect.addFinalizer(() => Effect.ignore(run("projection", releaseSql, [name, runner])))
        const tryLead: Effect.Effect<boolean, StoreUnavailable> = Effect.flatMap(
          Clock.currentTimeMillis,
          (now) => Effect.map(run("projection", acquireSql, [name, runner, now + lease, now]), (changed) => changed > 0)
        )
        const waitToLead: Effect.Effect<void, StoreUnavailable> = Effect.flatMap(
          tryLead,
          (led) => led ? Effect.void : Effect.zipRight(Effect.sleep(retryEvery), waitToLead)
        )
        yield* waitToLead
        const lost = yield* Deferred.make<never, LeadershipLost>()
        let renewedAt = yield* Clock.currentTimeMillis
        const heartbeat = Effect.gen(function*() {
          yield* Effect.sleep(Duration.millis(Math.max(lease / 3, 1)))
          const now = yield* Clock.currentTimeMillis
          const renewed = yield* Effect.either(run("projection", renewSql, [now + lease, name, runner]))
          if (Either.isRight(renewed) && renewed.right > 0) {
            renewedAt = now
          } else if (Either.isRight(renewed) || now - renewedAt >= lease) {
            yield* Deferred.fail(lost, new LeadershipLost({ projection: name, runner }))
          }
        })
        yield* Effect.forkScoped(Effect.forever(heartbeat))
        return Deferred.await(lost)
      })

    const list = Effect.flatMap(
      Effect.zip(
        values(
          "projection",
          `SELECT name, cursor, position, runner, lease_expires_at, updated_at FROM ${projectionsTable} ORDER BY name`,
          []
        ),
        Clock.currentTimeMillis
      ),
      ([rows, now]) =>
        Effect.forEach(rows, (row) =>
          Effect.map(cursorFrom(row[1]), (cursor): Record => {
            const expires = row[4] === null ? undefined : Number(row[4])
            const live = row[3] !== null && expires !== undefined && expires >= now
            return {
              name: String(row[0]),
              checkpoint: { cursor, position: Number(row[2]) },
              runner: live ? String(row[3]) : undefined,
              leaseExpiresAt: live ? new Date(expires) : undefined,
              updatedAt: row[5] === null ? undefined : new Date(Number(row[5]))
            }
          }))
    )

    const readSide: ReadSide = {
      wakeups: PubSub.subscribe(pubsub),
      end: Effect.map(head, ofPosition),
      pollInterval,
      checkpoints: { load, commit, lead, list, head },
      page: { of: readAll, read: page }
    }

    return {
      ...service,
      readAll,
      append: (writes) => Effect.tap(service.append(writes), () => PubSub.publish(pubsub, undefined)),
      readSide
    }
  })
