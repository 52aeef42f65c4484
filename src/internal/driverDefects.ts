/**
 * Driver failures that `@effect/sql` reports as defects, made typed again
 * (shared by the SQL backends).
 */
import { MigrationError } from "@effect/sql/Migrator"
import { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { StoreUnavailable } from "../StoreError.ts"

/** Whether a defect is a driver failure: an `SqlError`, or the Migrator's wrapper of one. */
const isDriverDefect = (defect: unknown): boolean => defect instanceof SqlError || defect instanceof MigrationError

/**
 * `@effect/sql`'s `withTransaction` runs COMMIT and ROLLBACK under `Effect.orDie`,
 * so a lost connection, or a COMMIT that fails (a deferred constraint), is a
 * defect, not a failure. This turns a defect that is a driver error into
 * `StoreUnavailable({ operation })`. Interruption and any other defect pass
 * through unchanged.
 */
export const driverDefectsAsUnavailable = (operation: string) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreUnavailable, R> =>
  Effect.catchAllCause(self, (cause): Effect.Effect<never, E | StoreUnavailable> => {
    if (Cause.isInterrupted(cause)) return Effect.failCause(cause)
    const defect = Cause.find(cause, (reason) =>
      reason._tag === "Die" && isDriverDefect(reason.defect) ? Option.some(reason.defect) : Option.none())
    return Option.isSome(defect)
      ? Effect.fail(new StoreUnavailable({ operation, cause: defect.value }))
      : Effect.failCause(cause)
  })
