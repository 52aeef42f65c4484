/**
 * The runtime shell of command execution. The `Executor` service runs a
 * `Decider` against the `EventStore` in context: it drives the pure `Pipeline`,
 * reading each requested stream and folding its events page by page as the store
 * yields them (a stream is never collected), then performs the append. When a
 * stream moved since it was read (`WrongExpectedVersion`), it runs the command
 * again from a fresh pipeline under a retry `Schedule`. Domain errors are returned
 * as typed failures and never retried. Commands of one executor on the same
 * streams run one after the other, so they do not conflict with each other.
 *
 * Every execution is traced (`eventfold.execute`, with `eventfold.execute.read` and
 * `eventfold.execute.append` children) and counted (see the metrics below).
 *
 * With a `SnapshotStore` in context when the executor is built, deciders with a
 * snapshot policy (`Snapshot.enable`) start from the latest usable snapshot of
 * their primary stream, and snapshots are saved after appends (see `Snapshot`).
 *
 * @example
 * ```ts
 * import { Effect, Either, Schema } from "effect"
 * import { Decider, EventCodec, Executor, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 * class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}
 * class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
 * class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
 *
 * const account = Decider.make({
 *   codec: EventCodec.make(Schema.Union(Deposited, Withdrawn)),
 *   initialState: 0,
 *   evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
 *   streams: (command: Deposit | Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
 *   decide: (command, balance) =>
 *     command._tag === "Deposit"
 *       ? Either.right([new Deposited({ amount: command.amount })])
 *       : balance < command.amount
 *       ? Either.left(new InsufficientFunds({ balance }))
 *       : Either.right([new Withdrawn({ amount: command.amount })])
 * })
 *
 * const program = Effect.gen(function*() {
 *   yield* Executor.execute(account, new Deposit({ account: "ada", amount: 100 }))
 *   const { state, events } = yield* Executor.execute(account, new Withdraw({ account: "ada", amount: 30 }))
 *   assert.strictEqual(state, 70)
 *   assert.deepStrictEqual(events.map((e) => e.event), [new Withdrawn({ amount: 30 })])
 *   // the state a command would be decided on, without deciding
 *   const { state: balance, versions } = yield* Executor.load(account, new Deposit({ account: "ada", amount: 0 }))
 *   assert.strictEqual(balance, 70)
 *   assert.deepStrictEqual(versions, [{ streamId: "account-ada", version: 2 }])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer()))))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as Duration from "effect/Duration"
import type * as Schedule from "effect/Schedule"
import type { Decider, Tagged } from "./Decider.ts"
import type { Metadata } from "./Event.ts"
import { EventStore } from "./EventStore.ts"
import type { StreamAppendResult } from "./EventStore.ts"
import * as internal from "./internal/executor.ts"
import type * as Snapshots from "./internal/snapshotExecutor.ts"
import { TypeId as ExecuteErrorTypeId } from "./internal/executorError.ts"
import type * as Pipeline from "./Pipeline.ts"
import { SnapshotStore } from "./Snapshot.ts"
import { isStoreError, WrongExpectedVersion } from "./StoreError.ts"
import type {
  DuplicateEventId,
  EventDecodeError,
  EventEncodeError,
  InvalidArgument,
  ReadError,
  StoreError,
  StoreUnavailable
} from "./StoreError.ts"
import type { InvalidStreamId } from "./StreamId.ts"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * The type id of the executor's own errors (`RetriesExhausted`) and the
 * pipeline's (`InvalidDecision`, `UnexpectedInput`).
 *
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: typeof ExecuteErrorTypeId = ExecuteErrorTypeId

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof ExecuteErrorTypeId

/**
 * Every attempt of a command met a stream that had moved since it was read.
 * `attempts` counts the attempts made; `last` is the final conflict.
 *
 * @since 0.1.0
 * @category errors
 */
export class RetriesExhausted extends Schema.TaggedError<RetriesExhausted>()("RetriesExhausted", {
  attempts: Schema.Number,
  last: WrongExpectedVersion
}) {
  /**
   * Marks the errors of command execution (see {@link isExecuteError}).
   *
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return `Command gave up after ${this.attempts} attempt${this.attempts === 1 ? "" : "s"}: ${this.last.message}`
  }
}

/**
 * What executing a command can fail with, besides the decider's domain errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type ExecuteError =
  | ReadError
  | EventDecodeError
  | EventEncodeError
  | DuplicateEventId
  | StoreUnavailable
  | InvalidArgument
  | Pipeline.InvalidDecision
  | InvalidStreamId
  | RetriesExhausted

/**
 * What loading a command's state can fail with: reading, decoding and naming
 * the streams. No domain error (nothing is decided) and no conflict (nothing is
 * appended).
 *
 * @since 0.2.0
 * @category errors
 */
export type LoadError = ReadError | EventDecodeError | Pipeline.InvalidDecision | InvalidStreamId

/**
 * Whether a value is an infrastructure error of command execution: any store
 * error (`StoreError.isStoreError`, which includes `InvalidStreamId`) or an error
 * carrying {@link TypeId} (`RetriesExhausted`, and the pipeline's
 * `InvalidDecision` and `UnexpectedInput`). A decider's domain error never is, so
 * an adapter maps infrastructure errors in one line and leaves domain errors to
 * the domain. On a value of a known union it keeps the union's infrastructure
 * errors, so `Effect.catchIf` removes exactly them from the error channel; on
 * an `unknown` it narrows to every error it matches.
 *
 * @example
 * ```ts
 * import { Effect, Either, Schema } from "effect"
 * import { Decider, EventCodec, Executor, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 * class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}
 * class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
 * class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
 *
 * const account = Decider.make({
 *   codec: EventCodec.make(Schema.Union(Deposited, Withdrawn)),
 *   initialState: 0,
 *   evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
 *   streams: (command: Deposit | Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
 *   decide: (command, balance) =>
 *     command._tag === "Deposit"
 *       ? Either.right([new Deposited({ amount: command.amount })])
 *       : balance < command.amount
 *       ? Either.left(new InsufficientFunds({ balance }))
 *       : Either.right([new Withdrawn({ amount: command.amount })])
 * })
 * class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", { message: Schema.String }) {}
 *
 * // infrastructure errors (store, retries, pipeline) become one error; InsufficientFunds stays
 * const withdraw = (command: Withdraw): Effect.Effect<number, InsufficientFunds | ServiceUnavailable, Executor.Executor> =>
 *   Executor.execute(account, command).pipe(
 *     Effect.map(({ state }) => state),
 *     Effect.catchIf(Executor.isExecuteError, (error) => Effect.fail(new ServiceUnavailable({ message: error.message })))
 *   )
 *
 * const program = withdraw(new Withdraw({ account: "ada", amount: 30 })).pipe(Effect.flip)
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer()))))
 *   .then((error) => assert.strictEqual(error._tag, "InsufficientFunds"))
 * ```
 *
 * @since 0.2.0
 * @category refinements
 */
export function isExecuteError<E>(
  u: E
): u is E & (unknown extends E ? ExecuteError | StoreError | Pipeline.UnexpectedInput : Extract<E, ExecuteError | StoreError | Pipeline.UnexpectedInput>) {
  return isStoreError(u) || Predicate.hasProperty(u, TypeId)
}

// ---------------------------------------------------------------------------
// Options and results
// ---------------------------------------------------------------------------

/**
 * What a successful command returns: the state after its events, the events
 * appended (with their streams), every stream's version and the global positions.
 *
 * @since 0.1.0
 * @category models
 */
export type Result<S, E> = Pipeline.Result<S, E>

/**
 * What {@link load} returns: the state folded from every stream the command
 * reads, and each stream's version (0 when it has no events), in reading order.
 * The versions are what an optimistic write based on this state expects (an
 * HTTP `ETag`, say).
 *
 * @since 0.2.0
 * @category models
 */
export interface Loaded<S> {
  readonly state: S
  readonly versions: ReadonlyArray<StreamAppendResult>
}

/**
 * Options of an executor (its layer): defaults for every command it runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * When to run a command again after a conflict. Its input is the conflict;
   * it is never stepped with another error. Default {@link defaultRetry}.
   */
  readonly retry?: Schedule.Schedule<unknown, WrongExpectedVersion>
  /** Rows per page when reading streams (default: the store's, 256). */
  readonly pageSize?: number
  /**
   * Runs the commands of this executor that name the same streams one after the
   * other, in arrival order (default `true`). They would otherwise conflict with
   * each other and spend retries. Commands on other streams still run in
   * parallel; streams found by `discover` are not locked (a conflict there is
   * retried as usual).
   */
  readonly serialize?: boolean
  /**
   * How snapshots are used and saved, for deciders with a snapshot policy
   * (`Snapshot.enable`) when a `SnapshotStore` is in context as the executor is
   * built (or given here as `store`). See `Snapshot` and adr/0015-snapshots.md.
   */
  readonly snapshots?: SnapshotOptions
}

/**
 * Snapshot options of an executor: the store (default: the `SnapshotStore` in
 * context), saves in the background (default) or inline, how many background
 * saves may run at once, their timeout, how many snapshots to keep per stream.
 *
 * @since 0.2.0
 * @category models
 */
export type SnapshotOptions = Snapshots.Options

/**
 * Options of one execution; `retry` and `pageSize` override the executor's.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecuteOptions {
  /** Stored with every appended event (correlation id, user, ...). */
  readonly metadata?: Metadata
  /**
   * Makes the command idempotent: its events get ids derived from this key
   * (`Event.eventIdFrom`, by the event's index in the decision) instead of
   * random ones. Running the command again with the same key, after a lost reply
   * or an unknown commit, fails with `DuplicateEventId` when its events are
   * already stored, and writes nothing twice. Use a key per request.
   */
  readonly idempotencyKey?: string
  /** The retry schedule of this command (default: the executor's). */
  readonly retry?: Schedule.Schedule<unknown, WrongExpectedVersion>
  /** Rows per page when reading this command's streams (default: the executor's). */
  readonly pageSize?: number
}

/**
 * Options of one {@link load}.
 *
 * @since 0.2.0
 * @category models
 */
export interface LoadOptions {
  /** Rows per page when reading (default: the executor's). */
  readonly pageSize?: number
}

/**
 * A retry schedule that waits a random time between `base` and three times the
 * previous wait, never more than `cap` (decorrelated jitter): contenders spread
 * out at once and do not wake in step. Bound it with `Schedule.upTo` (time) or
 * `Schedule.recurs` (count).
 *
 * @since 0.2.0
 * @category retry
 */
export const decorrelatedJitter: (options: {
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
}) => Schedule.Schedule<Duration.Duration> = internal.decorrelatedJitter

/**
 * The default retry schedule: retries conflicts for up to 10 seconds, waiting
 * between 5 ms and 250 ms (decorrelated jitter) between attempts. A budget of
 * time rather than a count survives a hot stream written by several processes.
 *
 * @since 0.1.0
 * @category retry
 */
export const defaultRetry: Schedule.Schedule<unknown, WrongExpectedVersion> = internal.defaultRetry

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/**
 * Commands executed, tagged `outcome`: `done`, `rejected` (domain error) or
 * `failed` (any other error).
 *
 * @since 0.1.0
 * @category metrics
 */
export const commands = Metric.counter("eventfold_commands_total", {
  description: "Commands executed, by outcome",
  incremental: true
})

/**
 * Events folded by commands (each attempt counts its reads) and loads.
 *
 * @since 0.1.0
 * @category metrics
 */
export const eventsRead = Metric.counter("eventfold_command_events_read_total", {
  description: "Events read and folded by command executions",
  incremental: true
})

/**
 * Events appended by commands.
 *
 * @since 0.1.0
 * @category metrics
 */
export const eventsAppended = Metric.counter("eventfold_command_events_appended_total", {
  description: "Events appended by command executions",
  incremental: true
})

/**
 * Appends refused with `WrongExpectedVersion`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const conflicts = Metric.counter("eventfold_command_conflicts_total", {
  description: "Command appends that met a stream that had moved",
  incremental: true
})

/**
 * Attempts after the first.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retries = Metric.counter("eventfold_command_retries_total", {
  description: "Command attempts after the first",
  incremental: true
})

/**
 * How long commands take, from waiting for their streams to the end, retries
 * and failures included.
 *
 * @since 0.1.0
 * @category metrics
 */
export const duration = Metric.timer("eventfold_command_duration", "Command execution time, retries included")

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export declare namespace Executor {
  /**
   * The executor's operations.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** Runs a command: read, decide, append, retrying on conflicts. */
    readonly execute: <C, S, E extends Tagged, Err>(
      decider: Decider<C, S, E, Err>,
      command: C,
      options?: ExecuteOptions
    ) => Effect.Effect<Result<S, E>, Err | ExecuteError>
    /** Folds the streams a command would read; decides and appends nothing. */
    readonly load: <C, S, E extends Tagged, Err>(
      decider: Decider<C, S, E, Err>,
      command: C,
      options?: LoadOptions
    ) => Effect.Effect<Loaded<S>, LoadError>
  }
}

/**
 * The executor service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export class Executor extends Context.Tag("eventfold/Executor")<Executor, Executor.Service>() {}

/**
 * An executor over the `EventStore` in context, using the `SnapshotStore` in
 * context, when there is one, for deciders with a snapshot policy.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Executor.Service, never, EventStore> =>
  Effect.map(
    Effect.all([EventStore, Effect.serviceOption(SnapshotStore)]),
    ([store, snapshotStore]) => internal.makeService(store, options, snapshotStore)
  )

/**
 * An executor layer over the `EventStore` in context, with options (a retry
 * schedule, a page size) for every command it runs.
 *
 * @example
 * ```ts
 * import { Layer, Schedule } from "effect"
 * import { Executor } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * const Tight = Executor.layer({ retry: Schedule.recurs(2) }) // 3 attempts, no waiting
 * const Live = Tight.pipe(Layer.provideMerge(MemoryEventStore.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Executor, never, EventStore> =>
  Layer.effect(Executor, make(options))

/**
 * An executor over a store layer, both provided: the one-liner of an
 * application's wiring. Whatever else the store layer provides (a tracking or
 * chaos wrapper's service) is provided too.
 *
 * @example
 * ```ts
 * import { Effect, Either, Schema } from "effect"
 * import { Decider, EventCodec, Executor, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 * class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}
 * class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
 * class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
 *
 * const account = Decider.make({
 *   codec: EventCodec.make(Schema.Union(Deposited, Withdrawn)),
 *   initialState: 0,
 *   evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
 *   streams: (command: Deposit | Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
 *   decide: (command, balance) =>
 *     command._tag === "Deposit"
 *       ? Either.right([new Deposited({ amount: command.amount })])
 *       : balance < command.amount
 *       ? Either.left(new InsufficientFunds({ balance }))
 *       : Either.right([new Withdrawn({ amount: command.amount })])
 * })
 *
 * const program = Executor.execute(account, new Deposit({ account: "ada", amount: 10 }))
 *
 * // the executor and the store it runs on, in one layer
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer()))))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerOn = <ROut, E, R>(
  store: Layer.Layer<ROut, E, R>,
  options: Options = {}
): Layer.Layer<Executor | ROut, E, R | Exclude<EventStore, ROut>> => Layer.provideMerge(layer(options), store)

/**
 * Runs a command with the `Executor` in context.
 *
 * @example
 * ```ts
 * import { Effect, Either, Schema } from "effect"
 * import { Decider, EventCodec, Executor, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 * class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}
 * class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
 * class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
 *
 * const account = Decider.make({
 *   codec: EventCodec.make(Schema.Union(Deposited, Withdrawn)),
 *   initialState: 0,
 *   evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
 *   streams: (command: Deposit | Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
 *   decide: (command, balance) =>
 *     command._tag === "Deposit"
 *       ? Either.right([new Deposited({ amount: command.amount })])
 *       : balance < command.amount
 *       ? Either.left(new InsufficientFunds({ balance }))
 *       : Either.right([new Withdrawn({ amount: command.amount })])
 * })
 *
 * const program = Effect.gen(function*() {
 *   yield* Executor.execute(account, new Deposit({ account: "ada", amount: 100 }))
 *   const { state } = yield* Executor.execute(account, new Withdraw({ account: "ada", amount: 30 }))
 *   assert.strictEqual(state, 70)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer()))))
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const execute = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C,
  options?: ExecuteOptions
): Effect.Effect<Result<S, E>, Err | ExecuteError, Executor> =>
  Effect.flatMap(Executor, (executor) => executor.execute(decider, command, options))

/**
 * Loads the state a command would be decided on, with the `Executor` in
 * context: folds the streams it names and the ones `discover` finds, and returns
 * the state and each stream's version. Nothing is decided or appended. For a GET
 * endpoint, a UI or a check.
 *
 * @example
 * ```ts
 * import { Effect, Either, Schema } from "effect"
 * import { Decider, EventCodec, Executor, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 * class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}
 * class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
 * class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
 *
 * const account = Decider.make({
 *   codec: EventCodec.make(Schema.Union(Deposited, Withdrawn)),
 *   initialState: 0,
 *   evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
 *   streams: (command: Deposit | Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
 *   decide: (command, balance) =>
 *     command._tag === "Deposit"
 *       ? Either.right([new Deposited({ amount: command.amount })])
 *       : balance < command.amount
 *       ? Either.left(new InsufficientFunds({ balance }))
 *       : Either.right([new Withdrawn({ amount: command.amount })])
 * })
 *
 * const program = Effect.gen(function*() {
 *   yield* Executor.execute(account, new Deposit({ account: "ada", amount: 100 }))
 *   // folds account-ada; decides nothing, appends nothing
 *   const { state, versions } = yield* Executor.load(account, new Deposit({ account: "ada", amount: 0 }))
 *   assert.strictEqual(state, 100)
 *   assert.deepStrictEqual(versions, [{ streamId: "account-ada", version: 1 }])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer()))))
 * ```
 *
 * @since 0.2.0
 * @category operations
 */
export const load = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C,
  options?: LoadOptions
): Effect.Effect<Loaded<S>, LoadError, Executor> =>
  Effect.flatMap(Executor, (executor) => executor.load(decider, command, options))
