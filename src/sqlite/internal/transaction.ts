/**
 * Transactions of the SQLite store that never die on a failed COMMIT or ROLLBACK
 * (internal).
 *
 * `@effect/sql`'s `withTransaction` runs COMMIT and ROLLBACK under
 * `Effect.orDie`. On SQLite that is worse than a defect: a COMMIT that fails
 * (a deferred foreign key a user added, an I/O error) leaves the transaction
 * OPEN, and `withTransaction` then hands the connection back as it is, still
 * holding the write lock, so every later transaction on it fails and every
 * other connection waits for the lock. So the store runs its own top-level
 * transactions: BEGIN, the body, COMMIT, and on a failed COMMIT a ROLLBACK while
 * the connection is still reserved, then `StoreUnavailable`.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Cause, Effect, Exit, Option } from "effect"
import { StoreUnavailable } from "../../StoreError.ts"
import { driverDefectsAsUnavailable } from "../../internal/driverDefects.ts"

/**
 * Runs `body` in a transaction of `sql`. At the top level the transaction is
 * the store's own (see the module comment): a failed COMMIT is rolled back and
 * becomes `StoreUnavailable({ operation })`; a failed ROLLBACK after a failed
 * body is ignored (SQLite may have rolled back already: `SQLITE_FULL`,
 * `SQLITE_IOERR`), and the body's own failure is kept. Inside a caller's
 * transaction it is `withTransaction`'s savepoint, whose failures (a lost
 * savepoint) become `StoreUnavailable` too: the caller's COMMIT is the caller's.
 */
export const transaction = (sql: SqlClient.SqlClient, operation: string) =>
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
          yield* run("BEGIN")
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
