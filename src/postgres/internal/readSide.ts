/**
 * The read side of the PostgreSQL store (internal):
 *
 * - wake-ups: `LISTEN eventfold_events` through `PgClient.listen` (one
 *   dedicated connection per client, shared by every subscription). An
 *   append on its own notifies right after its commit (`eventfold_notify()`,
 *   migration 5: a notifying transaction holds a cluster-wide lock through its
 *   flush, adr/0012); an append inside a caller's transaction, and any plain
 *   INSERT, notifies at that commit through the trigger (readSideMigration.ts).
 *   Subscriptions also poll every 2 s: a notification
 *   missed while the listener starts or after its connection dropped is found
 *   by the next poll.
 * - filtered reads: the store's global-order page query (globalOrder.ts,
 *   adr/0012) with the prefix and types in its WHERE.
 * - checkpoints: `eventfold_projections`, written in the handler's transaction
 *   and only while the row names the runner (fencing).
 * - leadership: a session advisory lock held on a connection reserved from
 *   the pool for the life of the lead. A process that dies closes its
 *   connection and so releases the lock; standbys try every quarter of the
 *   lease duration. The lock connection is checked every third of it: when
 *   it fails, the lead is lost.
 */
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Cursor from "../../Cursor.ts"
import type { EventStore } from "../../EventStore.ts"
import type { Checkpoint, CheckpointStore, Record } from "../../Projection.ts"
import { LeadershipLost } from "../../Projection.ts"
import { StoreUnavailable } from "../../StoreError.ts"
import type { ReadSide } from "../../Subscription.ts"
import { transaction } from "../../internal/transaction.ts"
import { predicate } from "../../internal/subscription.ts"
import { ofTransaction } from "../../internal/cursor.ts"
import { toLogEvents } from "../../internal/keyset.ts"
import { resolveReadAll } from "../../internal/validate.ts"
import { rowsFetched } from "../../EventStore.ts"
import { globalOrderEndSql, globalOrderPageSql } from "./globalOrder.ts"
import { notifyChannel, projectionsTable } from "./readSideMigration.ts"

/** How often subscriptions on PostgreSQL poll, in case a notification was missed. */
export const pollInterval = Duration.seconds(2)

/** Advisory lock class of projection leads ("evfp"); the key is `hashtext(name)`. */
const leadLockClass = 0x65766670

const unavailable = (operation: string) => (cause: unknown) => new StoreUnavailable({ operation, cause })

/** Adds the read side to a PostgreSQL store built on `sql`. */
export const withReadSide = (sql: SqlClient.SqlClient, service: EventStore.Service): Effect.Effect<EventStore.Service> =>
  Effect.map(Effect.serviceOption(PgClient.PgClient), (pg) => {
    const values = (operation: string, text: string, params: ReadonlyArray<unknown> = []) =>
      Effect.mapError(sql.unsafe<ReadonlyArray<unknown>>(text, params).values, unavailable(operation))

    // ---- wake-ups
    const wakeups: ReadSide["wakeups"] = Effect.gen(function*() {
      const queue = yield* Queue.sliding<void>(1)
      if (Option.isSome(pg)) {
        yield* pg.value.listen(notifyChannel).pipe(
          Stream.runForEach(() => Queue.offer(queue, undefined)),
          Effect.ignore, // a listener that fails leaves the polling
          Effect.forkScoped
        )
      }
      return queue
    })

    // ---- checkpoints and leadership
    const head = Effect.map(
      values("head", `SELECT coalesce(max(position), 0)::float8 FROM eventfold_events`),
      (rows) => Number(rows[0]?.[0] ?? 0)
    )

    const cursorFrom = (text: unknown): Either.Either<Cursor.Cursor, StoreUnavailable> =>
      Either.mapLeft(Cursor.decode(String(text)), unavailable("projection"))

    const load = (name: string) =>
      Effect.flatMap(
        values("projection", `SELECT cursor, position::float8 FROM ${projectionsTable} WHERE name = $1`, [name]),
        (rows): Effect.Effect<Option.Option<Checkpoint>, StoreUnavailable> => {
          const row = rows[0]
          if (row === undefined) return Effect.succeedNone
          return Effect.map(cursorFrom(row[0]), (cursor) => Option.some({ cursor, position: Number(row[1]) }))
        }
      )

    const commitSql =
      `UPDATE ${projectionsTable} SET cursor = $1, position = $2, updated_at = now() WHERE name = $3 AND runner = $4 RETURNING 1`
    const projectionTransaction = transaction(sql, "projection")
    const commit: CheckpointStore["commit"] = <A, E, R>(name: string, runner: string, checkpoint: Checkpoint, body: Effect.Effect<A, E, R>) =>
      projectionTransaction(Effect.gen(function*() {
        const result = yield* body
        const rows = yield* sql.unsafe(commitSql, [checkpoint.cursor, checkpoint.position, name, runner]).values
        if (rows.length === 0) return yield* new LeadershipLost({ projection: name, runner })
        return result
      })).pipe(
        Effect.catchIf(
          (error): error is SqlError => (error as { readonly _tag?: unknown })._tag === "SqlError",
          (error) => Effect.fail(new StoreUnavailable({ operation: "projection", cause: error }))
        )
      ) as Effect.Effect<A, E | StoreUnavailable | LeadershipLost, R>

    const claimSql = `INSERT INTO ${projectionsTable} (name, cursor, position, runner) VALUES ($1, '0', 0, $2)
ON CONFLICT (name) DO UPDATE SET runner = excluded.runner`
    const fenceSql = `SELECT runner FROM ${projectionsTable} WHERE name = $1`
    const releaseSql = `UPDATE ${projectionsTable} SET runner = NULL WHERE name = $1 AND runner = $2`

    const lead: CheckpointStore["lead"] = (name, runner, { leaseDuration }) =>
      Effect.gen(function*() {
        const lease = Duration.toMillis(leaseDuration)
        const connection = yield* Effect.mapError(sql.reserve, unavailable("projection"))
        const onConnection = (text: string, params: ReadonlyArray<unknown>) =>
          Effect.mapError(connection.executeValues(text, params), unavailable("projection"))
        const tryLock = Effect.map(
          onConnection(`SELECT pg_try_advisory_lock(${leadLockClass}, hashtext($1))`, [name]),
          (rows) => rows[0]?.[0] === true
        )
        const waitToLead: Effect.Effect<void, StoreUnavailable> = Effect.flatMap(
          tryLock,
          (locked) => locked ? Effect.void : Effect.zipRight(Effect.sleep(Duration.millis(Math.max(lease / 4, 1))), waitToLead)
        )
        yield* waitToLead
        yield* Effect.addFinalizer(() =>
          Effect.ignore(Effect.zipRight(
            values("projection", releaseSql, [name, runner]),
            onConnection(`SELECT pg_advisory_unlock(${leadLockClass}, hashtext($1))`, [name])
          ))
        )
        // the fencing token: from now on only this runner's checkpoint writes succeed
        yield* values("projection", claimSql, [name, runner])
        const lost = yield* Deferred.make<never, LeadershipLost>()
        const check = Effect.gen(function*() {
          yield* Effect.sleep(Duration.millis(Math.max(lease / 3, 1)))
          const alive = yield* Effect.either(onConnection("SELECT 1", []))
          const fence = yield* Effect.either(values("projection", fenceSql, [name]))
          const stillOurs = Either.isRight(fence) ? fence.right[0]?.[0] === runner : true
          if (Either.isLeft(alive) || !stillOurs) {
            yield* Deferred.fail(lost, new LeadershipLost({ projection: name, runner }))
          }
        })
        yield* Effect.forkScoped(Effect.forever(check))
        return Deferred.await(lost)
      })

    const list = Effect.flatMap(
      values(
        "projection",
        `SELECT name, cursor, position::float8, runner, extract(epoch FROM updated_at)::float8 * 1000 FROM ${projectionsTable} ORDER BY name`
      ),
      (rows) =>
        Effect.forEach(rows, (row) =>
          Effect.map(cursorFrom(row[1]), (cursor): Record => ({
            name: String(row[0]),
            checkpoint: { cursor, position: Number(row[2]) },
            runner: row[3] === null ? undefined : String(row[3]),
            leaseExpiresAt: undefined,
            updatedAt: row[4] === null ? undefined : new Date(Number(row[4]))
          })))
    )

    // ---- filtered reads: the global-order page query of the store, with the filter in its WHERE
    /** The filter's conditions (parameters from `$4`) and their parameters. */
    const filterOf = (prefix: string | undefined, types: ReadonlyArray<string> | undefined) => {
      const params: Array<unknown> = []
      const where: Array<string> = []
      if (prefix !== undefined) {
        params.push(prefix)
        where.push(`left(stream_id, length($${params.length + 3})) = $${params.length + 3}`)
      }
      if (types !== undefined && types.length > 0) {
        params.push(types)
        where.push(`type = ANY($${params.length + 3}::text[])`)
      }
      return { text: globalOrderPageSql(where), params }
    }
    const unfiltered = filterOf(undefined, undefined)
    interface At {
      readonly transaction: string
      readonly position: number
    }
    /** One page after `at`: the events and the cursor of its last row (none when the page is short: the end). */
    const fetchPage = (query: { readonly text: string; readonly params: ReadonlyArray<unknown> }, at: At, pageSize: number) =>
      Effect.flatMap(values("read", query.text, [at.transaction, at.position, pageSize, ...query.params]), (rows) => {
        const last = rows[rows.length - 1]
        const more = rows.length < pageSize || last === undefined
          ? Option.none<At>()
          : Option.some({ transaction: String(last[8]), position: Number(last[0]) })
        return Effect.zipRight(
          Metric.incrementBy(rowsFetched, rows.length),
          Effect.map(toLogEvents(rows), (chunk) => [chunk, more] as const)
        )
      })
    const prefixOf = (prefix: string | undefined) => prefix !== undefined && prefix !== "" ? prefix : undefined

    const readAll: EventStore.Service["readAll"] = (options) => {
      const prefix = prefixOf(options?.streamPrefix)
      const types = options?.types
      if (prefix === undefined && types === undefined) return service.readAll(options)
      const keep = predicate(options ?? {})
      return Either.match(resolveReadAll(options), {
        onLeft: (error) => Stream.fail(error),
        onRight: ({ after, pageSize }) => {
          // a position cursor (not made by this store) is the store's own readAll's to refuse
          if (after._tag === "Position" && after.position !== 0) {
            return keep === undefined ? service.readAll(options) : Stream.filter(service.readAll(options), keep)
          }
          const query = filterOf(prefix, types)
          const start: At = after._tag === "Transaction"
            ? { transaction: after.transaction, position: after.position }
            : { transaction: "0", position: 0 }
          return Stream.paginateChunkEffect(start, (at) => fetchPage(query, at, pageSize))
        }
      })
    }

    /** `readAll`'s first page as one effect (subscriptions and projections read page by page). */
    const page: NonNullable<ReadSide["page"]>["read"] = (after, options) =>
      Either.match(resolveReadAll({ after, pageSize: options.pageSize }), {
        onLeft: (error) => Effect.fail(error),
        onRight: ({ after: parsed, pageSize }) => {
          // a position cursor (not made by this store): whatever readAll makes of it
          if (parsed._tag === "Position" && parsed.position !== 0) {
            return Stream.runCollect(Stream.take(readAll({ ...options, after }), pageSize))
          }
          const prefix = prefixOf(options.streamPrefix)
          const query = prefix === undefined && options.types === undefined ? unfiltered : filterOf(prefix, options.types)
          const at: At = parsed._tag === "Transaction"
            ? { transaction: parsed.transaction, position: parsed.position }
            : { transaction: "0", position: 0 }
          return Effect.map(fetchPage(query, at, pageSize), ([chunk]) => chunk)
        }
      })

    /** The last event below the visibility bound of `readAll` (events above it come after, as `readAll` yields them). */
    const end = Effect.map(
      values("readAll", globalOrderEndSql),
      (rows) => rows[0] === undefined ? Cursor.start : ofTransaction(String(rows[0][0]), Number(rows[0][1]))
    )

    const readSide: ReadSide = {
      wakeups,
      end,
      pollInterval,
      checkpoints: { load, commit, lead, list, head },
      page: { of: readAll, read: page }
    }

    return { ...service, readAll, readSide }
  })

