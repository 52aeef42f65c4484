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
 * let step = Pipeline.start(decider, command)                  // Read("account-1")
 * step = Pipeline.feed(step, Pipeline.StreamEvent(account1, e)) // Read("account-1")
 * step = Pipeline.feed(step, Pipeline.StreamEnded(account1))    // Append([...])
 * step = Pipeline.feed(step, Pipeline.Appended(result))         // Done({ state, events, ... })
 * ```
 *
 * @since 0.1.0
 */
import { Data, Either } from "effect"
import type { Decider } from "./Decider.ts"
import { isEventFor, streamsOf } from "./Decider.ts"
import type { EventFor } from "./Decider.ts"
import type { AppendResult, StreamAppendResult } from "./EventStore.ts"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import type { EventDecodeError, ReadError, WrongExpectedVersion } from "./StoreError.ts"
import { InvalidStreamId } from "./StreamId.ts"
import type { StreamId } from "./StreamId.ts"

type Tagged = { readonly _tag: string }

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * The decider broke its contract: `streams` named no stream, or `decide` wrote
 * to a stream that was not read (so no version could be expected of it).
 *
 * @since 0.1.0
 */
export class InvalidDecision extends Data.TaggedError("InvalidDecision")<{
  readonly decider: string
  readonly reason: string
}> {
  override get message(): string {
    return `Decider ${JSON.stringify(this.decider)}: ${this.reason}`
  }
}

/**
 * The driver fed an input the pipeline was not waiting for (an event of another
 * stream, an append result while reading). A bug in the driver, not in the domain.
 *
 * @since 0.1.0
 */
export class UnexpectedInput extends Data.TaggedError("UnexpectedInput")<{
  readonly awaiting: string
  readonly input: string
}> {
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
 */
export interface StreamEvent<E> {
  readonly _tag: "StreamEvent"
  readonly streamId: StreamId
  readonly event: E
}

/**
 * The stream being read has no more events.
 *
 * @since 0.1.0
 */
export interface StreamEnded {
  readonly _tag: "StreamEnded"
  readonly streamId: StreamId
}

/**
 * Reading failed (the store, or a row that does not decode).
 *
 * @since 0.1.0
 */
export interface ReadFailed {
  readonly _tag: "ReadFailed"
  readonly error: ReadError | EventDecodeError
}

/**
 * The append committed.
 *
 * @since 0.1.0
 */
export interface Appended {
  readonly _tag: "Appended"
  readonly result: AppendResult
}

/**
 * The append was refused because a stream moved since it was read.
 *
 * @since 0.1.0
 */
export interface Conflicted {
  readonly _tag: "Conflicted"
  readonly error: WrongExpectedVersion
}

/**
 * What the driver feeds the pipeline.
 *
 * @since 0.1.0
 */
export type Input<E> = StreamEvent<E> | StreamEnded | ReadFailed | Appended | Conflicted

/** Input: the next event of the stream being read. @since 0.1.0 */
export const StreamEvent = <E>(streamId: StreamId, event: E): StreamEvent<E> => ({ _tag: "StreamEvent", streamId, event })
/** Input: the stream being read has no more events. @since 0.1.0 */
export const StreamEnded = (streamId: StreamId): StreamEnded => ({ _tag: "StreamEnded", streamId })
/** Input: reading or decoding the stream failed. @since 0.1.0 */
export const ReadFailed = (error: ReadError | EventDecodeError): ReadFailed => ({ _tag: "ReadFailed", error })
/** Input: the append succeeded with this result. @since 0.1.0 */
export const Appended = (result: AppendResult): Appended => ({ _tag: "Appended", result })
/** Input: the append met a stream that had moved. @since 0.1.0 */
export const Conflicted = (error: WrongExpectedVersion): Conflicted => ({ _tag: "Conflicted", error })

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

/**
 * One stream's part of the append a pipeline requests: domain events (still to be
 * encoded) and the version the stream was read at.
 *
 * @since 0.1.0
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
 * The pipeline while it reads: what it has folded so far.
 *
 * @since 0.1.0
 */
export interface Reading<C, S, E extends Tagged, Err> {
  readonly decider: Decider<C, S, E, Err>
  readonly command: C
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
 */
export type Failed<Err> = { readonly _tag: "Failed" } & Failure<Err>

/**
 * A request or an end.
 *
 * @since 0.1.0
 */
export type Step<C, S, E extends Tagged, Err> = Read<C, S, E, Err> | Append<S, E> | Done<S, E> | Failed<Err>

/**
 * A step that waits for input.
 *
 * @since 0.1.0
 */
export type Pending<C, S, E extends Tagged, Err> = Read<C, S, E, Err> | Append<S, E>

// ---------------------------------------------------------------------------
// Transitions
// ---------------------------------------------------------------------------

const failed = (failure: Exclude<Failure<never>, { readonly reason: "rejected" }>): Failed<never> => ({
  _tag: "Failed",
  ...failure
})

const unexpected = (awaiting: string, input: Input<unknown>): Failed<never> =>
  failed({
    reason: "invalid",
    error: new UnexpectedInput({
      awaiting,
      input: "streamId" in input ? `${input._tag}(${JSON.stringify(input.streamId)})` : input._tag
    })
  })

const read = <C, S, E extends Tagged, Err>(pipeline: Reading<C, S, E, Err>): Read<C, S, E, Err> => ({
  _tag: "Read",
  streamId: pipeline.streams[pipeline.versions.length]!,
  pipeline
})

/**
 * Starts a command: requests its first stream.
 *
 * @since 0.1.0
 */
export const start = <C, S, E extends Tagged, Err>(decider: Decider<C, S, E, Err>, command: C): Step<C, S, E, Err> => {
  const named = namingStreams(() => streamsOf(decider, command))
  if (Either.isLeft(named)) return named.left
  const streams = named.right
  if (streams.length === 0) {
    return failed({
      reason: "invalid",
      error: new InvalidDecision({ decider: decider.name, reason: "streams(command) named no stream" })
    })
  }
  return read({ decider, command, state: decider.initialState, streams, versions: [], count: 0 })
}

/**
 * Feeds one input to a waiting pipeline and returns the next step.
 *
 * @since 0.1.0
 */
export const feed = <C, S, E extends Tagged, Err>(step: Pending<C, S, E, Err>, input: Input<E>): Step<C, S, E, Err> => {
  if (step._tag === "Read") {
    const pipeline = step.pipeline
    switch (input._tag) {
      case "StreamEvent": {
        if (input.streamId !== step.streamId) return unexpected(`events of ${JSON.stringify(step.streamId)}`, input)
        return {
          _tag: "Read",
          streamId: step.streamId,
          pipeline: {
            decider: pipeline.decider,
            command: pipeline.command,
            state: pipeline.decider.evolve(pipeline.state, input.event, input.streamId),
            streams: pipeline.streams,
            versions: pipeline.versions,
            count: pipeline.count + 1
          }
        }
      }
      case "StreamEnded": {
        if (input.streamId !== step.streamId) return unexpected(`events of ${JSON.stringify(step.streamId)}`, input)
        return streamEnded(pipeline)
      }
      case "ReadFailed":
        return failed({ reason: "read", error: input.error })
      default:
        return unexpected(`events of ${JSON.stringify(step.streamId)}`, input)
    }
  }
  switch (input._tag) {
    case "Appended":
      return {
        _tag: "Done",
        result: {
          state: step.pipeline.state,
          events: step.pipeline.events,
          streams: input.result.streams,
          positions: input.result.positions
        }
      }
    case "Conflicted":
      return failed({ reason: "conflict", error: input.error })
    default:
      return unexpected("the append's outcome", input)
  }
}

/**
 * The most streams one command may read, discovered ones included. A `discover`
 * that names a new stream every time it is asked would otherwise read forever.
 *
 * @since 0.1.0
 */
export const maxStreams = 1_000

/**
 * Calls the decider's `streams` or `discover`. A stream id they build with
 * `StreamId.unsafeMake` from bad input throws `InvalidStreamId`; it becomes a
 * typed failure of the command, not a defect. Anything else thrown is a bug in
 * the decider and stays a defect.
 */
const catchInvalidStreamId = (
  name: () => ReadonlyArray<StreamId>
): Either.Either<ReadonlyArray<StreamId>, InvalidStreamId> => {
  try {
    return Either.right(name())
  } catch (error) {
    if (error instanceof InvalidStreamId) return Either.left(error)
    // eslint-disable-next-line no-restricted-syntax -- not ours to type: a decider's bug stays a defect
    throw error
  }
}

const namingStreams = (name: () => ReadonlyArray<StreamId>): Either.Either<ReadonlyArray<StreamId>, Failed<never>> =>
  Either.mapLeft(catchInvalidStreamId(name), (error) => failed({ reason: "invalid", error }))

/**
 * The streams a command names (`decider.streams`), with an `InvalidStreamId`
 * thrown while building them returned as a value.
 *
 * @since 0.1.0
 */
export const streamsFor = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C
): Either.Either<ReadonlyArray<StreamId>, InvalidStreamId> => catchInvalidStreamId(() => streamsOf(decider, command))

const streamEnded = <C, S, E extends Tagged, Err>(pipeline: Reading<C, S, E, Err>): Step<C, S, E, Err> => {
  const versions = [...pipeline.versions, pipeline.count]
  const next: Reading<C, S, E, Err> = { ...pipeline, versions, count: 0 }
  if (versions.length < pipeline.streams.length) return read(next)
  const discover = pipeline.decider.discover
  if (discover !== undefined) {
    const discovered = namingStreams(() => discover(pipeline.command, pipeline.state))
    if (Either.isLeft(discovered)) return discovered.left
    const known = new Set(pipeline.streams)
    const found = discovered.right.filter((streamId) => {
      if (known.has(streamId)) return false
      known.add(streamId)
      return true
    })
    if (found.length > 0) {
      if (known.size > maxStreams) {
        return failed({
          reason: "invalid",
          error: new InvalidDecision({
            decider: pipeline.decider.name,
            reason: `discover named more than ${maxStreams} streams for one command (does it name a new stream every time?)`
          })
        })
      }
      return read({ ...next, streams: [...pipeline.streams, ...found] })
    }
  }
  return decide(next)
}

const decide = <C, S, E extends Tagged, Err>(pipeline: Reading<C, S, E, Err>): Step<C, S, E, Err> => {
  const { command, decider, streams, versions } = pipeline
  const decided = decider.decide(command, pipeline.state)
  if (Either.isLeft(decided)) return { _tag: "Failed", reason: "rejected", error: decided.left }

  const primary = streams[0]!
  const byStream = new Map<StreamId, Array<E>>(streams.map((streamId) => [streamId, []]))
  const events: Array<EventFor<E>> = []
  let state = pipeline.state
  for (const decision of decided.right) {
    const eventFor: EventFor<E> = isEventFor(decision) ? decision : { streamId: primary, event: decision }
    const forStream = byStream.get(eventFor.streamId)
    if (forStream === undefined) {
      return failed({
        reason: "invalid",
        error: new InvalidDecision({
          decider: decider.name,
          reason: `decide wrote to stream ${
            JSON.stringify(eventFor.streamId)
          }, which was not read; name it in streams or discover`
        })
      })
    }
    forStream.push(eventFor.event)
    events.push(eventFor)
    state = decider.evolve(state, eventFor.event, eventFor.streamId)
  }

  if (events.length === 0) {
    return {
      _tag: "Done",
      result: {
        state,
        events,
        streams: streams.map((streamId, i) => ({ streamId, version: versions[i]! })),
        positions: []
      }
    }
  }
  return {
    _tag: "Append",
    writes: streams.map((streamId, i) => ({
      streamId,
      expected: ExpectedVersion.fromCurrent(versions[i]!),
      events: byStream.get(streamId)!
    })),
    pipeline: { state, events }
  }
}

/**
 * Drives a pipeline to its end with the events of each stream given up front and
 * an append that always succeeds (positions continue after the given events).
 * For tests of a decider's reads and writes, with no store.
 *
 * @since 0.1.0
 */
export const runPure = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C,
  history: ReadonlyMap<StreamId, ReadonlyArray<E>>
): Done<S, E> | Failed<Err> => {
  let step = start(decider, command)
  let position = 0
  for (const events of history.values()) position += events.length
  for (;;) {
    switch (step._tag) {
      case "Done":
      case "Failed":
        return step
      case "Read": {
        const streamId = step.streamId
        for (const event of history.get(streamId) ?? []) {
          if (step._tag !== "Read") break
          step = feed(step, StreamEvent(streamId, event))
        }
        if (step._tag === "Read") step = feed(step, StreamEnded(streamId))
        break
      }
      case "Append": {
        const positions: Array<number> = []
        const streams = step.writes.map((write) => {
          for (let i = 0; i < write.events.length; i++) positions.push(++position)
          const current = write.expected._tag === "Exact" ? write.expected.version : 0
          return { streamId: write.streamId, version: current + write.events.length }
        })
        step = feed(step, Appended({ streams, positions }))
        break
      }
    }
  }
}
