/**
 * The transitions of the pure command pipeline. Only `src/Pipeline.ts` imports
 * this module: it holds the data types and errors, this module the machine.
 */
import * as Either from "effect/Either"
import type { Decider, EventFor, Tagged } from "../Decider.ts"
import { isEventFor, streamsOf } from "../Decider.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import type {
  Done,
  Failed,
  Failure,
  Input,
  Pending,
  Purpose,
  Read,
  Reading,
  Step
} from "../Pipeline.ts"
import { InvalidDecision, UnexpectedInput } from "../Pipeline.ts"
import { InvalidStreamId } from "../StreamId.ts"
import type { StreamId } from "../StreamId.ts"

/** The most streams one command may read, discovered ones included. */
export const maxStreams = 1_000

const failed = (failure: Exclude<Failure<never>, { readonly reason: "rejected" }>): Failed<never> => ({
  _tag: "Failed",
  ...failure
})

const describeInput = (input: Input<unknown, unknown>): string =>
  "streamId" in input ? `${input._tag}(${JSON.stringify(input.streamId)})` : input._tag

const unexpected = (awaiting: string, input: Input<unknown, unknown>): Failed<never> =>
  failed({ reason: "invalid", error: new UnexpectedInput({ awaiting, input: describeInput(input) }) })

const read = <C, S, E extends Tagged, Err>(pipeline: Reading<C, S, E, Err>): Read<C, S, E, Err> => ({
  _tag: "Read",
  streamId: pipeline.streams[pipeline.versions.length]!,
  pipeline
})

/**
 * Calls the decider's `streams` or `discover`. A stream id built with
 * `StreamId.unsafeMake` from bad input throws `InvalidStreamId`; it becomes a
 * typed failure of the command. Anything else thrown is a bug in the decider and
 * stays a defect.
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

export const streamsFor = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C
): Either.Either<ReadonlyArray<StreamId>, InvalidStreamId> => catchInvalidStreamId(() => streamsOf(decider, command))

const begin = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C,
  purpose: Purpose
): Step<C, S, E, Err> => {
  const named = namingStreams(() => streamsOf(decider, command))
  if (Either.isLeft(named)) return named.left
  const streams = named.right
  if (streams.length === 0) {
    return failed({
      reason: "invalid",
      error: new InvalidDecision({ decider: decider.name, reason: "streams(command) named no stream" })
    })
  }
  return read({ decider, command, purpose, state: decider.initialState, streams, versions: [], count: 0 })
}

export const start = <C, S, E extends Tagged, Err>(decider: Decider<C, S, E, Err>, command: C): Step<C, S, E, Err> =>
  begin(decider, command, "execute")

export const load = <C, S, E extends Tagged, Err>(decider: Decider<C, S, E, Err>, command: C): Step<C, S, E, Err> =>
  begin(decider, command, "load")

const folded = <C, S, E extends Tagged, Err>(
  step: Read<C, S, E, Err>,
  state: S,
  count: number
): Read<C, S, E, Err> => {
  const pipeline = step.pipeline
  return {
    _tag: "Read",
    streamId: step.streamId,
    pipeline: {
      decider: pipeline.decider,
      command: pipeline.command,
      purpose: pipeline.purpose,
      state,
      streams: pipeline.streams,
      versions: pipeline.versions,
      count
    }
  }
}

export const feed = <C, S, E extends Tagged, Err>(step: Pending<C, S, E, Err>, input: Input<E, S>): Step<C, S, E, Err> => {
  if (step._tag === "Read") {
    const pipeline = step.pipeline
    switch (input._tag) {
      case "SnapshotLoaded": {
        // only before any event of the first stream: the state is then the initial one
        if (
          input.streamId !== step.streamId || pipeline.versions.length > 0 || pipeline.count > 0 ||
          !Number.isSafeInteger(input.version) || input.version < 0
        ) {
          return unexpected(`events of ${JSON.stringify(step.streamId)}`, input)
        }
        return folded(step, input.state, input.version)
      }
      case "StreamEvent": {
        if (input.streamId !== step.streamId) return unexpected(`events of ${JSON.stringify(step.streamId)}`, input)
        return folded(step, pipeline.decider.evolve(pipeline.state, input.event, input.streamId), pipeline.count + 1)
      }
      case "StreamEvents": {
        if (input.streamId !== step.streamId) return unexpected(`events of ${JSON.stringify(step.streamId)}`, input)
        // one loop, one new step per batch: nothing is allocated per event but what evolve makes
        const { evolve } = pipeline.decider
        const events = input.events
        let state = pipeline.state
        for (let i = 0; i < events.length; i++) state = evolve(state, events[i]!, input.streamId)
        return folded(step, state, pipeline.count + events.length)
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
  return next.purpose === "load" ? loaded(next) : decide(next)
}

const versionsOf = (streams: ReadonlyArray<StreamId>, versions: ReadonlyArray<number>) =>
  streams.map((streamId, i) => ({ streamId, version: versions[i]! }))

const loaded = <C, S, E extends Tagged, Err>(pipeline: Reading<C, S, E, Err>): Done<S, E> => ({
  _tag: "Done",
  result: { state: pipeline.state, events: [], streams: versionsOf(pipeline.streams, pipeline.versions), positions: [] }
})

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
    return { _tag: "Done", result: { state, events, streams: versionsOf(streams, versions), positions: [] } }
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

export const runPure = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C,
  history: ReadonlyMap<StreamId, ReadonlyArray<E>>,
  options: { readonly snapshot?: { readonly version: number; readonly state: S } | undefined } = {}
): Done<S, E> | Failed<Err> => {
  let step = start(decider, command)
  let position = 0
  for (const events of history.values()) position += events.length
  let snapshot = options.snapshot
  for (;;) {
    switch (step._tag) {
      case "Done":
      case "Failed":
        return step
      case "Read": {
        const streamId = step.streamId
        let events = history.get(streamId) ?? []
        if (snapshot !== undefined) {
          step = feed(step, { _tag: "SnapshotLoaded", streamId, version: snapshot.version, state: snapshot.state })
          events = events.slice(snapshot.version)
          snapshot = undefined
          if (step._tag !== "Read") break
        }
        step = feed(step, { _tag: "StreamEvents", streamId, events })
        if (step._tag === "Read") step = feed(step, { _tag: "StreamEnded", streamId })
        break
      }
      case "Append": {
        const positions: Array<number> = []
        const streams = step.writes.map((write) => {
          for (let i = 0; i < write.events.length; i++) positions.push(++position)
          const current = write.expected._tag === "Exact" ? write.expected.version : 0
          return { streamId: write.streamId, version: current + write.events.length }
        })
        step = feed(step, { _tag: "Appended", result: { streams, positions } })
        break
      }
    }
  }
}
