/**
 * The PostgreSQL store's classification of driver errors, unit-tested on
 * hand-made `SqlError`s (deadlocks and serialization failures are hard to
 * provoke on demand; PgEventStore.test.ts provokes each code through a trigger).
 */
import { MigrationError } from "@effect/sql/Migrator"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, FiberId } from "effect"
import { StoreError } from "eventfold"
import { driverDefectsAsUnavailable } from "../../src/internal/driverDefects.ts"
import { classifyAppend } from "../../src/postgres/internal/errors.ts"

/** An `SqlError` as `@effect/sql-pg` makes it: the `pg` error as cause. */
const pgError = (fields: { code: string; constraint?: string; message?: string }) =>
  new SqlError({ cause: Object.assign(new Error(fields.message ?? "boom"), fields), message: "Failed to execute statement" })

describe("classifyAppend", () => {
  it("maps a unique violation to the constraint it names", () => {
    expect(classifyAppend(pgError({ code: "23505", constraint: "eventfold_events_stream_version" }))._tag).toBe("VersionTaken")
    expect(classifyAppend(pgError({ code: "23505", constraint: "eventfold_events_event_id" }))._tag).toBe("EventIdTaken")
    // A unique violation of someone else's constraint (a user's trigger) is not a version conflict.
    expect(classifyAppend(pgError({ code: "23505", constraint: "audit_pkey" }))).toMatchObject({ _tag: "StoreUnavailable", operation: "append" })
  })

  it("marks serialization failures and deadlocks as retryable", () => {
    for (const code of ["40001", "40P01"]) {
      const error = pgError({ code })
      const classified = classifyAppend(error)
      expect(classified._tag).toBe("Retryable")
      expect(classified).toMatchObject({ cause: error })
    }
  })

  it("maps SQLSTATE class 22 (data exception) to InvalidArgument carrying the server's message", () => {
    const classified = classifyAppend(pgError({ code: "22P05", message: "unsupported Unicode escape sequence" }))
    expect(classified).toBeInstanceOf(StoreError.InvalidArgument)
    expect(classified).toMatchObject({ operation: "append", reason: "rejected by PostgreSQL: unsupported Unicode escape sequence" })
  })

  it("maps everything else, a lost connection included, to StoreUnavailable with the SqlError as cause", () => {
    for (const error of [pgError({ code: "57P01" }), pgError({ code: "08006" }), new SqlError({ cause: new Error("Connection terminated unexpectedly") })]) {
      const classified = classifyAppend(error)
      expect(classified).toBeInstanceOf(StoreError.StoreUnavailable)
      expect(classified).toMatchObject({ operation: "append", cause: error })
    }
  })
})

describe("driverDefectsAsUnavailable", () => {
  const guarded = <E>(effect: Effect.Effect<never, E>) => Effect.exit(driverDefectsAsUnavailable("append")(effect))

  it.effect("turns a defect that is an SqlError (a failed COMMIT or ROLLBACK) into StoreUnavailable", () =>
    Effect.gen(function*() {
      const commit = pgError({ code: "P0001" })
      expect(yield* guarded(Effect.die(commit))).toEqual(Exit.fail(new StoreError.StoreUnavailable({ operation: "append", cause: commit })))
      const migration = new MigrationError({ reason: "failed", message: "Migration \"1_create_events\" failed", cause: commit })
      const exit = yield* Effect.exit(driverDefectsAsUnavailable("migrate")(Effect.die(migration)))
      expect(exit).toEqual(Exit.fail(new StoreError.StoreUnavailable({ operation: "migrate", cause: migration })))
    }))

  it.effect("leaves other defects, failures and interruption as they are", () =>
    Effect.gen(function*() {
      const bug = new TypeError("a bug")
      const died = yield* guarded(Effect.die(bug))
      expect(Exit.isFailure(died) && Cause.isDie(died.cause) && Cause.squash(died.cause)).toBe(bug)
      expect(yield* guarded(Effect.fail("typed" as const))).toEqual(Exit.fail("typed"))
      const interrupted = yield* guarded(Effect.interrupt)
      expect(Exit.isInterrupted(interrupted)).toBe(true)
      // Interruption wins over an SqlError defect beside it: it stays interruption.
      const both = yield* guarded(Effect.failCause(Cause.sequential(Cause.interrupt(FiberId.none), Cause.die(pgError({ code: "08006" })))))
      expect(Exit.isInterrupted(both)).toBe(true)
    }))
})
