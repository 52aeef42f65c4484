/**
 * Projections: a name, a codec and a handler over batches of events, run by a
 * runner that keeps the projection's checkpoint (a `Cursor`) in the store's
 * database.
 *
 * - **Exactly once into the same database.** On SQL backends each batch runs
 *   in one transaction: the handler's SQL writes (through the `SqlClient` of
 *   the store, which the handler finds in its context) and the new checkpoint
 *   commit together, or neither does. A read model in the store's database is
 *   updated exactly once per event.
 * - **At least once elsewhere.** Writes the handler makes outside that
 *   transaction (an HTTP call, another database, a message broker) may be
 *   repeated after a crash: the batch is handled again from the last
 *   checkpoint. Make them idempotent: key them by `event.eventId` (unique) or
 *   by `(streamId, version)`, and make "already done" a success.
 * - **One runner per projection** across processes: PostgreSQL holds a
 *   session advisory lock on a dedicated connection (a dead process's lock is
 *   released with its connection; a standby tries every `leaseDuration / 4`);
 *   SQLite keeps a lease row renewed by a heartbeat (a dead process's lease
 *   expires after `leaseDuration`). Each checkpoint write checks that its
 *   runner still holds the projection, so a runner that lost it (a stalled
 *   process whose lease expired) cannot commit a batch: it stops and waits to
 *   lead again.
 * - **Failures.** A handler that fails stops the projection with
 *   {@link ProjectionFailed}, naming the event (position, cursor, stream,
 *   type): the runner handles the failed batch again one event at a time, so
 *   the events before the bad one are committed and the checkpoint points
 *   just before it. With `retry` the batch is tried again on that schedule
 *   first. A failed batch never advances the checkpoint.
 * - **Memory backend**: the same API, with checkpoints in memory and one
 *   runner per projection per store.
 *
 * See adr/0014-read-side.md.
 *
 * @example
 * ```ts
 * import { SqlClient } from "@effect/sql"
 * import { Effect, Layer, Schema } from "effect"
 * import { EventCodec, Projection } from "eventfold"
 * import { SqliteEventStore } from "eventfold/sqlite"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * const AccountEvents = EventCodec.make(Deposited)
 *
 * const Balances = Projection.make({
 *   name: "balances",
 *   codec: AccountEvents,
 *   streamPrefix: "account-",
 *   // runs in the transaction that stores the checkpoint
 *   handle: (events) =>
 *     Effect.flatMap(SqlClient.SqlClient, (sql) =>
 *       Effect.forEach(events, (event) =>
 *         sql`INSERT INTO balances (id, balance) VALUES (${event.streamId}, ${event.data.amount})
 *             ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance`, { discard: true }))
 * })
 *
 * // in the application's layer: runs while the application runs
 * const filename = "app.sqlite"
 * const Running = Projection.layer(Balances).pipe(
 *   Layer.provide(SqliteEventStore.layerFromClient()),
 *   Layer.provide(SqliteEventStore.layerClient({ filename }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Duration from "effect/Duration"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Cursor } from "./Cursor.ts"
import type { RecordedEvent } from "./Event.ts"
import type { EventCodec } from "./EventCodec.ts"
import type { EventStore } from "./EventStore.ts"
import type { InvalidArgument, ReadError, StoreUnavailable } from "./StoreError.ts"
import * as internal from "./internal/projection.ts"

/**
 * A projection: its name (the key of its checkpoint), the codec of its events,
 * optional filters pushed down to the store, and the handler of a batch.
 *
 * @since 0.2.0
 * @category models
 */
export interface Projection<E, Err = never, R = never> {
  /** Unique per store: 1 to 200 characters. */
  readonly name: string
  readonly codec: EventCodec<E>
  /** Only events of streams whose id starts with this text. */
  readonly streamPrefix?: string | undefined
  /** Only events of these types; the others are skipped (and not decoded). */
  readonly types?: ReadonlyArray<string> | undefined
  /**
   * Handles a batch (in log order, never empty). On SQL backends it runs inside
   * the transaction that stores the checkpoint: use the `SqlClient` from the
   * context. It may see a batch again after a crash or a lost lead.
   */
  readonly handle: (events: ReadonlyArray<RecordedEvent<E>>) => Effect.Effect<void, Err, R>
}

/**
 * Defines a projection (an identity function that fixes the types).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <E, Err = never, R = never>(projection: Projection<E, Err, R>): Projection<E, Err, R> => projection

/**
 * A checkpoint: the cursor after the last handled event, and that event's
 * position (for lag).
 *
 * @since 0.2.0
 * @category models
 */
export interface Checkpoint {
  readonly cursor: Cursor
  readonly position: number
}

/**
 * A projection as its backend records it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Record {
  readonly name: string
  readonly checkpoint: Checkpoint
  /** The runner that leads it, if any. */
  readonly runner: string | undefined
  /** When the lead expires unless renewed (SQLite leases). */
  readonly leaseExpiresAt: Date | undefined
  readonly updatedAt: Date | undefined
}

/**
 * A projection's status: its checkpoint, the log's head and the lag between them.
 *
 * @since 0.2.0
 * @category models
 */
export interface Status extends Record {
  /** The position of the last event in the log (0 when empty). */
  readonly head: number
  /** `head - checkpoint.position`: how many positions the projection is behind. */
  readonly lag: number
}

/**
 * A projection's run lost its lead (its lease expired, its lock connection
 * dropped, another runner took over). The runner waits to lead again; you
 * see this error only from {@link CheckpointStore} operations.
 *
 * @since 0.2.0
 * @category errors
 */
export class LeadershipLost extends Schema.TaggedError<LeadershipLost>()("LeadershipLost", {
  projection: Schema.String,
  runner: Schema.String
}) {
  override get message(): string {
    return `Runner ${this.runner} no longer leads projection ${this.projection}`
  }
}

/**
 * The handler of a projection failed (or an event did not decode): the
 * projection stopped before this event, and its checkpoint points just before
 * it. `cause` is the handler's error (or the `EventDecodeError`).
 *
 * @since 0.2.0
 * @category errors
 */
export class ProjectionFailed extends Schema.TaggedError<ProjectionFailed>()("ProjectionFailed", {
  projection: Schema.String,
  position: Schema.Number,
  cursor: Schema.String,
  eventId: Schema.String,
  streamId: Schema.String,
  version: Schema.Number,
  type: Schema.String,
  cause: Schema.Unknown
}) {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `Projection ${this.projection} failed at position ${this.position} (${this.type} ${this.streamId}@${this.version}): ${detail}`
  }
}

/**
 * What running a projection can fail with.
 *
 * @since 0.2.0
 * @category errors
 */
export type RunError = ProjectionFailed | ReadError

/**
 * Checkpoints and leadership as a backend provides them (through
 * `EventStore.Service["readSide"]`). Only backend authors implement it.
 *
 * @since 0.2.0
 * @category models
 */
export interface CheckpointStore {
  /** The projection's checkpoint, if it has one. */
  readonly load: (name: string) => Effect.Effect<Option.Option<Checkpoint>, StoreUnavailable>
  /**
   * Runs `body` and stores `checkpoint` atomically (one transaction on SQL
   * backends, with the transaction's connection in the body's context), only
   * if `runner` still leads `name`; otherwise fails with `LeadershipLost` and
   * stores nothing.
   */
  readonly commit: <A, E, R>(
    name: string,
    runner: string,
    checkpoint: Checkpoint,
    body: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | StoreUnavailable | LeadershipLost, R>
  /**
   * Waits until `runner` leads `name`, and holds the lead for the life of the
   * scope. Returns an effect that fails with `LeadershipLost` when the lead is
   * lost before the scope closes (it never succeeds).
   */
  readonly lead: (
    name: string,
    runner: string,
    options: { readonly leaseDuration: Duration.Duration }
  ) => Effect.Effect<Effect.Effect<never, LeadershipLost>, StoreUnavailable, Scope.Scope>
  /** Every projection with a checkpoint or a runner. */
  readonly list: Effect.Effect<ReadonlyArray<Record>, StoreUnavailable>
  /** The position of the last event in the log (0 when empty). */
  readonly head: Effect.Effect<number, StoreUnavailable>
}

/**
 * Options of {@link run}, {@link layer} and {@link rebuild}.
 *
 * @since 0.2.0
 * @category models
 */
export interface RunOptions {
  /** Events per batch, hence per transaction (default 256). */
  readonly batchSize?: number | undefined
  /**
   * Retry a failed batch on this schedule before stopping (default: stop at
   * once). Only when it gives up does the runner look for the failing event and
   * stop with {@link ProjectionFailed}.
   */
  readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
  /**
   * How long a lead lasts without renewal (SQLite leases: a dead runner's
   * projection is taken over after at most this long, plus one try
   * interval), and how often standbys try to lead (every quarter of it).
   * Default 10 s.
   */
  readonly leaseDuration?: Duration.DurationInput | undefined
  /** How the runner reads the log: poll interval (default: the store's). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** How `StoreUnavailable` is retried (default: backoff up to 5 s apart, forever). */
  readonly storeRetry?: Schedule.Schedule<unknown, unknown> | undefined
  /** The runner's id, shown in {@link status} (default: host, process id and a random suffix). */
  readonly runner?: string | undefined
}

/**
 * Runs a projection for as long as the effect runs: waits to lead it, then
 * catches up from its checkpoint and follows the log, committing a checkpoint
 * with every batch. When the lead is lost it waits to lead again. Fails only
 * with {@link ProjectionFailed} (the handler failed) or a store error the
 * store retry schedule gave up on.
 *
 * @since 0.2.0
 * @category running
 */
export const run = <E, Err, R>(
  projection: Projection<E, Err, R>,
  options?: RunOptions
): Effect.Effect<never, RunError, EventStore | R> => internal.run(projection, options ?? {})

/**
 * A layer that runs the projection in the background for the life of the
 * layer (the runner is interrupted when the layer is released). A runner that
 * fails logs its error and the layer stays up; check {@link status}.
 *
 * @since 0.2.0
 * @category running
 */
export const layer = <E, Err, R>(
  projection: Projection<E, Err, R>,
  options?: RunOptions
): Layer.Layer<never, never, EventStore | R> =>
  Layer.scopedDiscard(Effect.forkScoped(
    run(projection, options).pipe(
      Effect.tapErrorCause((cause) => Effect.logError(`projection ${projection.name} stopped`, cause))
    )
  ))

/**
 * Progress of a {@link rebuild}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Progress {
  /** Events handled so far. */
  readonly processed: number
  /** Position of the last event handled. */
  readonly position: number
  /** Position of the last event of the log, as last read (at most a second before this batch, or after it). */
  readonly head: number
  /** Events handled per second since the rebuild started. */
  readonly rate: number
}

/**
 * Rebuilds a projection: takes its lead (waiting until no runner holds it:
 * stop the running runner first), runs `reset` and moves the checkpoint to
 * the start in one transaction, then replays the log up to its end, emitting
 * progress after every batch. The stream ends when the projection has caught
 * up; then it releases the lead and a runner can take over.
 *
 * @example
 * ```ts
 * import { Console, Effect, Schema, Stream } from "effect"
 * import { EventCodec, EventStore, ExpectedVersion, Projection, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * const AccountEvents = EventCodec.make(Deposited)
 *
 * // a read model in memory, for the example; a SQL one would reset with sql`DELETE FROM balances`
 * const balances = new Map<string, number>()
 * const Balances = Projection.make({
 *   name: "balances",
 *   codec: AccountEvents,
 *   handle: (events) =>
 *     Effect.sync(() => events.forEach((e) => balances.set(e.streamId, (balances.get(e.streamId) ?? 0) + e.data.amount)))
 * })
 *
 * const program = Effect.gen(function*() {
 *   const accounts = yield* EventStore.typed(AccountEvents)
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* accounts.append({ streamId, expected: ExpectedVersion.any, events: [new Deposited({ amount: 10 }), new Deposited({ amount: 5 })] })
 *   yield* Projection.rebuild(Balances, { reset: Effect.sync(() => balances.clear()) }).pipe(
 *     Stream.runForEach((p) => Console.log(`${p.position}/${p.head} at ${p.rate.toFixed(0)}/s`))
 *   )
 *   assert.strictEqual(balances.get("account-ada"), 15)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer())))
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const rebuild = <E, Err, R, Err2 = never, R2 = never>(
  projection: Projection<E, Err, R>,
  options: RunOptions & { readonly reset: Effect.Effect<void, Err2, R2> }
): Stream.Stream<Progress, RunError | LeadershipLost | Err2, EventStore | R | R2> => internal.rebuild(projection, options)

/**
 * The status of every projection the store knows: checkpoint, runner, head and lag.
 *
 * @since 0.2.0
 * @category status
 */
export const status: Effect.Effect<ReadonlyArray<Status>, StoreUnavailable | InvalidArgument, EventStore> = internal.status

/**
 * A statement {@link executeEach} can run: `@effect/sql`'s `Statement` (what
 * the `sql` tagged template makes) is one.
 *
 * @since 0.2.0
 * @category models
 */
export type CompilableStatement<E> = internal.CompilableStatement<E>

/**
 * Runs one SQL statement per item, in order: the fast way for a handler to
 * write a row per event. Inside the runner's transaction each statement is
 * compiled and sent straight to the transaction's connection (the driver
 * prepares each distinct SQL text once and reuses it), without the span, the
 * connection lookup and the fiber work that running each `sql` statement as an
 * effect costs: on SQLite that is most of the time of a one-row upsert.
 * Outside a transaction each statement simply runs as an effect. The result
 * is the same as `Effect.forEach(items, statement, { discard: true })`.
 *
 * @example
 * ```ts
 * import { SqlClient } from "@effect/sql"
 * import { Effect, Schema } from "effect"
 * import { EventCodec, Projection } from "eventfold"
 *
 * const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.Number })
 *
 * const Counts = Projection.make({
 *   name: "counts",
 *   codec: EventCodec.make(Deposited),
 *   handle: (events) =>
 *     Effect.flatMap(SqlClient.SqlClient, (sql) =>
 *       Projection.executeEach(events, (event) =>
 *         sql`INSERT INTO counts (stream_id, n) VALUES (${event.streamId}, 1)
 *             ON CONFLICT (stream_id) DO UPDATE SET n = counts.n + 1`))
 * })
 * ```
 *
 * @since 0.2.0
 * @category handlers
 */
export const executeEach: <A, E>(
  items: Iterable<A>,
  statement: (item: A) => CompilableStatement<E>
) => Effect.Effect<void, E> = internal.executeEach

/**
 * Events handled by projections (tagged `projection`): their throughput.
 *
 * @since 0.2.0
 * @category metrics
 */
export const eventsHandled = internal.eventsHandled

/**
 * How far each projection is behind the log's head, in positions (tagged
 * `projection`), updated after every batch (the head is read again when a batch
 * reaches it, or once a second).
 *
 * @since 0.2.0
 * @category metrics
 */
export const lag = internal.lag
