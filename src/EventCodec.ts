/**
 * Codecs between domain events and stored rows.
 *
 * An `EventCodec<E>` is built from a `Schema` whose type is a union of tagged
 * events (`Schema.TaggedClass` / `Schema.TaggedStruct`, tag field `_tag`). An event
 * is stored as `type` (its tag) and `data` (the JSON of its encoded fields, without
 * the tag). Decoding a row parses the JSON, applies the optional upcaster, and
 * decodes with the schema; bad JSON, an unknown type and a payload that does not
 * match all fail with `EventDecodeError` naming the row.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { EventCodec } from "eventfold"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 *
 * const codec = EventCodec.make(Schema.Union(Deposited, Withdrawn))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import type { SchemaAST } from "effect"
import type { EventData, Metadata, RecordedEvent, StoredEvent } from "./Event.ts"
import { makeEventId, Metadata as MetadataSchema } from "./Event.ts"
import type { EventId } from "./Event.ts"
import { EventDecodeError } from "./StoreError.ts"

/**
 * A stored event before it is decoded: the type and the parsed JSON payload.
 * Upcasters map old shapes to current ones.
 *
 * @since 0.1.0
 */
export interface RawEvent {
  readonly type: string
  readonly data: unknown
}

/**
 * Maps a stored event of an old type or shape to the current one. Called on every
 * row before the schema decodes it; return the input unchanged when it is current.
 *
 * @since 0.1.0
 */
export type Upcaster = (event: RawEvent) => RawEvent

/**
 * Encodes domain events of type `E` to rows and decodes rows back.
 *
 * @since 0.1.0
 */
export interface EventCodec<E> {
  /** Encodes one event to its stored `type` and JSON `data`. */
  readonly encode: (event: E) => Either.Either<RawEncoded, ParseResult.ParseError>
  /** Decodes one stored row; fails with `EventDecodeError` naming the row. */
  readonly decode: (row: StoredEvent) => Either.Either<RecordedEvent<E>, EventDecodeError>
}

/**
 * An encoded event: its type and the JSON text of its payload.
 *
 * @since 0.1.0
 */
export interface RawEncoded {
  readonly type: string
  readonly data: string
}

/**
 * Options for {@link make}.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Upgrades old rows (renamed types, old payload shapes) before decoding. */
  readonly upcast?: Upcaster
}

const parseJson = Schema.decodeUnknownEither(Schema.parseJson())
/**
 * `JSON.parse` on the hot path (a row decodes several times faster than through
 * `Schema.parseJson`); only text that does not parse goes through the schema,
 * which builds the same `ParseError` it always did.
 */
const parseJsonFast = (text: string): Either.Either<unknown, ParseResult.ParseError> => {
  try {
    return Either.right(JSON.parse(text))
  } catch {
    return parseJson(text)
  }
}
const parseMetadata = Schema.decodeUnknownEither(Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown })))
const emptyMetadata: Metadata = Object.freeze({})

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const notAnObject = (data: unknown, type: string): ParseResult.ParseError =>
  new ParseResult.ParseError({
    issue: new ParseResult.Type(Schema.Object.ast, data, `the payload of a ${JSON.stringify(type)} event must be a JSON object`)
  })

/** `JSON.stringify` as an `Either`: it throws on a `bigint` and on cycles. */
const stringify = (value: unknown, ast: SchemaAST.AST): Either.Either<string, ParseResult.ParseError> => {
  try {
    return Either.right(JSON.stringify(value))
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return Either.left(new ParseResult.ParseError({ issue: new ParseResult.Type(ast, value, `cannot be written as JSON: ${reason}`) }))
  }
}

const notJsonSafe = (event: unknown, ast: SchemaAST.AST, cause: ParseResult.ParseError): ParseResult.ParseError =>
  new ParseResult.ParseError({
    issue: new ParseResult.Type(
      ast,
      event,
      `the event does not survive a JSON round trip (its encoded form holds a value JSON cannot carry, such as NaN, Infinity or a Date object), so it could never be read back: ${cause.message}`
    )
  })

/**
 * Builds a codec from a schema whose type is a union of tagged events.
 *
 * @since 0.1.0
 */
export const make = <E extends { readonly _tag: string }, I extends { readonly _tag: string }>(
  schema: Schema.Schema<E, I, never>,
  options: Options = {}
): EventCodec<E> => {
  const decodeEvent = Schema.decodeUnknownEither(schema)
  const encodeEvent = Schema.encodeEither(schema)
  const upcast = options.upcast

  const fail = (row: StoredEvent, cause: ParseResult.ParseError) =>
    Either.left(
      new EventDecodeError({
        streamId: row.streamId,
        version: row.version,
        position: row.position,
        type: row.type,
        cause
      })
    )

  const decode = (row: StoredEvent): Either.Either<RecordedEvent<E>, EventDecodeError> => {
    const parsed = parseJsonFast(row.data)
    if (Either.isLeft(parsed)) return fail(row, parsed.left)
    let type = row.type
    let data = parsed.right
    if (upcast !== undefined) {
      const upcasted = upcast({ type, data })
      type = upcasted.type
      data = upcasted.data
    }
    if (!isRecord(data)) return fail(row, notAnObject(data, type))
    // an upcaster may hand back an object it keeps (or froze): tag a copy of it
    const tagged: Record<string, unknown> = upcast === undefined ? data : { ...data }
    tagged["_tag"] = type
    const decoded = decodeEvent(tagged)
    if (Either.isLeft(decoded)) return fail(row, decoded.left)
    let metadata = emptyMetadata
    if (row.metadata !== "{}") {
      const parsedMetadata = parseMetadata(row.metadata)
      if (Either.isLeft(parsedMetadata)) return fail(row, parsedMetadata.left)
      metadata = parsedMetadata.right
    }
    return Either.right({
      streamId: row.streamId,
      version: row.version,
      position: row.position,
      eventId: row.eventId,
      type: row.type,
      data: decoded.right,
      metadata,
      recordedAt: row.recordedAt
    })
  }

  /**
   * Encodes, writes the JSON, and checks that the JSON decodes again: an encoded
   * side that JSON cannot carry (`NaN`, a `bigint`, a `Date` from `DateFromSelf`)
   * fails here, typed, instead of being stored and failing every later read.
   */
  const encode = (event: E): Either.Either<RawEncoded, ParseResult.ParseError> =>
    Either.flatMap(encodeEvent(event), (encoded) => {
      const { _tag, ...payload } = encoded
      return Either.flatMap(stringify(payload, schema.ast), (data) => {
        const roundTrip = decodeEvent({ ...JSON.parse(data), _tag })
        return Either.isRight(roundTrip)
          ? Either.right({ type: _tag, data })
          : Either.left(notJsonSafe(event, schema.ast, roundTrip.left))
      })
    })

  return { encode, decode }
}

/**
 * Builds an upcaster from one function per old type. Rows of other types pass
 * through unchanged.
 *
 * @example
 * ```ts
 * const upcast = EventCodec.upcasters({
 *   // v1 stored "Credited" with { value }; it is now "Deposited" with { amount }
 *   Credited: (data) => ({ type: "Deposited", data: { amount: (data as { value: number }).value } })
 * })
 * ```
 *
 * @since 0.1.0
 */
export const upcasters = (byType: Readonly<Record<string, (data: unknown) => RawEvent>>): Upcaster => (event) => {
  const upcast = Object.hasOwn(byType, event.type) ? byType[event.type] : undefined
  return upcast === undefined ? event : upcast(event.data)
}

const stringifyMetadata = Schema.encodeEither(Schema.parseJson(MetadataSchema))

/**
 * Encodes a metadata object to the JSON text the store keeps; fails when it
 * holds a value JSON cannot write (a `bigint`, a cycle).
 *
 * @since 0.1.0
 */
export const encodeMetadata = (metadata: Metadata | undefined): Either.Either<string, ParseResult.ParseError> =>
  metadata === undefined ? Either.right("{}") : stringifyMetadata(metadata)

/**
 * Options for one event in {@link toEventData}.
 *
 * @since 0.1.0
 */
export interface EventDataOptions {
  /** A caller-chosen id makes the append idempotent; a random one is made otherwise. */
  readonly eventId?: EventId
  readonly metadata?: Metadata
}

/**
 * Encodes a domain event into the `EventData` an append takes.
 *
 * @since 0.1.0
 */
export const toEventData = <E>(
  codec: EventCodec<E>,
  event: E,
  options: EventDataOptions = {}
): Effect.Effect<EventData, ParseResult.ParseError> =>
  Effect.flatMap(Either.all([codec.encode(event), encodeMetadata(options.metadata)]), ([encoded, metadata]) =>
    Effect.map(options.eventId === undefined ? makeEventId : Effect.succeed(options.eventId), (eventId) => ({
      eventId,
      type: encoded.type,
      data: encoded.data,
      metadata
    })))
