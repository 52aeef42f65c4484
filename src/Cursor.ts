/**
 * A place in the global log, to resume `readAll` from: every event carries the
 * cursor just after it (`StoredEvent.cursor`), and `readAll({ after })` yields
 * the events strictly after a cursor. Store it as a checkpoint next to a read
 * model and hand it back on restart.
 *
 * A cursor is opaque: a string whose content belongs to the backend that made
 * it (memory, SQLite and the file store wrap the event's global position;
 * PostgreSQL wraps the writing transaction's id and the position, see
 * adr/0012-postgres-global-order.md). Compare cursors only by handing them to
 * the store; never build one by hand from a position. It is serializable as it
 * is (a JSON string, a text column), and {@link decode} turns stored text back
 * into a `Cursor`, checking its form.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Cursor, EventStore } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * // read the global log after a checkpoint; the last event's cursor is the next checkpoint
 * const catchUp = (checkpoint: Cursor.Cursor) =>
 *   Effect.flatMap(EventStore.EventStore, (store) =>
 *     store.readAll({ after: checkpoint }).pipe(
 *       Stream.runFold(checkpoint, (_, event) => event.cursor)
 *     ))
 *
 * const program = catchUp(Cursor.start).pipe(Effect.provide(MemoryEventStore.layer()))
 * Effect.runPromise(program).then((next) => assert.strictEqual(next, Cursor.start)) // nothing stored yet
 * ```
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { InvalidArgument } from "./StoreError.ts"

/**
 * The form of every cursor: `0` (the start), a position (`42`), or a
 * transaction id and a position (`771:42`, PostgreSQL). Decimal digits without
 * leading zeros; a position fits a safe integer, a transaction id 64 bits.
 */
const form = /^(?:0|[1-9][0-9]{0,19}:(?:0|[1-9][0-9]{0,15})|[1-9][0-9]{0,15})$/

/**
 * The schema of a cursor: a branded string (encoded: the same string), so a
 * checkpoint can sit in any schema (an `HttpApi` payload, a table row).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Cursor = Schema.String.pipe(
  Schema.filter((text) => form.test(text) || `not an eventfold cursor: ${JSON.stringify(text)}`),
  Schema.brand("eventfold/Cursor")
).annotations({ identifier: "Cursor", description: "A place in the global log of an eventfold store" })

/**
 * A place in the global log, to resume a `readAll` after.
 *
 * @since 0.2.0
 * @category models
 */
export type Cursor = typeof Cursor.Type

/**
 * The cursor before the first event: `readAll({ after: Cursor.start })` reads
 * the whole log, as `readAll()` does.
 *
 * @since 0.2.0
 * @category constructors
 */
export const start: Cursor = Cursor.make("0", { disableValidation: true })

/**
 * Whether a value is a well-formed cursor (a string of one of the cursor forms).
 *
 * @since 0.2.0
 * @category guards
 */
export const isCursor: (u: unknown) => u is Cursor = Schema.is(Cursor)

const decodeEither = Schema.decodeUnknownEither(Cursor)

/**
 * Turns text (a stored checkpoint) back into a cursor, or fails with
 * `InvalidArgument` when it is not one.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Cursor } from "eventfold"
 *
 * // a checkpoint read back from a text column
 * const checkpoint = Cursor.decode(Cursor.start) // Either<Cursor, InvalidArgument>
 * assert.ok(Either.isRight(checkpoint))
 *
 * const garbage = Cursor.decode("not a cursor")
 * assert.ok(Either.isLeft(garbage) && garbage.left._tag === "InvalidArgument")
 * ```
 *
 * @since 0.2.0
 * @category decoding
 */
export const decode = (text: string): Either.Either<Cursor, InvalidArgument> =>
  Either.mapLeft(
    decodeEither(text),
    (error) =>
      new InvalidArgument({ operation: "Cursor.decode", reason: ParseResult.TreeFormatter.formatErrorSync(error) })
  )
