/**
 * fast-check arbitraries for eventfold's types, for property tests with
 * `@effect/vitest`'s `it.prop` / `it.effect.prop`.
 *
 * They are built on the fast-check that `effect` re-exports (`FastCheck`), the
 * one `it.prop` runs, so they plug into it directly (see adr/0008).
 *
 * @example
 * ```ts
 * import { Either, FastCheck as fc } from "effect"
 * import { StreamId } from "eventfold"
 * import { Arbitraries } from "eventfold/testing"
 *
 * // in a test: it.prop("stream ids are valid", [Arbitraries.streamId], ([id]) => ...)
 * fc.assert(fc.property(Arbitraries.streamId, (id) => Either.isRight(StreamId.either(id))), { numRuns: 50 })
 * fc.assert(fc.property(Arbitraries.invalidStreamId, (text) => Either.isLeft(StreamId.either(text))), { numRuns: 50 })
 * ```
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import type { EventData, Metadata } from "../Event.ts"
import { EventId } from "../Event.ts"
import type { EventCodec } from "../EventCodec.ts"
import { encodeMetadata } from "../EventCodec.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import * as StreamId from "../StreamId.ts"

/** One code point that may appear in a stream id: printable ASCII, the rest of the BMP, or an astral one (emoji). */
const streamIdCodePoint: fc.Arbitrary<string> = fc
  .oneof(
    fc.integer({ min: 0x20, max: 0x7e }),
    fc.integer({ min: 0xa0, max: 0xd7ff }),
    fc.integer({ min: 0xe000, max: 0xffff }),
    fc.integer({ min: 0x10000, max: 0x10ffff })
  )
  .map((codePoint) => String.fromCodePoint(codePoint))

/** Pieces that break naive SQL, LIKE patterns and escaping. */
const awkwardPiece: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("'", "\"", "%", "_", "\\", ";", "-", " ", "a", "Z", "0", "🚀"),
  fc.constantFrom("'; DROP TABLE events; --", "' OR '1'='1", "%_%", "/* */", "\\'", "$1", "?")
)

/**
 * Valid stream ids: plain ones, ones full of quotes, `%`, `_` and SQL
 * fragments, and any unicode (astral characters included), 1 to 200 code
 * points, never a control character or a lone surrogate. Built valid rather
 * than filtered, so a test that they pass `StreamId.make` means something.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const streamId: fc.Arbitrary<StreamId.StreamId> = fc
  .oneof(
    fc.stringMatching(/^[a-z]{1,12}-[0-9]{1,6}$/),
    fc.array(awkwardPiece, { minLength: 1, maxLength: 8 }).map((pieces) => pieces.join("")),
    fc.array(streamIdCodePoint, { minLength: 1, maxLength: 200 }).map((codePoints) => codePoints.join("")),
    // long ones too, up to the limit (arrays are otherwise mostly short)
    fc.array(streamIdCodePoint, { minLength: 1, maxLength: 200, size: "max" }).map((codePoints) => codePoints.join(""))
  )
  .map((s) => StreamId.unsafeMake(s))

/**
 * Strings that are not valid stream ids (empty, too long, control characters,
 * lone UTF-16 surrogates).
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const invalidStreamId: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.string({ minLength: 201, maxLength: 260, unit: "grapheme-ascii" }),
  fc.tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0, max: 31 }), fc.string({ maxLength: 10 })).map(([a, c, b]) =>
    `${a}${String.fromCharCode(c)}${b}`
  ),
  fc.tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 10 })).map(([a, c, b]) =>
    `${a}${String.fromCharCode(c)}${b}`
  )
)

/**
 * Every kind of expected version; `Exact` up to `maxVersion` (default 1000).
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const expectedVersion = (maxVersion = 1000): fc.Arbitrary<ExpectedVersion.ExpectedVersion> =>
  fc.oneof(
    fc.constant(ExpectedVersion.any),
    fc.constant(ExpectedVersion.noStream),
    fc.constant(ExpectedVersion.streamExists),
    fc.integer({ min: 0, max: maxVersion }).map((n) => ExpectedVersion.unsafeExact(n))
  )

/**
 * Event ids (random v4 UUIDs drawn from the seed, so replays are exact).
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const eventId: fc.Arbitrary<EventId> = fc.uuid({ version: 4 }).map((id) => EventId.make(id))

/**
 * Small JSON metadata objects.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const metadata: fc.Arbitrary<Metadata> = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null)),
  { maxKeys: 4 }
)

/**
 * Event envelopes ready to append: domain events from `events`, encoded with the
 * codec, with an event id and metadata.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const eventData = <E>(codec: EventCodec<E>, events: fc.Arbitrary<E>): fc.Arbitrary<EventData> =>
  fc.tuple(eventId, events, metadata).map(([id, event, meta]) => {
    const encoded = Either.getOrThrowWith(codec.encode(event), (error) => error)
    const encodedMetadata = Either.getOrThrowWith(encodeMetadata(meta), (error) => error)
    return { eventId: id, type: encoded.type, data: encoded.data, metadata: encodedMetadata }
  })
