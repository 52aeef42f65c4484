/**
 * The machinery of the Executor: drives the pure Pipeline against an EventStore,
 * retries on conflict through a Schedule, serializes commands per stream, traces
 * and counts. Only `src/Executor.ts` imports this module.
 */
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Stream from "effect/Stream"
import type { NonEmptyReadonlyArray } from "effect/Array"
import type { Decider, Tagged } from "../Decider.ts"
import { eventIdFrom } from "../Event.ts"
import type { StoredEvent } from "../Event.ts"
import type { EventCodec } from "../EventCodec.ts"
import type { StreamWrite, TypedStreamWrite } from "../EventStore.ts"
import { encodeWrites } from "../EventStore.ts"
import type { EventStore } from "../EventStore.ts"
import { PayloadDecoderTypeId, hasPayloadDecoder } from "./codecJson.ts"
import type { PayloadDecoder } from "./codecJson.ts"
import { FirstPageTypeId, FoldReadTypeId, hasFirstPage, hasFoldRead } from "./keyset.ts"
import type { Row } from "./keyset.ts"
import type {
  ExecuteError,
  ExecuteOptions,
  Executor,
  Loaded,
  LoadError,
  LoadOptions,
  Options,
  Result
} from "../Executor.ts"
import {
  commands,
  conflicts,
  duration,
  eventsAppended,
  eventsRead,
  isExecuteError,
  RetriesExhausted,
  retries
} from "../Executor.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import * as Pipeline from "../Pipeline.ts"
import type { AppendError, EventEncodeError, ReadError } from "../StoreError.ts"
import { EventDecodeError, WrongExpectedVersion } from "../StoreError.ts"
import type { StreamId } from "../StreamId.ts"
import * as KeyedLock from "./executorLock.ts"
import * as Snapshots from "./snapshotExecutor.ts"
import * as Snapshot from "../Snapshot.ts"
import { annotate, InsideExecutorSpan, timed, withSpan } from "./observability.ts"

const isWrongExpectedVersion = (u: unknown): u is WrongExpectedVersion => u instanceof WrongExpectedVersion

/** A read from a snapshot found the stream not to match it. */
class Diverged {}
const diverged_ = new Diverged()

/**
 * Waits a random time between `base` and three times the previous wait, never
 * more than `cap` ("decorrelated jitter"): contenders spread out quickly and do
 * not wake in step.
 */
export const decorrelatedJitter = (options: {
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
}): Schedule.Schedule<Duration.Duration> => {
  const base = Duration.toMillis(options.base)
  const cap = Duration.toMillis(options.cap)
  return Schedule.makeWithState(base, (now, _: unknown, previous: number) =>
    Effect.map(Random.nextIntBetween(base, Math.max(base, previous * 3) + 1), (next) => {
      const wait = Math.min(cap, next) // whole milliseconds: a sleep takes no fraction
      return [wait, Duration.millis(wait), ScheduleDecision.continueWith(ScheduleInterval.after(now + wait))] as const
    }))
}

/** Conflicts for 10 seconds, waiting 5 ms to 250 ms (decorrelated jitter) between attempts. */
export const defaultRetry: Schedule.Schedule<unknown, WrongExpectedVersion> = decorrelatedJitter({
  base: "5 millis",
  cap: "250 millis"
}).pipe(Schedule.upTo("10 seconds"))

/**
 * Steps `schedule` with conflicts only: any other error ends the retries before
 * the schedule sees it. Also counts the retries made (the second output).
 */
const onConflicts = <Out, R>(
  schedule: Schedule.Schedule<Out, WrongExpectedVersion, R>
): Schedule.Schedule<readonly [Option.Option<Out>, number], unknown, R> =>
  Schedule.makeWithState(
    schedule.initial,
    (now, input: unknown, state) =>
      isWrongExpectedVersion(input)
        ? Effect.map(schedule.step(now, input, state), ([next, out, decision]) => [next, Option.some(out), wholeMillis(decision)] as const)
        : Effect.succeed([state, Option.none<Out>(), ScheduleDecision.done] as const)
  ).pipe(Schedule.intersect(Schedule.count))

/**
 * Rounds a wait up to a whole millisecond: a jittered schedule wakes at fractions
 * of one, which `TestClock` cannot sleep until (it converts to a BigInt).
 */
const wholeMillis = (decision: ScheduleDecision.ScheduleDecision): ScheduleDecision.ScheduleDecision => {
  if (ScheduleDecision.isDone(decision)) return decision
  const start = ScheduleIntervals.start(decision.intervals)
  return Number.isInteger(start) ? decision : ScheduleDecision.continueWith(ScheduleInterval.after(Math.ceil(start)))
}

type Step<C, S, E extends Tagged, Err> = Pipeline.Step<C, S, E, Err>

const outcomeOf = (exit: { readonly _tag: "Success" } | { readonly _tag: "Failure"; readonly cause: Cause.Cause<unknown> }) => {
  if (exit._tag === "Success") return "done"
  const failure = Cause.failureOption(exit.cause)
  return failure._tag === "Some" && !isExecuteError(failure.value) ? "rejected" : "failed"
}

const isDomainError = (error: unknown): boolean => !isExecuteError(error)

/**
 * The commands counter of each outcome, tagged once on first use (a tagged
 * metric builds and hashes its key; `commands` is defined by a module that
 * imports this one, so not at load time).
 */
let commandsByOutcome: Record<"done" | "rejected" | "failed", typeof commands> | undefined
const commandsCounter = (outcome: "done" | "rejected" | "failed"): typeof commands => {
  commandsByOutcome ??= {
    done: Metric.tagged(commands, "outcome", "done"),
    rejected: Metric.tagged(commands, "outcome", "rejected"),
    failed: Metric.tagged(commands, "outcome", "failed")
  }
  return commandsByOutcome[outcome]
}

/** @internal */
export const makeService = (
  store: EventStore.Service,
  options: Options = {},
  snapshotStore: Option.Option<Snapshot.SnapshotStore.Service> = Option.none()
): Executor.Service => {
  const serialize = options.serialize ?? true
  const locks = KeyedLock.make()
  const snapshots = Snapshots.makeContext(snapshotStore, options.snapshots)

  /**
   * Reads one stream into the pipeline, a page (chunk) per step. With `after`, a
   * snapshot of this (primary) stream: the read starts at the snapshot's version,
   * whose event must be the one the snapshot was taken at; the snapshot is then
   * fed, and the events after it. When it is not (or the stream is shorter), the
   * read stops and `Diverged` is returned. `onEnd` gets the state and version
   * where the stream ended.
   */
  const readStream = <C, S, E extends Tagged, Err>(
    step: Pipeline.Read<C, S, E, Err>,
    attempt: number,
    pageSize: number | undefined,
    after?: Snapshot.Loaded<S>,
    onEnd?: (state: S, version: number) => void
  ): Effect.Effect<Step<C, S, E, Err> | Diverged> =>
    Effect.suspend(() => readStreamOnce(step, attempt, pageSize, after, onEnd))

  const readStreamOnce = <C, S, E extends Tagged, Err>(
    step: Pipeline.Read<C, S, E, Err>,
    attempt: number,
    pageSize: number | undefined,
    after: Snapshot.Loaded<S> | undefined,
    onEnd: ((state: S, version: number) => void) | undefined
  ): Effect.Effect<Step<C, S, E, Err> | Diverged> => {
    const streamId = step.streamId
    const codec = step.pipeline.decider.codec
    // per run: whether the snapshot's event was seen yet, and whether it did not match
    let unchecked = after
    let diverged = false
    const fold = (current: Step<C, S, E, Err>, rows: Chunk.Chunk<StoredEvent>): Step<C, S, E, Err> => {
      if (current._tag !== "Read") return current
      if (unchecked === undefined) return foldPage(current, rows, codec)
      const snapshot = unchecked
      unchecked = undefined
      if (!Snapshots.matches(snapshot, Option.getOrUndefined(Chunk.head(rows)))) {
        diverged = true
        return current
      }
      const fed = Pipeline.feed(current, Pipeline.SnapshotLoaded(streamId, snapshot.version, snapshot.state))
      return fed._tag === "Read" ? foldPage(fed, Chunk.drop(rows, 1), codec) : fed
    }
    const readOptions = after === undefined ? {} : { from: after.version }
    const readPages = (from: Step<C, S, E, Err>, pages: Stream.Stream<StoredEvent, ReadError>) =>
      Stream.chunks(pages).pipe(Stream.runFoldWhile(from, (current) => current._tag === "Read" && !diverged, fold))
    // from version 1: pages of what the fold needs (no Stream, no StoredEvent) when the store and codec allow it;
    // else the first page as one Effect and a Stream (which costs more to start than a short read) only past a full page
    const folded: Effect.Effect<Step<C, S, E, Err>, ReadError> = after === undefined && hasFoldRead(store) && hasPayloadDecoder<E>(codec)
      ? Either.match(store[FoldReadTypeId](streamId, pageSize), {
        onLeft: (error) => Effect.fail(error),
        onRight: (page) => {
          const decodePayload = codec[PayloadDecoderTypeId]
          const loop = (current: Pipeline.Read<C, S, E, Err>, from: number): Effect.Effect<Step<C, S, E, Err>, ReadError> =>
            Effect.flatMap(page(from), ({ count, next, rows }) => {
              const stepped = foldRows(current, rows, count, decodePayload)
              return next === undefined || stepped._tag !== "Read" ? Effect.succeed(stepped) : loop(stepped, next)
            })
          return loop(step, 1)
        }
      })
      : after === undefined && hasFirstPage(store)
      ? Effect.flatMap(store[FirstPageTypeId](streamId, pageSize), ({ page, rest }) => {
        const next = fold(step, page)
        return rest === undefined || next._tag !== "Read" ? Effect.succeed(next) : readPages(next, rest)
      })
      : readPages(step, store.read(streamId, pageSize === undefined ? readOptions : { ...readOptions, pageSize }))
    return folded.pipe(
      Effect.map((last) => {
        if (diverged || unchecked !== undefined) return { last: diverged_, count: 0 }
        if (last._tag !== "Read") return { last, count: 0 }
        onEnd?.(last.pipeline.state, last.pipeline.count)
        return {
          last: Pipeline.feed(last, Pipeline.StreamEnded(streamId)),
          count: after === undefined ? last.pipeline.count : last.pipeline.count - after.version
        }
      }),
      Effect.catchAll((error) =>
        Effect.succeed({ last: Pipeline.feed(step, Pipeline.ReadFailed(error)) as Step<C, S, E, Err> | Diverged, count: 0 })
      ),
      Effect.tap(({ count }) =>
        Effect.zipRight(annotate({ "eventfold.events_read": count }), Metric.incrementBy(eventsRead, count))
      ),
      Effect.map(({ last }) => last),
      Effect.provideService(InsideExecutorSpan, true),
      (effect) =>
        withSpan("eventfold.execute.read", { "eventfold.stream_id": streamId, "eventfold.attempt": attempt }, effect)
    )
  }

  const appendStep = <C, S, E extends Tagged, Err>(
    step: Pipeline.Append<S, E>,
    codec: EventCodec<E>,
    attempt: number,
    options: ExecuteOptions
  ): Effect.Effect<Step<C, S, E, Err>, EventEncodeError | AppendError> => {
    const { idempotencyKey, metadata } = options
    const count = step.pipeline.events.length
    const ids = idempotencyKey === undefined
      ? Effect.succeed(undefined)
      : Effect.forEach(Arr.range(0, count - 1), (i) => eventIdFrom(idempotencyKey, i))
    return Effect.flatMap(ids, (eventIds) => {
      let next = 0
      const typedWrites: Array<TypedStreamWrite<E>> = step.writes.map((write) => {
        const withIds = eventIds === undefined ? write : { ...write, eventIds: eventIds.slice(next, next += write.events.length) }
        return metadata === undefined ? withIds : { ...withIds, metadata }
      })
      return encodeWrites(codec, typedWrites)
    }).pipe(
      // the pipeline asks for one write per stream read, so there is at least one
      Effect.flatMap((writes) => store.append(writes as unknown as NonEmptyReadonlyArray<StreamWrite>)),
      Effect.tap((result) =>
        Effect.zipRight(
          annotate({
            "eventfold.versions": result.streams.map((s) => s.version),
            "eventfold.positions": result.positions.length === 0 ? [] : [result.positions[0]!, result.positions.at(-1)!]
          }),
          Metric.incrementBy(eventsAppended, count)
        )
      ),
      Effect.map((result) => Pipeline.feed<C, S, E, Err>(step, Pipeline.Appended(result))),
      Effect.tapErrorTag("WrongExpectedVersion", (error) =>
        Effect.zipRight(
          annotate({
            "eventfold.conflict": true,
            "eventfold.conflict_stream_id": error.streamId,
            "eventfold.conflict_actual": error.actual
          }),
          Metric.increment(conflicts)
        )),
      Effect.provideService(InsideExecutorSpan, true),
      (effect) =>
        withSpan("eventfold.execute.append", {
          "eventfold.attempt": attempt,
          "eventfold.stream_ids": step.writes.map((w) => w.streamId),
          "eventfold.expected": step.writes.map((w) => ExpectedVersion.format(w.expected)),
          "eventfold.events_appended": count
        }, effect, isWrongExpectedVersion)
    )
  }

  const pageSizeDefault = options.pageSize

  /** Performs the pipeline's requests until it ends. */
  const drive = <C, S, E extends Tagged, Err>(
    step: Step<C, S, E, Err>,
    codec: EventCodec<E>,
    attempt: number,
    options: ExecuteOptions
  ): Effect.Effect<Result<S, E>, Err | ExecuteError | WrongExpectedVersion> => {
    switch (step._tag) {
      case "Read":
        return Effect.flatMap(
          // without a snapshot a read never diverges
          readStream(step, attempt, options.pageSize ?? pageSizeDefault) as Effect.Effect<Step<C, S, E, Err>>,
          (next) => drive(next, codec, attempt, options)
        )
      case "Append":
        return Effect.flatMap(
          appendStep<C, S, E, Err>(step, codec, attempt, options),
          (next) => drive(next, codec, attempt, options)
        )
      case "Done":
        return Effect.succeed(step.result)
      case "Failed":
        switch (step.reason) {
          case "invalid": {
            const error = step.error
            // a driver feeding what the pipeline does not wait for is a bug here, not a typed outcome
            return error._tag === "UnexpectedInput" ? Effect.die(error) : Effect.fail(error)
          }
          default:
            return Effect.fail(step.error)
        }
    }
  }

  /**
   * Reads the first stream of a pipeline that has a snapshot plan (its primary
   * stream) from the latest usable snapshot, when there is one, and records where
   * that stream's read ended (for the snapshot saved after the command).
   */
  const readFirst = <C, S, E extends Tagged, Err>(
    step: Step<C, S, E, Err>,
    plan: Option.Option<Snapshots.Plan<S>>,
    attempt: number,
    pageSize: number | undefined
  ): Effect.Effect<{ readonly step: Step<C, S, E, Err>; readonly primary: Snapshots.Primary<S> | undefined }> => {
    if (step._tag !== "Read" || Option.isNone(plan) || step.streamId !== plan.value.primary) {
      return Effect.succeed({ step, primary: undefined })
    }
    let primary: Snapshots.Primary<S> | undefined
    const fromStart = readStream(step, attempt, pageSize, undefined, (state, version) => {
      primary = { state, version, previous: 0 }
    }) as Effect.Effect<Step<C, S, E, Err>>
    return Snapshots.load(plan.value).pipe(
      Effect.flatMap(Option.match({
        onNone: () => fromStart,
        onSome: (loaded) =>
          Effect.flatMap(
            readStream(step, attempt, pageSize, loaded, (state, version) => {
              primary = { state, version, previous: loaded.version }
            }),
            (next) =>
              next instanceof Diverged
                ? Effect.zipRight(Snapshot.diverged(plan.value.key, loaded.version), fromStart)
                : Effect.as(Metric.increment(Snapshot.loaded), next)
          )
      })),
      Effect.map((next) => ({ step: next, primary }))
    )
  }

  /** Starts a pipeline and drives it to its end, reading its primary stream from a snapshot when it can. */
  const run = <C, S, E extends Tagged, Err>(
    first: Step<C, S, E, Err>,
    decider: Decider<C, S, E, Err>,
    plan: Option.Option<Snapshots.Plan<S>>,
    attempt: number,
    options: ExecuteOptions
  ): Effect.Effect<Result<S, E>, Err | ExecuteError | WrongExpectedVersion> =>
    Effect.flatMap(readFirst(first, plan, attempt, options.pageSize ?? pageSizeDefault), ({ primary, step }) => {
      const driven = drive(step, decider.codec, attempt, options)
      if (Option.isNone(plan) || primary === undefined || first._tag !== "Read" || first.pipeline.purpose !== "execute") return driven
      const from = primary
      return Effect.tap(driven, (result) => Snapshots.afterCommand(plan.value, decider, from, result))
    })

  const execute = <C, S, E extends Tagged, Err>(
    decider: Decider<C, S, E, Err>,
    command: C,
    executeOptions: ExecuteOptions = {}
  ): Effect.Effect<Result<S, E>, Err | ExecuteError> => {
    const schedule = executeOptions.retry ?? options.retry ?? defaultRetry
    const streams = Either.getOrElse(Pipeline.streamsFor(decider, command), (): ReadonlyArray<StreamId> => [])
    const plan = Snapshots.planFor(snapshots, decider, streams)
    const attempt = Effect.flatMap(Schedule.CurrentIterationMetadata, ({ recurrence }) => {
      const number = recurrence + 1
      return Effect.zipRight(
        number > 1
          ? Effect.zipRight(Metric.increment(retries), annotate({ "eventfold.attempts": number }))
          : annotate({ "eventfold.attempts": number }),
        run(Pipeline.start(decider, command), decider, plan, number, executeOptions)
      )
    })
    const retried = Effect.retryOrElse(
      attempt,
      onConflicts(schedule),
      (error, [, retried]) => exhausted<Err>(error, retried)
    ).pipe(
      Effect.tap((result) =>
        annotate({
          "eventfold.events_appended": result.events.length,
          "eventfold.versions": result.streams.map((s) => s.version)
        })
      ),
      Effect.tapError((error) =>
        annotate(
          isDomainError(error) ? { "eventfold.outcome": "rejected", "eventfold.rejection": tagOf(error) } : { "eventfold.outcome": "failed" }
        )
      ),
      Effect.onExit((exit) =>
        Effect.zipRight(
          exit._tag === "Success" ? annotate({ "eventfold.outcome": "done" }) : Effect.void,
          Metric.increment(commandsCounter(outcomeOf(exit)))
        )
      ),
      timed(duration)
    )
    const serialized = serialize && streams.length > 0 ? locks.withLocks(streams)(retried) : retried
    return withSpan(
      "eventfold.execute",
      { "eventfold.decider": decider.name, "eventfold.stream_ids": streams },
      serialized,
      isDomainError
    )
  }

  const load = <C, S, E extends Tagged, Err>(
    decider: Decider<C, S, E, Err>,
    command: C,
    loadOptions: LoadOptions = {}
  ): Effect.Effect<Loaded<S>, LoadError> => {
    const streams = Either.getOrElse(Pipeline.streamsFor(decider, command), (): ReadonlyArray<StreamId> => [])
    const pageSize = loadOptions.pageSize ?? pageSizeDefault
    const readOptions: ExecuteOptions = pageSize === undefined ? {} : { pageSize }
    // a loading pipeline ends after its reads: it fails with read errors and stream naming errors only
    const plan = Snapshots.planFor(snapshots, decider, streams)
    return (run(Pipeline.load(decider, command), decider, plan, 1, readOptions) as Effect.Effect<Result<S, E>, LoadError>).pipe(
      Effect.map((result): Loaded<S> => ({ state: result.state, versions: result.streams })),
      Effect.tap((loaded) => annotate({ "eventfold.versions": loaded.versions.map((s) => s.version) })),
      (effect) => withSpan("eventfold.load", { "eventfold.decider": decider.name, "eventfold.stream_ids": streams }, effect)
    )
  }

  return { execute, load }
}

/** The end of the retries: a last conflict becomes `RetriesExhausted`, any other error stays. */
const exhausted = <Err>(
  error: Err | ExecuteError | WrongExpectedVersion,
  retried: number
): Effect.Effect<never, Err | ExecuteError> =>
  isWrongExpectedVersion(error)
    ? Effect.fail(new RetriesExhausted({ attempts: retried + 1, last: error }))
    : Effect.fail(error as Err | ExecuteError) // a domain error is never a WrongExpectedVersion

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" ? error._tag : "unknown"

/** Folds one page of rows into a reading pipeline: one step per page. */
const foldPage = <C, S, E extends Tagged, Err>(
  step: Pipeline.Read<C, S, E, Err>,
  rows: Chunk.Chunk<StoredEvent>,
  codec: EventCodec<E>
): Step<C, S, E, Err> => {
  const streamId = step.streamId
  const events: Array<E> = new Array(rows.length)
  let i = 0
  let failure: EventDecodeError | undefined
  for (const row of rows) {
    const decoded = codec.decode(row)
    if (Either.isLeft(decoded)) {
      failure = decoded.left
      break
    }
    events[i++] = decoded.right.data
  }
  if (failure === undefined) return Pipeline.feed(step, Pipeline.StreamEvents(streamId, events))
  events.length = i
  const folded = Pipeline.feed(step, Pipeline.StreamEvents(streamId, events))
  return folded._tag === "Read" ? Pipeline.feed(folded, Pipeline.ReadFailed(failure)) : folded
}

/**
 * Folds one page of a fold read (rows `version, type, data, position`, the
 * first `count` of them) into a reading pipeline: each payload decoded straight
 * to its event. A payload that does not decode ends the read with an
 * `EventDecodeError` naming its row, after the events before it are folded.
 */
const foldRows = <C, S, E extends Tagged, Err>(
  step: Pipeline.Read<C, S, E, Err>,
  rows: ReadonlyArray<Row>,
  count: number,
  decodePayload: PayloadDecoder<E>[typeof PayloadDecoderTypeId]
): Step<C, S, E, Err> => {
  const streamId = step.streamId
  const events: Array<E> = new Array(count)
  for (let i = 0; i < count; i++) {
    const row = rows[i]!
    const decoded = decodePayload(row[1] as string, row[2] as string)
    if (decoded instanceof ParseResult.ParseError) {
      events.length = i
      const failure = new EventDecodeError({
        streamId,
        version: row[0] as number,
        position: Number(row[3]),
        type: row[1] as string,
        cause: decoded
      })
      const folded = Pipeline.feed(step, Pipeline.StreamEvents(streamId, events))
      return folded._tag === "Read" ? Pipeline.feed(folded, Pipeline.ReadFailed(failure)) : folded
    }
    events[i] = decoded
  }
  return Pipeline.feed(step, Pipeline.StreamEvents(streamId, events))
}
