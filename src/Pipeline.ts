/**
 * The pure push-fold pipeline that runs one attempt of a command. It is a state
 * machine: {@link start} and {@link feed} return the next {@link Step}, a request
 * (`Read` a stream, `Append` writes) or an end (`Done`, `Failed`). Whoever drives
 * it performs the request and feeds back what happened, one {@link Input} at a
 * time. No Effect is run here, no clock or randomness is used, and steps are plain
 * data, so a test can drive it by hand.
 *
 * Events are folded as they are fed: the pipeline keeps the folded state and one
 * count per stream read, never the events. Each stream's count becomes its
 * expected version in the append (`NoStream` at zero), and every stream read goes
 * into the append, as a write with no events when the command does not write to
 * it: the append fails if any stream the decision was based on has moved.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { Decider, EventCodec, Pipeline, StreamId } from "eventfold"
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
 * // drive one withdrawal by hand: no store, no Effect
 * const ada = StreamId.unsafeMake("account-ada")
 * let step = Pipeline.start(account, new Withdraw({ account: "ada", amount: 30 }))
 * assert.ok(step._tag === "Read" && step.streamId === ada)
 * step = Pipeline.feed(step, Pipeline.StreamEvent(ada, new Deposited({ amount: 100 })))
 * assert.ok(step._tag === "Read") // still reading account-ada
 * step = Pipeline.feed(step, Pipeline.StreamEnded(ada))
 * assert.ok(step._tag === "Append") // the decision, expecting the version read
 * assert.deepStrictEqual(step.writes, [{ streamId: ada, expected: { _tag: "Exact", version: 1 }, events: [new Withdrawn({ amount: 30 })] }])
 * step = Pipeline.feed(step, Pipeline.Appended({ streams: [{ streamId: ada, version: 2 }], positions: [2] }))
 * assert.ok(step._tag === "Done" && step.result.state === 70)
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type * as Either from "effect/Either"
import type { Decider, EventFor, Tagged } from "./Decider.ts"
import type { AppendResult, StreamAppendResult } from "./EventStore.ts"
import type * as ExpectedVersion from "./ExpectedVersion.ts"
import { TypeId } from "./internal/executorError.ts"
import * as internal from "./internal/pipeline.ts"
import type { EventDecodeError, ReadError, WrongExpectedVersion } from "./StoreError.ts"
import type { InvalidStreamId, StreamId } from "./StreamId.ts"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * The decider broke its contract: `streams` named no stream, or `decide` wrote
 * to a stream that was not read (so no version could be expected of it).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidDecision extends Schema.TaggedError<InvalidDecision>()("InvalidDecision", {
  decider: Schema.String,
  reason: Schema.String
}) {
  /**
   * Marks the errors of command execution (see `Executor.isExecuteError`).
   *
   * @since 0.2.0
   */
  readonly [TypeId]: typeof TypeId = TypeId

  override get message(): string {
    return `Decider ${JSON.stringify(this.decider)}: ${this.reason}`
  }
}

/**
 * The driver fed an input the pipeline was not waiting for (an event of another
 * stream, an append result while reading). A bug in the driver, not in the domain.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedInput extends Schema.TaggedError<UnexpectedInput>()("UnexpectedInput", {
  awaiting: Schema.String,
  input: Schema.String
}) {
  /**
   * Marks the errors of command execution (see `Executor.isExecuteError`).
   *
   * @since 0.2.0
   */
  readonly [TypeId]: typeof TypeId = TypeId

  override get message(): string {
    return `The command pipeline was awaiting ${this.awaiting} and was fed ${this.input}`
  }
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/**
 * The next event of the stream being read.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamEvent<E> {
  readonly _tag: "StreamEvent"
  readonly streamId: StreamId
  readonly event: E
}

/**
 * The next events of the stream being read, in version order: a page of a read
 * folded in one step (the driver allocates one step per page, not per event).
 *
 * @since 0.2.0
 * @category models
 */
export interface StreamEvents<E> {
  readonly _tag: "StreamEvents"
  readonly streamId: StreamId
  readonly events: ReadonlyArray<E>
}

/**
 * The stream being read has no more events.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamEnded {
  readonly _tag: "StreamEnded"
  readonly streamId: StreamId
}

/**
 * Reading failed (the store, or a row that does not decode).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadFailed {
  readonly _tag: "ReadFailed"
  readonly error: ReadError | EventDecodeError
}

/**
 * The append committed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Appended {
  readonly _tag: "Appended"
  readonly result: AppendResult
}

/**
 * The append was refused because a stream moved since it was read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Conflicted {
  readonly _tag: "Conflicted"
  readonly error: WrongExpectedVersion
}

/**
 * The state folded from the first `version` events of the stream about to be
 * read, from a snapshot. Accepted only as the first input of a command's first
 * stream (its primary stream), before any of its events; the driver then feeds
 * the events after `version`. See `Snapshot`.
 *
 * @since 0.2.0
 * @category models
 */
export interface SnapshotLoaded<S> {
  readonly _tag: "SnapshotLoaded"
  readonly streamId: StreamId
  readonly version: number
  readonly state: S
}

/**
 * What the driver feeds the pipeline. `S` is the state type of a
 * `SnapshotLoaded` input (`never`: no snapshot input).
 *
 * @since 0.1.0
 * @category models
 */
export type Input<E, S = never> =
  | StreamEvent<E>
  | StreamEvents<E>
  | StreamEnded
  | ReadFailed
  | Appended
  | Conflicted
  | SnapshotLoaded<S>

/**
 * Input: the next event of the stream being read.
 *
 * @since 0.1.0
 * @category constructors
 */
export const StreamEvent = <E>(streamId: StreamId, event: E): StreamEvent<E> => ({ _tag: "StreamEvent", streamId, event })
/**
 * Input: the next events of the stream being read.
 *
 * @since 0.2.0
 * @category constructors
 */
export const StreamEvents = <E>(streamId: StreamId, events: ReadonlyArray<E>): StreamEvents<E> => ({
  _tag: "StreamEvents",
  streamId,
  events
})
/**
 * Input: the state of the primary stream's first `version` events, from a snapshot.
 *
 * @since 0.2.0
 * @category constructors
 */
export const SnapshotLoaded = <S>(streamId: StreamId, version: number, state: S): SnapshotLoaded<S> => ({
  _tag: "SnapshotLoaded",
  streamId,
  version,
  state
})
/**
 * Input: the stream being read has no more events.
 *
 * @since 0.1.0
 * @category constructors
 */
export const StreamEnded = (streamId: StreamId): StreamEnded => ({ _tag: "StreamEnded", streamId })
/**
 * Input: reading or decoding the stream failed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ReadFailed = (error: ReadError | EventDecodeError): ReadFailed => ({ _tag: "ReadFailed", error })
/**
 * Input: the append succeeded with this result.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Appended = (result: AppendResult): Appended => ({ _tag: "Appended", result })
/**
 * Input: the append met a stream that had moved.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Conflicted = (error: WrongExpectedVersion): Conflicted => ({ _tag: "Conflicted", error })

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

/**
 * One stream's part of the append a pipeline requests: domain events (still to be
 * encoded) and the version the stream was read at.
 *
 * @since 0.1.0
 * @category models
 */
export interface Write<E> {
  readonly streamId: StreamId
  readonly expected: ExpectedVersion.ExpectedVersion
  readonly events: ReadonlyArray<E>
}

/**
 * What a command produced.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result<S, E> {
  /** The state after the appended events. */
  readonly state: S
  /** The appended events with their streams, in the order `decide` returned them. */
  readonly events: ReadonlyArray<EventFor<E>>
  /** Every stream read and its version after the command (unchanged when not written). */
  readonly streams: ReadonlyArray<StreamAppendResult>
  /** The global position of each appended event; empty when nothing was appended. */
  readonly positions: ReadonlyArray<number>
}

/**
 * What a pipeline reads for: to decide and append (`"execute"`, {@link start}) or
 * only to fold the state (`"load"`, {@link load}).
 *
 * @since 0.2.0
 * @category models
 */
export type Purpose = "execute" | "load"

/**
 * The pipeline while it reads: what it has folded so far.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reading<C, S, E extends Tagged, Err> {
  readonly decider: Decider<C, S, E, Err>
  readonly command: C
  /** `"execute"` decides once every stream is read; `"load"` ends with the state. */
  readonly purpose: Purpose
  /** The state folded from every event fed so far. */
  readonly state: S
  /** Every stream to read, in order; grows when `discover` names new ones. */
  readonly streams: ReadonlyArray<StreamId>
  /** The versions of the streams already read: `versions[i]` is `streams[i]`'s. */
  readonly versions: ReadonlyArray<number>
  /** The events fed so far of the stream being read, `streams[versions.length]`. */
  readonly count: number
}

/**
 * The pipeline while its append is in flight.
 *
 * @since 0.1.0
 * @category models
 */
export interface Appending<S, E> {
  /** The state after the decided events. */
  readonly state: S
  readonly events: ReadonlyArray<EventFor<E>>
}

/**
 * Request: read `streamId` from its first event and feed each event, then
 * `StreamEnded`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Read<C, S, E extends Tagged, Err> {
  readonly _tag: "Read"
  readonly streamId: StreamId
  readonly pipeline: Reading<C, S, E, Err>
}

/**
 * Request: append `writes` atomically, then feed `Appended` or `Conflicted`.
 * There is one write per stream read, in reading order.
 *
 * @since 0.1.0
 * @category models
 */
export interface Append<S, E> {
  readonly _tag: "Append"
  readonly writes: ReadonlyArray<Write<E>>
  readonly pipeline: Appending<S, E>
}

/**
 * End: the command succeeded.
 *
 * @since 0.1.0
 * @category models
 */
export interface Done<S, E> {
  readonly _tag: "Done"
  readonly result: Result<S, E>
}

/**
 * Why a pipeline failed. `"rejected"`: `decide` returned the domain error;
 * `"read"`: reading failed; `"conflict"`: a stream moved, so the command may be
 * run again from the start; `"invalid"`: the decider or the driver broke the
 * protocol.
 *
 * @since 0.1.0
 * @category models
 */
export type Failure<Err> =
  | { readonly reason: "rejected"; readonly error: Err }
  | { readonly reason: "read"; readonly error: ReadError | EventDecodeError }
  | { readonly reason: "conflict"; readonly error: WrongExpectedVersion }
  | { readonly reason: "invalid"; readonly error: InvalidDecision | UnexpectedInput | InvalidStreamId }

/**
 * End: the command failed.
 *
 * @since 0.1.0
 * @category models
 */
export type Failed<Err> = { readonly _tag: "Failed" } & Failure<Err>

/**
 * A request or an end.
 *
 * @since 0.1.0
 * @category models
 */
export type Step<C, S, E extends Tagged, Err> = Read<C, S, E, Err> | Append<S, E> | Done<S, E> | Failed<Err>

/**
 * A step that waits for input.
 *
 * @since 0.1.0
 * @category models
 */
export type Pending<C, S, E extends Tagged, Err> = Read<C, S, E, Err> | Append<S, E>

// ---------------------------------------------------------------------------
// Transitions (the machine is in internal/pipeline.ts)
// ---------------------------------------------------------------------------

/**
 * Starts a command: requests its first stream. Once every stream is read (and
 * `discover` names no new one) the pipeline decides.
 *
 * @since 0.1.0
 * @category combinators
 */
export const start: <C, S, E extends Tagged, Err>(decider: Decider<C, S, E, Err>, command: C) => Step<C, S, E, Err> =
  internal.start

/**
 * Starts loading a command's state: the same reads as {@link start}, discovered
 * streams included, but once every stream is read the pipeline ends with `Done`
 * (the state, no events, every stream's version) instead of deciding.
 *
 * @since 0.2.0
 * @category combinators
 */
export const load: <C, S, E extends Tagged, Err>(decider: Decider<C, S, E, Err>, command: C) => Step<C, S, E, Err> =
  internal.load

/**
 * Feeds one input to a waiting pipeline and returns the next step. The step fed
 * is never changed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const feed: <C, S, E extends Tagged, Err>(step: Pending<C, S, E, Err>, input: Input<E, S>) => Step<C, S, E, Err> =
  internal.feed

/**
 * The most streams one command may read, discovered ones included. A `discover`
 * that names a new stream every time it is asked would otherwise read forever.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxStreams: number = internal.maxStreams

/**
 * The streams a command names (`decider.streams`), with an `InvalidStreamId`
 * thrown while building them returned as a value.
 *
 * @since 0.1.0
 * @category combinators
 */
export const streamsFor: <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C
) => Either.Either<ReadonlyArray<StreamId>, InvalidStreamId> = internal.streamsFor

/**
 * Drives a pipeline to its end with the events of each stream given up front and
 * an append that always succeeds (positions continue after the given events).
 * For tests of a decider's reads and writes, with no store. With `snapshot`, the
 * primary stream's state after its first `version` events is fed first
 * (`SnapshotLoaded`), and only its events after them.
 *
 * @since 0.1.0
 * @category combinators
 */
export const runPure: <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C,
  history: ReadonlyMap<StreamId, ReadonlyArray<E>>,
  options?: { readonly snapshot?: { readonly version: number; readonly state: S } | undefined }
) => Done<S, E> | Failed<Err> = internal.runPure
