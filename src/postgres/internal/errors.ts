/**
 * The PostgreSQL driver's errors, classified for the store (internal: users never
 * import this; the tests do, to check the classification of errors that are hard
 * to provoke on demand, such as deadlocks).
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Data from "effect/Data"
import { InvalidArgument, StoreUnavailable } from "../../StoreError.ts"
import { eventsTable, wrongExpectedVersionCode } from "./migrations.ts"

/** The insert hit `UNIQUE (stream_id, version)`: a writer got there first. */
export class VersionTaken extends Data.TaggedError("VersionTaken")<{ readonly cause: SqlError }> {}

/** The insert hit `UNIQUE (event_id)`. */
export class EventIdTaken extends Data.TaggedError("EventIdTaken")<{ readonly cause: SqlError }> {}

/**
 * The append function found an expected version that does not match (SQLSTATE
 * EF409): `write` is the 0-based index of the write, `actual` its stream's head.
 */
export class Mismatch extends Data.TaggedError("Mismatch")<{ readonly write: number; readonly actual: number; readonly cause: SqlError }> {}

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

/** `{"write": ordinal, "actual": head}` of an EF409 detail; undefined when it is not that. */
const parseMismatch = (detail: string): { readonly write: number; readonly actual: number } | undefined => {
  try {
    const parsed: unknown = JSON.parse(detail)
    if (typeof parsed !== "object" || parsed === null) return undefined
    const { actual, write } = parsed as Record<string, unknown>
    return typeof write === "number" && typeof actual === "number" && Number.isSafeInteger(write) && write >= 1
      ? { write: write - 1, actual }
      : undefined
  } catch {
    return undefined
  }
}

/**
 * SQLSTATEs and messages of a connection that is gone: the server shut it
 * (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now), a
 * connection exception (class 08), or the driver found the socket closed. A
 * statement that failed this way may be run again on another connection.
 */
export const isConnectionLost = (error: SqlError): boolean => {
  const { code, message } = driverError(error)
  if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") return true
  const text = message !== "" ? message : error.cause instanceof Error ? error.cause.message : ""
  return /connection terminated|not queryable|ECONNRESET|EPIPE|Connection error/i.test(text)
}

/**
 * A statement cancelled by a `pg_cancel_backend` it did not ask for (57014
 * "due to user request", not a statement timeout). `@effect/sql-pg` cancels the
 * statement of an interrupted fiber by signalling its backend, and the signal
 * can land after that connection went back to the pool, on the next statement of
 * another fiber. A statement that did not commit may be run again.
 */
export const isStrayCancel = (error: SqlError): boolean => {
  const { code, message } = driverError(error)
  return code === "57014" && /user request/i.test(message)
}

/**
 * Classifies an append's driver error by SQLSTATE. 23505 names the constraint
 * (`VersionTaken` / `EventIdTaken`); 40001 (serialization failure) and 40P01
 * (deadlock) and a stray cancel ({@link isStrayCancel}) are `Retryable`; class 22 (data exception: a NUL character in
 * text, a `\u0000` escape in JSON) is the caller's input, `InvalidArgument`;
 * anything else, a lost connection included, is `StoreUnavailable`.
 */
export const classifyAppend = (
  error: SqlError
): Mismatch | VersionTaken | EventIdTaken | Retryable | InvalidArgument | StoreUnavailable => {
  const { code, constraint, detail, message } = driverError(error)
  if (code === wrongExpectedVersionCode) {
    const parsed = parseMismatch(detail)
    if (parsed !== undefined) return new Mismatch({ ...parsed, cause: error })
  }
  if (code === "23505") {
    if (constraint === `${eventsTable}_event_id`) return new EventIdTaken({ cause: error })
    if (constraint === `${eventsTable}_stream_version`) return new VersionTaken({ cause: error })
  }
  if (code === "40001" || code === "40P01" || isStrayCancel(error)) return new Retryable({ cause: error })
  if (code.startsWith("22")) return new InvalidArgument({ operation: "append", reason: `rejected by PostgreSQL: ${message}` })
  return new StoreUnavailable({ operation: "append", cause: error })
}

