/**
 * The PostgreSQL driver's errors, classified for the store (internal: users never
 * import this; the tests do, to check the classification of errors that are hard
 * to provoke on demand, such as deadlocks).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Data } from "effect"
import { InvalidArgument, StoreUnavailable } from "../../StoreError.ts"
import { eventsTable } from "./migrations.ts"

/** The insert hit `UNIQUE (stream_id, version)`: a writer got there first. */
export class VersionTaken extends Data.TaggedError("VersionTaken")<{ readonly cause: SqlError }> {}

/** The insert hit `UNIQUE (event_id)`. */
export class EventIdTaken extends Data.TaggedError("EventIdTaken")<{ readonly cause: SqlError }> {}

/** Serialization failure or deadlock: the transaction may succeed if run again. */
export class Retryable extends Data.TaggedError("Retryable")<{ readonly cause: SqlError }> {}

/** The fields of a `pg` error (`DatabaseError`) the store looks at; `""` when absent. */
export interface DriverError {
  readonly code: string
  readonly constraint: string
  readonly detail: string
  readonly message: string
}

export const driverError = (error: SqlError): DriverError => {
  const cause = error.cause
  const field = (name: string): string => {
    if (typeof cause === "object" && cause !== null && name in cause) {
      const value = (cause as Record<string, unknown>)[name]
      if (typeof value === "string") return value
    }
    return ""
  }
  return { code: field("code"), constraint: field("constraint"), detail: field("detail"), message: field("message") }
}

/**
 * Classifies an append's driver error by SQLSTATE. 23505 names the constraint
 * (`VersionTaken` / `EventIdTaken`); 40001 (serialization failure) and 40P01
 * (deadlock) are `Retryable`; class 22 (data exception: a NUL character in
 * text, a `\u0000` escape in JSON) is the caller's input, `InvalidArgument`;
 * anything else, a lost connection included, is `StoreUnavailable`.
 */
export const classifyAppend = (
  error: SqlError
): VersionTaken | EventIdTaken | Retryable | InvalidArgument | StoreUnavailable => {
  const { code, constraint, message } = driverError(error)
  if (code === "23505") {
    if (constraint === `${eventsTable}_event_id`) return new EventIdTaken({ cause: error })
    if (constraint === `${eventsTable}_stream_version`) return new VersionTaken({ cause: error })
  }
  if (code === "40001" || code === "40P01") return new Retryable({ cause: error })
  if (code.startsWith("22")) return new InvalidArgument({ operation: "append", reason: `rejected by PostgreSQL: ${message}` })
  return new StoreUnavailable({ operation: "append", cause: error })
}

