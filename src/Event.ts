/**
 * The shapes of events: what an append takes (`EventData`), what the store keeps
 * (`StoredEvent`, data still JSON text) and what a typed read yields
 * (`RecordedEvent<A>`, data decoded by an `EventCodec`).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { StreamId } from "./StreamId.ts"

/**
 * An event's unique id, a UUID. It is the idempotency key: appending an event
 * whose id is already stored fails with `DuplicateEventId`.
 *
 * @since 0.1.0
 */
export const EventId = Schema.UUID.pipe(Schema.brand("eventfold/EventId"))

/** An event id: a UUID, branded. @since 0.1.0 */
export type EventId = typeof EventId.Type

/**
 * A fresh random event id.
 *
 * @since 0.1.0
 */
export const makeEventId: Effect.Effect<EventId> = Effect.sync(() => EventId.make(crypto.randomUUID(), { disableValidation: true }))

/**
 * Free-form event metadata (correlation ids, user, ...), a JSON object.
 *
 * @since 0.1.0
 */
export const Metadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** Event metadata: a JSON object. @since 0.1.0 */
export type Metadata = typeof Metadata.Type

/**
 * One event to append, already encoded: `type` names it and `data` / `metadata`
 * are JSON text. Typed appends build these through an `EventCodec`.
 *
 * @since 0.1.0
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
 */
export interface StoredEvent {
  readonly streamId: StreamId
  /** 1-based position within the stream. */
  readonly version: number
  /** Global, unique, increasing in commit order. */
  readonly position: number
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
 */
export interface RecordedEvent<A> {
  readonly streamId: StreamId
  /** 1-based position within the stream. */
  readonly version: number
  /** Global, unique, increasing in commit order. */
  readonly position: number
  readonly eventId: EventId
  readonly type: string
  readonly data: A
  readonly metadata: Metadata
  readonly recordedAt: Date
}
