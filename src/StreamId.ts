/**
 * Stream identifiers: branded, validated strings naming one event stream.
 *
 * A stream id is 1 to 200 characters (Unicode code points), well-formed (no lone
 * surrogates), with no control characters. Anything else is stored and read back literally: quotes, `%`, `_`,
 * unicode and SQL fragments are plain data to every backend.
 *
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import { StreamId } from "eventfold"
 *
 * const program = Effect.gen(function*() {
 *   const id = yield* StreamId.make("account-42") // fails with InvalidStreamId on bad input
 *   return id
 * })
 * Effect.runPromise(program).then((id) => assert.strictEqual(id, "account-42"))
 *
 * // the same rules without an Effect
 * assert.ok(Either.isLeft(StreamId.either("")))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { StoreErrorTypeId } from "./internal/errorTypeId.ts"
import { streamIdProblem } from "./internal/streamIdRules.ts"

/**
 * Schema of a stream id: decodes a string into the branded `StreamId`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StreamId = Schema.String.pipe(
  Schema.filter((s) => streamIdProblem(s) ?? true),
  Schema.brand("eventfold/StreamId"),
  Schema.annotations({ identifier: "StreamId", description: "1-200 characters, no control characters, no lone surrogates" })
)

/**
 * A validated stream identifier.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamId = typeof StreamId.Type

/**
 * A string that is not a valid stream id. `reason` says which rule it broke.
 * One of the store's errors: `StoreError.isStoreError` matches it.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidStreamId extends Schema.TaggedError<InvalidStreamId>()("InvalidStreamId", {
  input: Schema.String,
  reason: Schema.String
}) {
  /**
   * Marks the error as one of the store's (see `StoreError.isStoreError`).
   *
   * @since 0.2.0
   */
  readonly [StoreErrorTypeId]: StoreErrorTypeId = StoreErrorTypeId
  override get message(): string {
    return `Invalid stream id ${JSON.stringify(this.input.slice(0, 80))}: ${this.reason}`
  }
}

const decode = Schema.decodeUnknownEither(StreamId)

/**
 * Validates a string as a stream id, returning an `Either`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const either = (input: string): Either.Either<StreamId, InvalidStreamId> =>
  Either.mapLeft(decode(input), (error) =>
    new InvalidStreamId({
      input,
      reason: ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.message).join("; ")
    }))

/**
 * Validates a string as a stream id; fails with `InvalidStreamId`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (input: string): Effect.Effect<StreamId, InvalidStreamId> => either(input)

/**
 * Validates a string as a stream id and throws `InvalidStreamId` when it is not one.
 * Meant for literals in tests and examples, where a bad id is a programming error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMake = (input: string): StreamId => Either.getOrThrowWith(either(input), (error) => error)

/**
 * Joins a category and an id into a stream id, as `category-id`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StreamId } from "eventfold"
 *
 * const id = StreamId.fromParts("account", "42") // Effect<StreamId, InvalidStreamId>
 * Effect.runPromise(id).then((id) => assert.strictEqual(id, "account-42"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromParts = (category: string, id: string): Effect.Effect<StreamId, InvalidStreamId> =>
  make(`${category}-${id}`)
