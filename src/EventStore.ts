/**
 * The `EventStore` service: lazy streamed reads of one stream or of the global
 * log, and atomic multi-stream appends with optimistic concurrency.
 *
 * Storage speaks in encoded events (`StoredEvent`, JSON text). A typed view over
 * an `EventCodec` ({@link typed}) yields `RecordedEvent<E>` and fails with
 * `EventDecodeError` on a row that does not decode.
 *
 * Backends: `eventfold/memory`, `eventfold/sqlite`, `eventfold/postgres`. Every one
 * passes the contract suite in `eventfold/testing/vitest`.
 *
 * @since 0.1.0
 */
import type * as Stream from "effect/Stream"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import { dual } from "effect/Function"
import type { NonEmptyReadonlyArray } from "effect/Array"
import type { Cursor } from "./Cursor.ts"
import type { EventData, EventId, Metadata, RecordedEvent, StoredEvent } from "./Event.ts"
import type { EventCodec } from "./EventCodec.ts"
import { encodeMetadata } from "./EventCodec.ts"
import { randomEventId } from "./Event.ts"
import { decodeStream } from "./internal/decodeStream.ts"
import type { ExpectedVersion } from "./ExpectedVersion.ts"
import type { AppendError, EventDecodeError, ReadError } from "./StoreError.ts"
import type { ReadSide } from "./Subscription.ts"
import { EventEncodeError } from "./StoreError.ts"
import type { StreamId } from "./StreamId.ts"

/**
 * Options of {@link EventStore.Service.read}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions {
  /**
   * First version to yield (inclusive). Forward reads default to 1; backward reads
   * default to the stream's last version and yield `from`, `from - 1`, ... 1.
   */
  readonly from?: number
  /** `"forward"` (default): ascending versions; `"backward"`: descending. */
  readonly direction?: "forward" | "backward"
  /** Rows fetched per page from the backend (default 256). Bounds the read's memory. */
  readonly pageSize?: number
}

/**
 * Options of {@link EventStore.Service.readAll}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadAllOptions {
  /**
   * Yield only the events after this cursor (exclusive): pass the `cursor` of
   * the last event you processed to resume after it. Defaults to
   * `Cursor.start`, the whole log.
   *
   * @since 0.2.0
   */
  readonly after?: Cursor | undefined
  /** Rows fetched per page from the backend (default 256). */
  readonly pageSize?: number | undefined
  /**
   * Only events of streams whose id starts with this text. SQL backends filter
   * in the query; a store that ignores it yields more events, never fewer
   * (`Subscription` applies the filter again).
   *
   * @since 0.2.0
   */
  readonly streamPrefix?: string | undefined
  /**
   * Only events of these types (a non-empty list). Filtered like
   * {@link ReadAllOptions.streamPrefix}.
   *
   * @since 0.2.0
   */
  readonly types?: ReadonlyArray<string> | undefined
}

/**
 * One stream's part of an append: the events and the version the stream must be
 * at. A write with no events is a pure consistency check.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamWrite {
  readonly streamId: StreamId
  readonly expected: ExpectedVersion
  readonly events: ReadonlyArray<EventData>
}

/**
 * A stream's version after an append (unchanged for a write with no events).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamAppendResult {
  readonly streamId: StreamId
  readonly version: number
}

/**
 * What an append returns: each written stream's new version, in the order of the
 * writes, and the global position of every appended event, in the order given.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppendResult {
  readonly streams: ReadonlyArray<StreamAppendResult>
  readonly positions: ReadonlyArray<number>
}

/**
 * The default number of rows a backend fetches per page.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPageSize = 256

/**
 * Counts every row a backend has fetched for a read (all backends in this
 * package update it once per page). Comparing it with the events a consumer has
 * taken shows how far reads run ahead of their consumers.
 *
 * @since 0.1.0
 * @category metrics
 */
export const rowsFetched = Metric.counter("eventfold_store_rows_fetched", {
  description: "Rows fetched from the event store by reads",
  incremental: true
})

/**
 * The types of the `EventStore` service.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace EventStore {
  /**
   * The operations of an event store.
   *
   * @since 0.1.0
   */
  export interface Service {
    /** The events of one stream in version order, lazily, page by page. */
    readonly read: (streamId: StreamId, options?: ReadOptions) => Stream.Stream<StoredEvent, ReadError>
    /**
     * Every event in the global order, lazily, page by page: the events after
     * `options.after` (default: the start). Gap-free: an event that commits
     * later never lands before one already yielded.
     */
    readonly readAll: (options?: ReadAllOptions) => Stream.Stream<StoredEvent, ReadError>
    /**
     * Appends to one or many streams atomically: every expected version is checked
     * and either every write commits or none does.
     */
    readonly append: (writes: StreamWrite | NonEmptyReadonlyArray<StreamWrite>) => Effect.Effect<AppendResult, AppendError>
    /**
     * What the read side (`Subscription`, `Projection`) needs beyond reads:
     * wake-ups after appends, checkpoints, leadership. Optional: without it
     * subscriptions poll, and projections cannot run.
     *
     * @since 0.2.0
     */
    readonly readSide?: ReadSide | undefined
  }
}

/**
 * The event store service tag.
 *
 * @since 0.1.0
 * @category services
 */
export class EventStore extends Context.Tag("eventfold/EventStore")<EventStore, EventStore.Service>() {}

/**
 * Normalizes the argument of `append` to a list.
 *
 * @since 0.1.0
 * @category combinators
 */
export const writesOf = (writes: StreamWrite | NonEmptyReadonlyArray<StreamWrite>): ReadonlyArray<StreamWrite> =>
  Array.isArray(writes) ? writes : [writes as StreamWrite]

/**
 * Decodes a stream of stored rows with a codec, a page at a time. The rows before
 * a bad one are emitted; then the stream fails with `EventDecodeError` naming it.
 * Data-last (`rows.pipe(EventStore.decode(codec))`) or data-first
 * (`EventStore.decode(rows, codec)`).
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * const AccountEvents = EventCodec.make(Deposited)
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* EventStore.EventStore
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* EventStore.typedFrom(store, AccountEvents).append({
 *     streamId,
 *     expected: ExpectedVersion.noStream,
 *     events: [new Deposited({ amount: 100 })]
 *   })
 *   // the raw rows of the stream, decoded with the codec
 *   const events = store.read(streamId).pipe(EventStore.decode(AccountEvents))
 *   const amounts = yield* Stream.runCollect(Stream.map(events, (e) => e.data.amount))
 *   assert.deepStrictEqual([...amounts], [100])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer())))
 * ```
 *
 * @since 0.2.0
 * @category decoding
 */
export const decode: {
  <E>(codec: EventCodec<E>): <Err, R>(
    self: Stream.Stream<StoredEvent, Err, R>
  ) => Stream.Stream<RecordedEvent<E>, Err | EventDecodeError, R>
  <Err, R, E>(self: Stream.Stream<StoredEvent, Err, R>, codec: EventCodec<E>): Stream.Stream<RecordedEvent<E>, Err | EventDecodeError, R>
} = dual(2, <Err, R, E>(
  self: Stream.Stream<StoredEvent, Err, R>,
  codec: EventCodec<E>
): Stream.Stream<RecordedEvent<E>, Err | EventDecodeError, R> => decodeStream(self, codec))

/**
 * One stream's part of a typed append: domain events, encoded by the codec.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedStreamWrite<E> {
  readonly streamId: StreamId
  readonly expected: ExpectedVersion
  readonly events: ReadonlyArray<E>
  /** Metadata stored with every event of this write. */
  readonly metadata?: Metadata
  /**
   * Ids for the events, by index; an event without one gets a fresh random id.
   * Choosing ids (derived from a request id, say) makes a retried append
   * idempotent: the second attempt fails with `DuplicateEventId` instead of
   * storing the events twice.
   */
  readonly eventIds?: ReadonlyArray<EventId>
}

/**
 * A view of an event store through a codec: reads yield decoded events, appends
 * take domain events.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedEventStore<E> {
  readonly read: (streamId: StreamId, options?: ReadOptions) => Stream.Stream<RecordedEvent<E>, ReadError | EventDecodeError>
  readonly readAll: (options?: ReadAllOptions) => Stream.Stream<RecordedEvent<E>, ReadError | EventDecodeError>
  readonly append: (
    writes: TypedStreamWrite<E> | NonEmptyReadonlyArray<TypedStreamWrite<E>>
  ) => Effect.Effect<AppendResult, AppendError | EventEncodeError>
}

/**
 * Encodes typed writes into the `StreamWrite`s the store takes; each event gets
 * the id the write gives it or a fresh random one.
 *
 * @since 0.1.0
 * @category combinators
 */
export const encodeWrites = <E>(
  codec: EventCodec<E>,
  writes: ReadonlyArray<TypedStreamWrite<E>>
): Effect.Effect<Array<StreamWrite>, EventEncodeError> =>
  // one synchronous loop, not an Effect per event: appends of many events are hot
  Effect.suspend(() => {
    const out: Array<StreamWrite> = []
    for (const write of writes) {
      const metadata = encodeMetadata(write.metadata)
      if (Either.isLeft(metadata)) return Effect.fail(new EventEncodeError({ streamId: write.streamId, cause: metadata.left }))
      const events: Array<EventData> = []
      for (let i = 0; i < write.events.length; i++) {
        const encoded = codec.encode(write.events[i]!)
        if (Either.isLeft(encoded)) return Effect.fail(new EventEncodeError({ streamId: write.streamId, cause: encoded.left }))
        events.push({
          eventId: write.eventIds?.[i] ?? randomEventId(),
          type: encoded.right.type,
          data: encoded.right.data,
          metadata: metadata.right
        })
      }
      out.push({ streamId: write.streamId, expected: write.expected, events })
    }
    return Effect.succeed(out)
  })

/**
 * Views a given store through a codec (see {@link typed} for the store in
 * context).
 *
 * @since 0.2.0
 * @category constructors
 */
export const typedFrom = <E>(store: EventStore.Service, codec: EventCodec<E>): TypedEventStore<E> => {
  const decodeRows = decode(codec)
  return {
    read: (streamId, options) => decodeRows(store.read(streamId, options)),
    readAll: (options) => decodeRows(store.readAll(options)),
    append: (writes) =>
      Effect.flatMap(
        encodeWrites(codec, Array.isArray(writes) ? writes : [writes as TypedStreamWrite<E>]),
        (encoded) => store.append(encoded as unknown as NonEmptyReadonlyArray<StreamWrite>)
      )
  }
}

/**
 * The typed view of the `EventStore` in context.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Opened extends Schema.TaggedClass<Opened>()("Opened", { owner: Schema.String }) {}
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * const AccountEvents = EventCodec.make(Schema.Union(Opened, Deposited))
 *
 * const program = Effect.gen(function*() {
 *   const accounts = yield* EventStore.typed(AccountEvents)
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* accounts.append({ streamId, expected: ExpectedVersion.noStream, events: [new Opened({ owner: "Ada" })] })
 *   return yield* accounts.read(streamId).pipe(Stream.runCount)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer()))).then((count) => assert.strictEqual(count, 1))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const typed = <E>(codec: EventCodec<E>): Effect.Effect<TypedEventStore<E>, never, EventStore> =>
  Effect.map(EventStore, (store) => typedFrom(store, codec))
