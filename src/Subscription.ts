/**
 * The global log as a live `Stream`: from a cursor (`"start"`, `"end"` or a
 * saved `Cursor`), it catches up page by page and then follows new events as
 * they commit. It never ends on its own: it ends when its consumer stops
 * (`Stream.take`, interruption, the scope closing).
 *
 * - **Order and delivery.** Events come in the log's order (`readAll`'s), with
 *   no gaps, at least once from the cursor you give: save the `cursor` of the
 *   last event you handled and resume from it, and nothing is skipped or seen
 *   twice except what you handled but did not save.
 * - **Filters.** `streamPrefix` and `types` are pushed down to the store (SQL
 *   `WHERE`, with an index on `(type, position)`), and checked again here.
 * - **Live.** After catching up, the subscription waits for a wake-up or the
 *   poll interval, whichever comes first, and reads again: memory wakes up
 *   through a `PubSub`; SQLite wakes up when this process appends and polls
 *   for other processes (default every 200 ms); PostgreSQL listens for a
 *   `NOTIFY` sent by every append's transaction at commit, on a dedicated
 *   connection, and polls every 2 s in case a notification was lost (a dropped
 *   listener connection). A store without a read side polls every second.
 * - **Failures.** `StoreUnavailable` is retried on `retry` (default: jittered
 *   exponential backoff from 50 ms, at most 5 s apart, forever) from the last
 *   cursor; only when the schedule gives up does the stream fail.
 *
 * See adr/0014-read-side.md.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { EventCodec, EventStore, ExpectedVersion, StreamId, Subscription } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * const AccountEvents = EventCodec.make(Deposited)
 *
 * const program = Effect.gen(function*() {
 *   const accounts = yield* EventStore.typed(AccountEvents)
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* accounts.append({ streamId, expected: ExpectedVersion.any, events: [new Deposited({ amount: 10 })] })
 *   // live: it would wait for more events; take ends it
 *   const events = yield* Subscription.typed(AccountEvents, { from: "start", streamPrefix: "account-" }).pipe(
 *     Stream.tap((event) => Effect.log(event.type, event.cursor)),
 *     Stream.take(1),
 *     Stream.runCollect
 *   )
 *   assert.deepStrictEqual([...events].map((e) => e.data), [new Deposited({ amount: 10 })])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer())))
 * ```
 *
 * @since 0.2.0
 */
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Duration from "effect/Duration"
import type * as Queue from "effect/Queue"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Cursor } from "./Cursor.ts"
import type { RecordedEvent, StoredEvent } from "./Event.ts"
import type { EventCodec } from "./EventCodec.ts"
import { decode, EventStore } from "./EventStore.ts"
import type { CheckpointStore } from "./Projection.ts"
import type { EventDecodeError, ReadError } from "./StoreError.ts"
import * as internal from "./internal/subscription.ts"

/**
 * Where a subscription starts: `"start"` (the whole log), `"end"` (only events
 * appended after it starts), or after a saved cursor.
 *
 * @since 0.2.0
 * @category models
 */
export type From = "start" | "end" | Cursor

/**
 * Options of a subscription.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Where to start (default `"start"`). */
  readonly from?: From | undefined
  /** Only events of streams whose id starts with this text. */
  readonly streamPrefix?: string | undefined
  /** Only events of these types (a non-empty list). */
  readonly types?: ReadonlyArray<string> | undefined
  /** Events read per page (default 256). */
  readonly pageSize?: number | undefined
  /** How long to wait, when no wake-up comes, before reading again (default: the store's). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** How `StoreUnavailable` is retried (default: backoff up to 5 s apart, forever). */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * What a backend offers the read side, as `EventStore.Service["readSide"]`.
 * Only backend authors implement it; every backend of eventfold does.
 *
 * @since 0.2.0
 * @category models
 */
export interface ReadSide {
  /**
   * Subscribes to wake-ups for the life of the scope: once it has returned,
   * every append that commits later offers a signal (signals may be coalesced,
   * and may come without new events).
   */
  readonly wakeups: Effect.Effect<Queue.Dequeue<void>, never, Scope.Scope>
  /** The cursor after the last event of the log (`Cursor.start` when empty). */
  readonly end: Effect.Effect<Cursor, ReadError>
  /** The default poll interval of subscriptions on this store. */
  readonly pollInterval: Duration.Duration
  /** Checkpoints and leadership of projections. */
  readonly checkpoints: CheckpointStore
  /**
   * One page of the log as one effect, used instead of starting a `readAll`
   * stream per page, but only while the store's `readAll` is `of` (a wrapper
   * that replaces `readAll`, to instrument it or inject faults, is read
   * through its `readAll`). `read(after, options)` is the first page
   * `of({ ...options, after })` would yield: at most `pageSize` events passing
   * the filters, in log order. Optional.
   */
  readonly page?: {
    readonly of: EventStore.Service["readAll"]
    readonly read: (
      after: Cursor,
      options: { readonly pageSize: number; readonly streamPrefix?: string | undefined; readonly types?: ReadonlyArray<string> | undefined }
    ) => Effect.Effect<Chunk.Chunk<StoredEvent>, ReadError>
  }
}

/**
 * The stored (not decoded) events of the global log, live, from a store.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromStore = (store: EventStore.Service, options?: Options): Stream.Stream<StoredEvent, ReadError> =>
  Stream.flatMap(
    internal.batches(store, internal.resolveBatchOptions(store, options ?? {}, true)),
    (batch) => Stream.fromChunk(batch.events)
  )

/**
 * The stored (not decoded) events of the global log, live, from the
 * `EventStore` in context.
 *
 * @example
 * ```ts
 * import { Either, Stream } from "effect"
 * import { Cursor, Subscription } from "eventfold"
 *
 * // Server-Sent Events: resume after the client's Last-Event-ID
 * const deposits = (lastEventId: string) =>
 *   Either.match(Cursor.decode(lastEventId), {
 *     onLeft: (error) => Stream.fail(error),
 *     onRight: (from) => Subscription.stored({ from, types: ["Deposited"] })
 *   })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const stored = (options?: Options): Stream.Stream<StoredEvent, ReadError, EventStore> =>
  Stream.unwrap(Effect.map(EventStore, (store) => fromStore(store, options)))

/**
 * The decoded events of the global log, live: every event passing the filters
 * is decoded with `codec` (an event that does not decode fails the stream with
 * `EventDecodeError` naming it). Filter with `types` when the log holds events
 * the codec does not know.
 *
 * @since 0.2.0
 * @category constructors
 */
export const typed = <E>(
  codec: EventCodec<E>,
  options?: Options
): Stream.Stream<RecordedEvent<E>, ReadError | EventDecodeError, EventStore> => decode(stored(options), codec)

/**
 * The log from a cursor up to the events committed when each page was read,
 * then the end: a subscription that does not stay live (for replays and tests).
 *
 * @since 0.2.0
 * @category constructors
 */
export const catchUp = (options?: Options): Stream.Stream<StoredEvent, ReadError, EventStore> =>
  Stream.unwrap(Effect.map(EventStore, (store) =>
    Stream.flatMap(
      internal.batches(store, internal.resolveBatchOptions(store, options ?? {}, false)),
      (batch) => Stream.fromChunk(batch.events)
    )))

/**
 * Re-exported for backend authors: the cursor after the last event, read
 * through `readAll` (for stores without a faster way).
 *
 * @since 0.2.0
 * @category utils
 */
export const endOf = (store: EventStore.Service): Effect.Effect<Cursor, ReadError> => internal.endByReading(store)
