/**
 * The typed errors of the event store. Each carries what a person needs to act:
 * which stream, which version, what was expected.
 *
 * @since 0.1.0
 */
import { Data, Schema } from "effect"
import type { ParseResult } from "effect"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import { StreamId } from "./StreamId.ts"

/**
 * An append's expected version did not match the stream's current version.
 * Nothing of that append was written, in any stream.
 *
 * @since 0.1.0
 */
export class WrongExpectedVersion extends Schema.TaggedError<WrongExpectedVersion>()("WrongExpectedVersion", {
  streamId: StreamId,
  expected: ExpectedVersion.ExpectedVersion,
  /** The stream's last version when the append was checked; 0 when it has no events. */
  actual: Schema.Number
}) {
  override get message(): string {
    return `Wrong expected version for stream ${JSON.stringify(this.streamId)}: expected ${
      ExpectedVersion.format(this.expected)
    }, actual version ${this.actual}`
  }
}

/**
 * An append carried an event id that is already stored (or twice in one append).
 * Nothing of that append was written.
 *
 * @since 0.1.0
 */
export class DuplicateEventId extends Schema.TaggedError<DuplicateEventId>()("DuplicateEventId", {
  eventId: Schema.String,
  streamId: StreamId
}) {
  override get message(): string {
    return `Event id ${this.eventId} (stream ${JSON.stringify(this.streamId)}) is already stored`
  }
}

/**
 * A stored row that does not decode: bad JSON, an unknown type, or a payload that
 * does not match the event's schema. Names the row; `cause` says what was wrong.
 *
 * @since 0.1.0
 */
export class EventDecodeError extends Data.TaggedError("EventDecodeError")<{
  readonly streamId: StreamId
  readonly version: number
  readonly position: number
  readonly type: string
  readonly cause: ParseResult.ParseError
}> {
  override get message(): string {
    return `Cannot decode event ${JSON.stringify(this.type)} at version ${this.version} of stream ${
      JSON.stringify(this.streamId)
    } (position ${this.position}): ${this.cause.message}`
  }
}

/**
 * A domain event that its codec cannot encode (for example a refinement the value
 * breaks). Nothing was appended.
 *
 * @since 0.1.0
 */
export class EventEncodeError extends Data.TaggedError("EventEncodeError")<{
  readonly streamId: StreamId
  readonly cause: ParseResult.ParseError
}> {
  override get message(): string {
    return `Cannot encode an event for stream ${JSON.stringify(this.streamId)}: ${this.cause.message}`
  }
}

/**
 * A read or append called with arguments out of range (a page size of 0, a
 * negative version, an empty list of writes).
 *
 * @since 0.1.0
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid argument to ${this.operation}: ${this.reason}`
  }
}

/**
 * The backend could not be reached or failed (connection lost, timeout, disk
 * full). `cause` is the driver's error, typically an `SqlError`.
 *
 * @since 0.1.0
 */
export class StoreUnavailable extends Data.TaggedError("StoreUnavailable")<{
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Event store unavailable during ${this.operation}: ${detail}`
  }
}

/**
 * What a read of stored (not yet decoded) events can fail with.
 *
 * @since 0.1.0
 */
export type ReadError = StoreUnavailable | InvalidArgument

/**
 * What an append can fail with.
 *
 * @since 0.1.0
 */
export type AppendError = WrongExpectedVersion | DuplicateEventId | StoreUnavailable | InvalidArgument

/**
 * Every error the store and its typed views can fail with.
 *
 * @since 0.1.0
 */
export type StoreError =
  | WrongExpectedVersion
  | DuplicateEventId
  | EventDecodeError
  | EventEncodeError
  | InvalidArgument
  | StoreUnavailable
