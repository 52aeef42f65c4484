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
 * import { Either, Schema } from "effect"
 * import { EventCodec } from "eventfold"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 *
 * const codec = EventCodec.make(Schema.Union(Deposited, Withdrawn))
 *
 * // stored as its tag and the JSON of its other fields
 * assert.deepStrictEqual(codec.encode(new Deposited({ amount: 100 })), Either.right({ type: "Deposited", data: "{\"amount\":100}" }))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import type { EventData, Metadata, RecordedEvent, StoredEvent } from "./Event.ts"
import { makeEventId, Metadata as MetadataSchema } from "./Event.ts"
import type { EventId } from "./Event.ts"
import type { Unfaithful } from "./internal/codecJson.ts"
import { nonFinite, PayloadDecoderTypeId, plainDecoder, plainEncoder, stringify as stringifyFaithful } from "./internal/codecJson.ts"
import type { PayloadDecoder } from "./internal/codecJson.ts"
import { EventDecodeError } from "./StoreError.ts"

/**
 * A stored event before it is decoded: the type and the parsed JSON payload.
 * Upcasters map old shapes to current ones.
 *
 * @since 0.1.0
 * @category models
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
 * @category models
 */
export type Upcaster = (event: RawEvent) => RawEvent

/**
 * Encodes domain events of type `E` to rows and decodes rows back.
 *
 * @since 0.1.0
 * @category models
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
 * @category models
 */
export interface RawEncoded {
  readonly type: string
  readonly data: string
}

/**
 * Options for {@link make}.
 *
 * @since 0.1.0
 * @category constructors
 */
export interface Options<E = unknown> {
  /**
   * Upgrades old rows (renamed types, old payload shapes) before decoding: an
   * untyped function over the parsed JSON, for what {@link versions} cannot say.
   */
  readonly upcast?: Upcaster
  /**
   * Old shapes of stored events, typed: for each stored type name (after the
   * upcaster, if any), the old versions of its payload, each a schema that
   * decodes into a current event (see {@link version}). A row is decoded with the
   * current schema first; only if that fails are its type's versions tried, in
   * order, and the first that decodes wins. A row that matches none fails with
   * `EventDecodeError` naming the row and every attempt.
   */
  readonly versions?: Versions<E>
}

/**
 * The old versions of stored events, by stored type name.
 *
 * @since 0.2.0
 * @category schema evolution
 */
export type Versions<E> = { readonly [storedType: string]: ReadonlyArray<EventVersion<E>> }

const EventVersionTypeId: unique symbol = Symbol.for("eventfold/EventCodec/EventVersion")

/**
 * An old version of a stored event: decodes a stored payload of that old shape
 * into a current event of type `E`. Made by {@link version}.
 *
 * @since 0.2.0
 * @category schema evolution
 */
export interface EventVersion<out E> {
  readonly [EventVersionTypeId]: typeof EventVersionTypeId
  /**
   * Decodes the parsed payload of a stored row (a JSON object, with `_tag` set
   * to the stored type name) into the current event.
   */
  readonly decode: (payload: unknown) => Either.Either<E, ParseResult.ParseError>
}

/**
 * Declares an old version of an event, typed, in one of two forms:
 *
 * - `version(OldShape, upgrade)`: `OldShape` is a schema of the payload as it was
 *   stored (a `Schema.Struct`, or the old `TaggedClass`: the stored type name is
 *   given as `_tag`), and `upgrade` maps a decoded old value to the current event.
 * - `version(schema)`: a schema whose encoded side is the old stored payload and
 *   whose type is the current event, such as a `Schema.transform` you wrote.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Event, EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.String, currency: Schema.String }) {}
 *
 * // v1 stored "AccountOpened" with { name }; v2 stored "Opened" without a currency
 * const OpenedV1 = EventCodec.version(Schema.Struct({ name: Schema.String }), (v1) => new Opened({ owner: v1.name, currency: "EUR" }))
 * const OpenedV2 = EventCodec.version(Schema.Struct({ owner: Schema.String }), (v2) => new Opened({ ...v2, currency: "EUR" }))
 *
 * const codec = EventCodec.make(Opened, { versions: { AccountOpened: [OpenedV1], Opened: [OpenedV2] } })
 *
 * // rows as older releases stored them read back as today's events
 * const program = Effect.gen(function*() {
 *   const store = yield* EventStore.EventStore
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* store.append({
 *     streamId,
 *     expected: ExpectedVersion.noStream,
 *     events: [
 *       { eventId: Event.randomEventId(), type: "AccountOpened", data: "{\"name\":\"Ada\"}", metadata: "{}" },
 *       { eventId: Event.randomEventId(), type: "Opened", data: "{\"owner\":\"Ada\"}", metadata: "{}" }
 *     ]
 *   })
 *   const events = yield* Stream.runCollect(store.read(streamId).pipe(EventStore.decode(codec)))
 *   assert.deepStrictEqual([...events].map((e) => e.data), [
 *     new Opened({ owner: "Ada", currency: "EUR" }),
 *     new Opened({ owner: "Ada", currency: "EUR" })
 *   ])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer())))
 * ```
 *
 * @since 0.2.0
 * @category schema evolution
 */
export const version: {
  <A, I>(schema: Schema.Schema<A, I, never>): EventVersion<A>
  <Old, I, A>(from: Schema.Schema<Old, I, never>, upgrade: (old: Old) => A): EventVersion<A>
} = <Old, I, A>(from: Schema.Schema<Old, I, never>, upgrade?: (old: Old) => A): EventVersion<A> => {
  const decodeOld = Schema.decodeUnknownEither(from)
  return {
    [EventVersionTypeId]: EventVersionTypeId,
    decode: upgrade === undefined
      // the one-argument form: the schema's type is the current event (Old is A)
      ? (decodeOld as unknown as (payload: unknown) => Either.Either<A, ParseResult.ParseError>)
      : (payload) => Either.map(decodeOld(payload), upgrade)
  }
}

/** A row of a known type that neither the current schema nor any old version decodes. */
const noVersionMatches = (
  ast: SchemaAST.AST,
  data: unknown,
  type: string,
  current: ParseResult.ParseError,
  attempts: ReadonlyArray<ParseResult.ParseError>
): ParseResult.ParseError =>
  new ParseResult.ParseError({
    issue: new ParseResult.Type(
      ast,
      data,
      [
        `the payload matches neither the current schema of ${JSON.stringify(type)} nor any of its ${attempts.length} old version(s)`,
        `current: ${current.message}`,
        ...attempts.map((attempt, i) => `version ${i + 1}: ${attempt.message}`)
      ].join("\n")
    )
  })

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

/** A `ParseError` naming the path of a value JSON would not carry back faithfully. */
const unfaithful = (ast: SchemaAST.AST, actual: unknown, found: Unfaithful): ParseResult.ParseError =>
  new ParseResult.ParseError({
    issue: new ParseResult.Type(
      ast,
      actual,
      `${found.path} is ${found.reason}: JSON cannot carry it faithfully, so the event is not stored`
    )
  })

/** A `ParseError` naming the path of a stored number too large for a double (`1e400` reads as `Infinity`). */
const notFinite = (found: Unfaithful): ParseResult.ParseError =>
  new ParseResult.ParseError({
    issue: new ParseResult.Type(
      Schema.Number.ast,
      found.value,
      `${found.path} is a stored number that reads as ${String(found.value)}: it does not fit a finite double`
    )
  })

/**
 * Builds a codec from a schema whose type is a union of tagged events.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E extends { readonly _tag: string }, I extends { readonly _tag: string }>(
  schema: Schema.Schema<E, I, never>,
  options: Options<E> = {}
): EventCodec<E> => {
  const decodeEvent = Schema.decodeUnknownEither(schema)
  const encodeEvent = Schema.encodeEither(schema)
  const upcast = options.upcast
  const versions = options.versions

  /** The current schema first; on failure the old versions of `type`, in order. */
  const decodeVersioned = (type: string, tagged: Record<string, unknown>): Either.Either<E, ParseResult.ParseError> => {
    const current = decodeEvent(tagged)
    if (Either.isRight(current) || versions === undefined || !Object.hasOwn(versions, type)) return current
    const attempts: Array<ParseResult.ParseError> = []
    for (const old of versions[type]!) {
      const decoded = old.decode(tagged)
      if (Either.isRight(decoded)) return decoded
      attempts.push(decoded.left)
    }
    return Either.left(noVersionMatches(schema.ast, tagged, type, current.left, attempts))
  }

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

  // the simplest schemas (structs of primitive fields) decode by a check per field; any other value or schema goes through Schema
  const plain = plainDecoder(schema.ast)

  /**
   * The payload of a row (its stored type and JSON text) decoded to an event, or
   * the `ParseError` saying why not. Returns the error rather than an `Either`:
   * a typed read calls this once per row, and the fold of a command too.
   */
  const decodePayload = (storedType: string, text: string): E | ParseResult.ParseError => {
    const parsed = parseJsonFast(text)
    if (Either.isLeft(parsed)) return parsed.left
    const overflow = nonFinite(text, parsed.right, "data")
    if (overflow !== undefined) return notFinite(overflow)
    let type = storedType
    let data = parsed.right
    if (upcast !== undefined) {
      const upcasted = upcast({ type, data })
      type = upcasted.type
      data = upcasted.data
    }
    if (!isRecord(data)) return notAnObject(data, type)
    if (plain !== undefined) {
      const decoded = plain(type, data)
      if (decoded !== undefined) return decoded as E
    }
    // an upcaster may hand back an object it keeps (or froze): tag a copy of it
    const tagged: Record<string, unknown> = upcast === undefined ? data : { ...data }
    tagged["_tag"] = type
    const decoded = decodeVersioned(type, tagged)
    return Either.isLeft(decoded) ? decoded.left : decoded.right
  }

  const decode = (row: StoredEvent): Either.Either<RecordedEvent<E>, EventDecodeError> => {
    const decoded = decodePayload(row.type, row.data)
    if (decoded instanceof ParseResult.ParseError) return fail(row, decoded)
    let metadata = emptyMetadata
    if (row.metadata !== "{}") {
      const parsedMetadata = parseMetadata(row.metadata)
      if (Either.isLeft(parsedMetadata)) return fail(row, parsedMetadata.left)
      const metadataOverflow = nonFinite(row.metadata, parsedMetadata.right, "metadata")
      if (metadataOverflow !== undefined) return fail(row, notFinite(metadataOverflow))
      metadata = parsedMetadata.right
    }
    return Either.right({
      streamId: row.streamId,
      version: row.version,
      position: row.position,
      cursor: row.cursor,
      eventId: row.eventId,
      type: row.type,
      data: decoded,
      metadata,
      recordedAt: row.recordedAt
    })
  }

  /**
   * Encodes and writes the JSON in one pass that refuses any value JSON would
   * not carry back faithfully (`NaN`, a `bigint`, a `Date` from `DateFromSelf`, a
   * `Map`, a function, `undefined`), naming its path (`data.items[2].when`): such
   * an event fails here, typed, instead of being stored as something else.
   */
  const encodeSlow = (event: E): Either.Either<RawEncoded, ParseResult.ParseError> =>
    Either.flatMap(encodeEvent(event), (encoded) =>
      Either.match(stringifyFaithful(encoded, "data", "_tag"), {
        onLeft: (found) => Either.left(unfaithful(schema.ast, event, found)),
        onRight: (data) => Either.right({ type: encoded._tag, data })
      }))

  // the simplest schemas write their JSON by a check per field; anything else (and any error) goes through Schema
  const plainEncode = plainEncoder(schema.ast)
  const encode = (event: E): Either.Either<RawEncoded, ParseResult.ParseError> => {
    const text = plainEncode === undefined ? undefined : plainEncode(event)
    return text !== undefined ? Either.right({ type: event._tag, data: text }) : encodeSlow(event)
  }

  const codec: EventCodec<E> & PayloadDecoder<E> = { encode, decode, [PayloadDecoderTypeId]: decodePayload }
  return codec
}

/**
 * Builds an upcaster from one function per old type. Rows of other types pass
 * through unchanged.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Event, EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 *
 * const codec = EventCodec.make(Deposited, {
 *   upcast: EventCodec.upcasters({
 *     // v1 stored "Credited" with { value }; it is now "Deposited" with { amount }
 *     Credited: (data) => ({ type: "Deposited", data: { amount: (data as { value: number }).value } })
 *   })
 * })
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* EventStore.EventStore
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* store.append({
 *     streamId,
 *     expected: ExpectedVersion.noStream,
 *     events: [{ eventId: Event.randomEventId(), type: "Credited", data: "{\"value\":5}", metadata: "{}" }]
 *   })
 *   const events = yield* Stream.runCollect(store.read(streamId).pipe(EventStore.decode(codec)))
 *   assert.deepStrictEqual([...events].map((e) => e.data), [new Deposited({ amount: 5 })])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer())))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const upcasters = (byType: Readonly<Record<string, (data: unknown) => RawEvent>>): Upcaster => (event) => {
  const upcast = Object.hasOwn(byType, event.type) ? byType[event.type] : undefined
  return upcast === undefined ? event : upcast(event.data)
}

/**
 * Encodes a metadata object to the JSON text the store keeps; fails, naming the
 * path (`metadata.trace.at`), when it holds a value JSON would not carry back
 * faithfully (a `bigint`, a `Date`, a `Map`, a function, `undefined`, `NaN`, a cycle).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeMetadata = (metadata: Metadata | undefined): Either.Either<string, ParseResult.ParseError> =>
  metadata === undefined
    ? Either.right("{}")
    : Either.mapLeft(stringifyFaithful(metadata, "metadata"), (found) => unfaithful(MetadataSchema.ast, metadata, found))

/**
 * Options for one event in {@link toEventData}.
 *
 * @since 0.1.0
 * @category models
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
 * @category combinators
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
