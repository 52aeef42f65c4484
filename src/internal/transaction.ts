/**
 * Transactions of the SQL stores that never die on a failed COMMIT or ROLLBACK,
 * and whose BEGIN can carry more (internal).
 *
 * `@effect/sql`'s `withTransaction` runs COMMIT and ROLLBACK under
 * `Effect.orDie`, and always begins with a plain `BEGIN`. On SQLite a defect is
 * not the worst of it: a COMMIT that fails
 * (a deferred foreign key a user added, an I/O error) leaves the transaction
 * OPEN, and `withTransaction` then hands the connection back as it is, still
 * holding the write lock, so every later transaction on it fails and every
 * other connection waits for the lock. So the store runs its own top-level
 * transactions: BEGIN, the body, COMMIT, and on a failed COMMIT a ROLLBACK while
 * the connection is still reserved, then `StoreUnavailable`.
 *
 * Owning BEGIN also saves a round trip per append: SQLite's append begins with
 * `BEGIN IMMEDIATE` (the write lock, taken before the version checks), and
 * PostgreSQL's sends `BEGIN ISOLATION LEVEL READ COMMITTED` and the append lock
 * as one simple query.
 */
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { StoreUnavailable } from "../StoreError.ts"
import { driverDefectsAsUnavailable } from "./driverDefects.ts"

/**
 * Runs `body` in a transaction of `sql`. At the top level the transaction is
 * the store's own (see the module comment), opened by `begin` (one or more
 * statements without parameters, sent as one query): a failed COMMIT is rolled back and
 * becomes `StoreUnavailable({ operation })`; a failed ROLLBACK after a failed
 * body is ignored (SQLite may have rolled back already: `SQLITE_FULL`,
 * `SQLITE_IOERR`), and the body's own failure is kept. Inside a caller's
 * transaction it is `withTransaction`'s savepoint, whose failures (a lost
 * savepoint) become `StoreUnavailable` too: the caller's COMMIT is the caller's.
 */
export const transaction = (sql: SqlClient.SqlClient, operation: string, begin = "BEGIN") =>
<A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError | StoreUnavailable, R> =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) =>
    Option.isSome(outer)
      ? driverDefectsAsUnavailable(operation)(sql.withTransaction(body))
      : Effect.uninterruptibleMask((restore) =>
        Effect.scoped(Effect.gen(function*() {
          const conn = yield* restore(sql.reserve)
          const run = (statement: string) => Effect.suspend(() => conn.executeUnprepared(statement, [], undefined))
          // whatever ROLLBACK says (even a defect), the outcome to report is the earlier one
          const rollback = Effect.exit(run("ROLLBACK"))
          // BEGIN may wait (PostgreSQL's append lock): interruptible, and rolled back
          // if it fails or is interrupted half-way
          const begun = yield* Effect.exit(restore(run(begin)))
          if (Exit.isFailure(begun)) {
            yield* rollback
            return yield* Effect.failCause(begun.cause)
          }
          const exit = yield* Effect.exit(restore(Effect.provideService(body, SqlClient.TransactionConnection, [conn, 0])))
          if (Exit.isFailure(exit)) {
            yield* rollback
            return yield* exit
          }
          const committed = yield* Effect.exit(run("COMMIT"))
          if (Exit.isFailure(committed)) {
            yield* rollback
            return yield* new StoreUnavailable({ operation, cause: Cause.squash(committed.cause) })
          }
          return exit.value
        }))
      ))

/** Options of {@link transactionOn}. */
export interface TransactionOnOptions {
  /** One or more statements without parameters that open the transaction (default `BEGIN`). */
  readonly begin?: string | undefined
  /**
   * Sends BEGIN, COMMIT and ROLLBACK as prepared statements, kept by the
   * driver's statement cache (SQLite: prepared once, not once per transaction).
   * Only for a `begin` that is a single statement.
   */
  readonly prepared?: boolean | undefined
}

/**
 * {@link transaction} for a body that runs its statements on the transaction's
 * connection itself (`conn.executeRaw`, no statement compiler, no span per
 * statement): the hot path of an append. Same guarantees: at the top level the
 * store's own BEGIN / COMMIT, a failed COMMIT rolled back and reported as
 * `StoreUnavailable({ operation })`, a failed body rolled back with its own
 * failure kept; inside a caller's transaction `withTransaction`'s savepoint on
 * the caller's connection. At the top level the body gets the reserved
 * connection and nothing is added to its context: it must send every
 * statement on `conn` (on SQLite, a statement sent through the client instead
 * would wait for the connection this transaction holds).
 */
export const transactionOn = (sql: SqlClient.SqlClient, operation: string, options?: TransactionOnOptions) => {
  const begin = options?.begin ?? "BEGIN"
  const prepared = options?.prepared === true
  return <A, E, R>(body: (conn: Connection) => Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError | StoreUnavailable, R> =>
    Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) =>
      Option.isSome(outer)
        ? driverDefectsAsUnavailable(operation)(
          // the savepoint runs on the caller's connection
          sql.withTransaction(Effect.suspend(() => body(outer.value[0])))
        )
        : Effect.uninterruptibleMask((restore) =>
          Effect.scoped(Effect.flatMap(restore(sql.reserve), (conn) => {
            const run = (statement: string) =>
              Effect.suspend(() => prepared ? conn.executeRaw(statement, []) : conn.executeUnprepared(statement, [], undefined))
            // whatever ROLLBACK says (even a defect), the outcome to report is the earlier one
            const rollback = Effect.exit(run("ROLLBACK"))
            return Effect.flatMap(Effect.exit(restore(run(begin))), (begun): Effect.Effect<A, E | SqlError | StoreUnavailable, R> =>
              Exit.isFailure(begun)
                ? Effect.zipRight(rollback, Effect.failCause(begun.cause))
                : Effect.flatMap(Effect.exit(restore(Effect.suspend(() => body(conn)))), (exit): Effect.Effect<A, E | SqlError | StoreUnavailable> =>
                  Exit.isFailure(exit)
                    ? Effect.zipRight(rollback, exit)
                    : Effect.flatMap(Effect.exit(run("COMMIT")), (committed): Effect.Effect<A, StoreUnavailable> =>
                      Exit.isFailure(committed)
                        ? Effect.zipRight(
                          rollback,
                          Effect.fail(new StoreUnavailable({ operation, cause: Cause.squash(committed.cause) }))
                        )
                        : Effect.succeed(exit.value))))
          }))
        ))
}
