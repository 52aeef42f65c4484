/**
 * The typed errors of the event store, one family of `Schema.TaggedError`s. Each
 * carries what a person needs to act: which stream, which version, what was
 * expected. Being schemas, they can appear in an `HttpApi` endpoint's or an
 * `Rpc`'s error schema and cross a process boundary.
 *
 * Constructors never throw: fields read from storage or taken from a caller are
 * kept as they are (versions as plain numbers, causes as unknown values), so
 * building an error from bad data still gives the error.
 *
 * Every store error carries {@link TypeId}, so an adapter tells infrastructure
 * errors from domain errors in one line with {@link isStoreError}:
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { StoreError, StreamId } from "eventfold"
 *
 * class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", { message: Schema.String }) {}
 * class AccountClosed extends Schema.TaggedError<AccountClosed>()("AccountClosed", { account: Schema.String }) {}
 *
 * // a program that can fail with store errors or a domain error
 * const program: Effect.Effect<void, StoreError.WrongExpectedVersion | StreamId.InvalidStreamId | AccountClosed> =
 *   Effect.fail(new AccountClosed({ account: "ada" }))
 *
 * // every store error becomes one error of the service; AccountClosed stays for the domain
 * const handled: Effect.Effect<void, ServiceUnavailable | AccountClosed> = program.pipe(
 *   Effect.catchIf(StoreError.isStoreError, (error) => Effect.fail(new ServiceUnavailable({ message: error.message })))
 * )
 *
 * Effect.runPromise(Effect.flip(handled)).then((error) => assert.strictEqual(error._tag, "AccountClosed"))
 * ```
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import { StoreErrorTypeId } from "./internal/errorTypeId.ts"
import { InvalidStreamId } from "./StreamId.ts"
import type { StreamId } from "./StreamId.ts"

export {
  /**
   * A string that is not a valid stream id (defined in `StreamId`, part of this family).
   *
   * @since 0.2.0
   * @category errors
   */
  InvalidStreamId
}

/**
 * The type id of the store's errors.
 *
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: StoreErrorTypeId = StoreErrorTypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = StoreErrorTypeId

/**
 * A stream id as an error carries it: branded like `StreamId`, but not
 * re-validated, so an error about a bad id can still be built and decoded.
 */
const ErrorStreamId: Schema.Schema<StreamId, string> = Schema.String.pipe(Schema.brand("eventfold/StreamId")) as never

/**
 * An expected version as an error carries it: the shape of `ExpectedVersion`,
 * with any number as the version of `Exact`, so that an append given a bad
 * version (or a version read from a corrupt row) still gets its typed error.
 */
const ErrorExpectedVersion: Schema.Schema<ExpectedVersion.ExpectedVersion, ExpectedVersion.ExpectedVersion> = Schema.Union(
  ExpectedVersion.Any,
  ExpectedVersion.NoStream,
  ExpectedVersion.StreamExists,
  Schema.TaggedStruct("Exact", { version: Schema.Number })
) as never

const causeMessage = (cause: unknown): string =>
  Predicate.hasProperty(cause, "message") && typeof cause.message === "string" ? cause.message : String(cause)

/**
 * An append's expected version did not match the stream's current version.
 * Nothing of that append was written, in any stream.
 *
 * @since 0.1.0
 * @category errors
 */
export class WrongExpectedVersion extends Schema.TaggedError<WrongExpectedVersion>()("WrongExpectedVersion", {
  streamId: ErrorStreamId,
  expected: ErrorExpectedVersion,
  /** The stream's last version when the append was checked; 0 when it has no events. */
  actual: Schema.Number
}) {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId

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
 * @category errors
 */
export class DuplicateEventId extends Schema.TaggedError<DuplicateEventId>()("DuplicateEventId", {
  eventId: Schema.String,
  streamId: ErrorStreamId
}) {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return `Event id ${this.eventId} (stream ${JSON.stringify(this.streamId)}) is already stored`
  }
}

/**
 * A stored row that cannot be read: bad JSON, an unknown type, a payload that
 * does not match the event's schema, or a row the store itself finds corrupt (a
 * version gap, an unreadable timestamp). Names the row; `cause` says what was
 * wrong (a `ParseError` for payloads).
 *
 * @since 0.1.0
 * @category errors
 */
export class EventDecodeError extends Schema.TaggedError<EventDecodeError>()("EventDecodeError", {
  streamId: ErrorStreamId,
  version: Schema.Number,
  position: Schema.Number,
  type: Schema.String,
  cause: Schema.Defect
}) {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return `Cannot decode event ${JSON.stringify(this.type)} at version ${this.version} of stream ${
      JSON.stringify(this.streamId)
    } (position ${this.position}): ${causeMessage(this.cause)}`
  }
}

/**
 * A domain event that its codec cannot encode (for example a refinement the value
 * breaks). Nothing was appended. `cause` is typically a `ParseError`.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventEncodeError extends Schema.TaggedError<EventEncodeError>()("EventEncodeError", {
  streamId: ErrorStreamId,
  cause: Schema.Defect
}) {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return `Cannot encode an event for stream ${JSON.stringify(this.streamId)}: ${causeMessage(this.cause)}`
  }
}

/**
 * A read or append called with arguments out of range (a page size of 0, a
 * negative expected version, a stream id that is not one, an empty list of
 * writes). Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>()("InvalidArgument", {
  operation: Schema.String,
  reason: Schema.String
}) {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return `Invalid argument to ${this.operation}: ${this.reason}`
  }
}

/**
 * The backend could not be reached or failed (connection lost, timeout, disk
 * full). `cause` is the driver's error, typically an `SqlError`; encoded, it
 * keeps the cause's name and message.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  operation: Schema.String,
  cause: Schema.Defect
}) {
  /** @since 0.2.0 */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return `Event store unavailable during ${this.operation}: ${causeMessage(this.cause)}`
  }
}

/**
 * What a read of stored (not yet decoded) events can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type ReadError = StoreUnavailable | InvalidArgument | EventDecodeError

/**
 * What an append can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type AppendError = WrongExpectedVersion | DuplicateEventId | StoreUnavailable | InvalidArgument

/**
 * Every error the store and its typed views can fail with (the infrastructure
 * errors, as opposed to a domain's own).
 *
 * @since 0.1.0
 * @category models
 */
export type StoreError =
  | WrongExpectedVersion
  | DuplicateEventId
  | EventDecodeError
  | EventEncodeError
  | InvalidArgument
  | StoreUnavailable
  | InvalidStreamId

/**
 * Schema of every store error, for an endpoint's or an Rpc's error schema.
 *
 * @since 0.2.0
 * @category schemas
 */
export const StoreError: Schema.Union<[
  typeof WrongExpectedVersion,
  typeof DuplicateEventId,
  typeof EventDecodeError,
  typeof EventEncodeError,
  typeof InvalidArgument,
  typeof StoreUnavailable,
  typeof InvalidStreamId
]> = Schema.Union(
  WrongExpectedVersion,
  DuplicateEventId,
  EventDecodeError,
  EventEncodeError,
  InvalidArgument,
  StoreUnavailable,
  InvalidStreamId
)

/**
 * Whether a value is one of the store's errors ({@link StoreError}). Domain
 * errors are never matched. On a value of a known union it keeps the union's
 * store errors, so `Effect.catchIf` removes exactly them from the error channel;
 * on an `unknown` it narrows to {@link StoreError}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StoreError, StreamId } from "eventfold"
 *
 * const program = StreamId.make("").pipe(
 *   Effect.catchIf(StoreError.isStoreError, (error) => Effect.succeed(`store error: ${error._tag}`))
 * )
 *
 * Effect.runPromise(program).then((outcome) => assert.strictEqual(outcome, "store error: InvalidStreamId"))
 * ```
 *
 * @since 0.2.0
 * @category refinements
 */
export function isStoreError<E>(u: E): u is E & (unknown extends E ? StoreError : Extract<E, StoreError>) {
  return Predicate.hasProperty(u, TypeId)
}
