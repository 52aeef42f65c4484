/**
 * The shapes of events: what an append takes (`EventData`), what the store keeps
 * (`StoredEvent`, data still JSON text) and what a typed read yields
 * (`RecordedEvent<A>`, data decoded by an `EventCodec`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Cursor } from "./Cursor.ts"
import type { StreamId } from "./StreamId.ts"

/**
 * An event's unique id, a UUID. It is the idempotency key: appending an event
 * whose id is already stored fails with `DuplicateEventId`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EventId = Schema.UUID.pipe(Schema.brand("eventfold/EventId"))

/**
 * An event id: a UUID, branded.
 *
 * @since 0.1.0
 * @category models
 */
export type EventId = typeof EventId.Type

/**
 * A fresh event id, time-ordered: a UUID version 7 (RFC 9562), see
 * {@link randomEventId}.
 *
 * @since 0.1.0
 * @category constants
 */
export const makeEventId: Effect.Effect<EventId> = Effect.sync(() => randomEventId())

const hexByte: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
/** `-7xxx-` for each 12-bit sequence: the version nibble and the sequence, between dashes. */
const versionAndSequence: ReadonlyArray<string> = Array.from({ length: 4096 }, (_, i) => `-7${i.toString(16).padStart(3, "0")}-`)
// random bytes drawn 4 KB at a time: one `getRandomValues` call per 512 ids
const randomPool = new Uint8Array(4096)
let randomOffset = randomPool.length
let lastMillis = 0
let timePrefix = ""
let sequence = 0

const nextMillis = (millis: number, pool: Uint8Array, o: number): void => {
  lastMillis = millis
  const time = millis.toString(16).padStart(12, "0")
  timePrefix = time.slice(0, 8) + "-" + time.slice(8, 12)
  // start low in the 12 bits so that the millisecond has room to count
  sequence = ((pool[o]! << 8) | pool[o + 1]!) & 0x3ff
}

/**
 * A fresh event id, made at once (for code that already runs inside an Effect,
 * such as a store's append): a UUID version 7 (RFC 9562), 48 bits of Unix
 * milliseconds, a 12-bit sequence and 62 random bits. Ids made by one process
 * increase strictly (the sequence counts within a millisecond; a clock that
 * steps back keeps the last time), so new ids land at the end of the stores'
 * unique index on event ids instead of at random places in it, which keeps
 * appends into a large store about as fast as into an empty one. Ids from
 * several processes stay unique through their random bits. The `EventId`
 * schema accepts any UUID; only generated ids are version 7.
 *
 * @since 0.1.0
 * @category combinators
 */
export const randomEventId = (): EventId => {
  if (randomOffset + 10 > randomPool.length) {
    crypto.getRandomValues(randomPool)
    randomOffset = 0
  }
  const pool = randomPool
  const o = randomOffset
  randomOffset += 10
  const now = Date.now()
  if (now > lastMillis) nextMillis(now, pool, o)
  else if (sequence < 0xfff) sequence++
  else nextMillis(lastMillis + 1, pool, o)
  return (timePrefix + versionAndSequence[sequence]! +
    hexByte[(pool[o + 2]! & 0x3f) | 0x80]! + hexByte[pool[o + 3]!]! + "-" +
    hexByte[pool[o + 4]!]! + hexByte[pool[o + 5]!]! + hexByte[pool[o + 6]!]! + hexByte[pool[o + 7]!]! +
    hexByte[pool[o + 8]!]! + hexByte[pool[o + 9]!]!) as EventId
}

const hex = (bytes: Uint8Array, from: number, to: number): string => {
  let out = ""
  for (let i = from; i < to; i++) out += bytes[i]!.toString(16).padStart(2, "0")
  return out
}

/**
 * A deterministic event id: a UUID (version 8, RFC 9562) made from the SHA-256 of
 * `key` and `index`. The same key and index always give the same id, so an
 * append retried after an unknown outcome (a lost reply, a failed commit) is
 * refused with `DuplicateEventId` instead of storing its events twice. Use a
 * key that names the request (an HTTP idempotency key, a message id).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Event } from "eventfold"
 *
 * const program = Effect.gen(function*() {
 *   const first = yield* Event.eventIdFrom("request-7f3a", 0)
 *   const again = yield* Event.eventIdFrom("request-7f3a", 0)
 *   const second = yield* Event.eventIdFrom("request-7f3a", 1)
 *   assert.strictEqual(first, again) // same key and index: same id
 *   assert.notStrictEqual(first, second)
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const eventIdFrom = (key: string, index: number): Effect.Effect<EventId> =>
  Effect.map(
    Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${key}\u0000${index}`))),
    (digest) => {
      const bytes = new Uint8Array(digest, 0, 16)
      bytes[6] = (bytes[6]! & 0x0f) | 0x80 // version 8
      bytes[8] = (bytes[8]! & 0x3f) | 0x80 // RFC 9562 variant
      const uuid = `${hex(bytes, 0, 4)}-${hex(bytes, 4, 6)}-${hex(bytes, 6, 8)}-${hex(bytes, 8, 10)}-${hex(bytes, 10, 16)}`
      return EventId.make(uuid, { disableValidation: true })
    }
  )

/**
 * Free-form event metadata (correlation ids, user, ...), a JSON object.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Metadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * Event metadata: a JSON object.
 *
 * @since 0.1.0
 * @category models
 */
export type Metadata = typeof Metadata.Type

/**
 * One event to append, already encoded: `type` names it and `data` / `metadata`
 * are JSON text. Typed appends build these through an `EventCodec`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventData {
  readonly eventId: EventId
  readonly type: string
  /** JSON text of the event's payload. */
  readonly data: string
  /** JSON text of a metadata object; `"{}"` when there is none. */
  readonly metadata: string
}

/**
 * An event as the store keeps it: positions assigned, payload still JSON text.
 * This is what the raw `EventStore.read` and `readAll` yield.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredEvent {
  readonly streamId: StreamId
  /** 1-based position within the stream. */
  readonly version: number
  /**
   * The event's global number: unique, increasing with the order of appends
   * within one transaction. On memory, SQLite and file stores it is also the
   * order of `readAll`; on PostgreSQL concurrent appends may commit out of
   * position order, so resume with `cursor`, not with a position.
   */
  readonly position: number
  /**
   * Where this event sits in the global log: `readAll({ after: cursor })`
   * resumes after it.
   *
   * @since 0.2.0
   */
  readonly cursor: Cursor
  readonly eventId: EventId
  readonly type: string
  readonly data: string
  readonly metadata: string
  readonly recordedAt: Date
}

/**
 * An event as a typed read yields it: `data` decoded to the domain type `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedEvent<A> {
  readonly streamId: StreamId
  /** 1-based position within the stream. */
  readonly version: number
  /**
   * The event's global number: unique, increasing with the order of appends
   * within one transaction. On memory, SQLite and file stores it is also the
   * order of `readAll`; on PostgreSQL concurrent appends may commit out of
   * position order, so resume with `cursor`, not with a position.
   */
  readonly position: number
  /**
   * Where this event sits in the global log: `readAll({ after: cursor })`
   * resumes after it.
   *
   * @since 0.2.0
   */
  readonly cursor: Cursor
  readonly eventId: EventId
  readonly type: string
  readonly data: A
  readonly metadata: Metadata
  readonly recordedAt: Date
}
