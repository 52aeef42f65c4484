/**
 * The projection runner (internal): leads, reads batches from the checkpoint,
 * commits each batch with its checkpoint, and on a handler failure finds the
 * failing event.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as os from "node:os"
import { start } from "../Cursor.ts"
import type { RecordedEvent, StoredEvent } from "../Event.ts"
import { EventStore } from "../EventStore.ts"
import type { Checkpoint, CheckpointStore, Progress, Projection, RunOptions, Status , LeadershipLost} from "../Projection.ts"
import { ProjectionFailed } from "../Projection.ts"
import type { ReadSide } from "../Subscription.ts"
import { InvalidArgument, StoreUnavailable } from "../StoreError.ts"
import type { ReadError } from "../StoreError.ts"
import { cursorOf } from "./readSideCursor.ts"
import type { Batch, BatchOptions } from "./subscription.ts"
import { batches, checkOptions, defaultPollInterval, defaultRetry } from "./subscription.ts"

export const eventsHandled = Metric.counter("eventfold_projection_events_handled", {
  description: "Events handled by projections",
  incremental: true
})

export const lag = Metric.gauge("eventfold_projection_lag", {
  description: "Positions between a projection's checkpoint and the head of the log"
})

/** The handler's own failure, kept apart from the store's. */
class HandlerFailed extends Data.TaggedError("HandlerFailed")<{ readonly cause: unknown }> {}

export const defaultLeaseDuration = Duration.seconds(10)

const defaultRunner = (): string => `${os.hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`

const readSideOf = (operation: string) =>
  Effect.flatMap(EventStore, (store): Effect.Effect<readonly [EventStore.Service, ReadSide], InvalidArgument> =>
    store.readSide === undefined
      ? Effect.fail(new InvalidArgument({ operation, reason: "this event store has no read side (checkpoints, leadership)" }))
      : Effect.succeed([store, store.readSide] as const))

const checkName = (operation: string, name: string) =>
  typeof name === "string" && name.length >= 1 && name.length <= 200
    ? Effect.void
    : Effect.fail(new InvalidArgument({ operation, reason: `a projection name must have 1 to 200 characters, got ${JSON.stringify(name)}` }))

interface Resolved {
  readonly runner: string
  readonly leaseDuration: Duration.Duration
  readonly batch: (after: BatchOptions["after"], live: boolean) => BatchOptions
  readonly storeRetry: BatchOptions["retry"]
}

const resolve = (readSide: ReadSide, projection: Projection<unknown, unknown, unknown>, options: RunOptions): Resolved => {
  const storeRetry = options.storeRetry ?? defaultRetry
  return {
    runner: options.runner ?? defaultRunner(),
    leaseDuration: Duration.decode(options.leaseDuration ?? defaultLeaseDuration),
    storeRetry,
    batch: (after, live) => ({
      after,
      live,
      pageSize: options.batchSize ?? 256,
      streamPrefix: projection.streamPrefix,
      types: projection.types,
      pollInterval: options.pollInterval !== undefined ? Duration.decode(options.pollInterval) : readSide.pollInterval ?? defaultPollInterval,
      retry: storeRetry
    })
  }
}

const failedAt = (name: string, event: StoredEvent, cause: unknown) =>
  new ProjectionFailed({
    projection: name,
    position: event.position,
    cursor: cursorOf(event),
    eventId: event.eventId,
    streamId: event.streamId,
    version: event.version,
    type: event.type,
    cause
  })

/**
 * Handles one batch: decodes it, commits the handler's work with the batch's
 * checkpoint, and on failure (after `retry`) handles it again one event at a
 * time to commit what it can and name the failing event. Returns how many
 * events were handled.
 */
const applyBatch = <E, Err, R>(
  projection: Projection<E, Err, R>,
  checkpoints: CheckpointStore,
  runner: string,
  resolved: Resolved,
  options: RunOptions,
  batch: Batch
): Effect.Effect<number, ProjectionFailed | StoreUnavailable | LeadershipLost, R> =>
  Effect.gen(function*() {
    const raw = Chunk.toReadonlyArray(batch.events)
    const decoded: Array<RecordedEvent<E>> = []
    let undecodable: { readonly event: StoredEvent; readonly cause: unknown } | undefined
    for (const event of raw) {
      const result = projection.codec.decode(event)
      if (Either.isLeft(result)) {
        undecodable = { event, cause: result.left }
        break
      }
      decoded.push(result.right)
    }
    const commit = (events: ReadonlyArray<RecordedEvent<E>>, checkpoint: Checkpoint) =>
      checkpoints.commit(
        projection.name,
        runner,
        checkpoint,
        Effect.mapError(projection.handle(events), (cause) => new HandlerFailed({ cause }))
      ).pipe(Effect.retry({ schedule: resolved.storeRetry, while: (error) => error instanceof StoreUnavailable }))
    const checkpointOf = (index: number): Checkpoint =>
      undecodable === undefined && index === raw.length - 1
        ? { cursor: batch.cursor, position: batch.position } // past the events the filter skipped
        : { cursor: cursorOf(raw[index]!), position: raw[index]!.position }
    if (decoded.length > 0) {
      const whole = commit(decoded, checkpointOf(decoded.length - 1))
      const attempted = options.retry === undefined
        ? whole
        : Effect.retry(whole, { schedule: options.retry, while: (error) => error instanceof HandlerFailed })
      yield* attempted.pipe(
        Effect.catchTag("HandlerFailed", () =>
          // one event at a time: commit those that pass, stop at the first that fails
          Effect.forEach(decoded, (event, i) =>
            commit([event], checkpointOf(i)).pipe(
              Effect.catchTag("HandlerFailed", (failure) => Effect.fail(failedAt(projection.name, raw[i]!, failure.cause)))
            ), { discard: true }))
      )
      yield* Metric.incrementBy(Metric.tagged(eventsHandled, "projection", projection.name), decoded.length)
    }
    if (undecodable !== undefined) return yield* failedAt(projection.name, undecodable.event, undecodable.cause)
    return decoded.length
  })

const updateLag = (checkpoints: CheckpointStore, name: string, position: number) =>
  Effect.flatMap(checkpoints.head, (head) => Metric.set(Metric.tagged(lag, "projection", name), Math.max(head - position, 0))).pipe(
    Effect.ignore
  )

const checkProjection = (operation: string, projection: Projection<unknown, unknown, unknown>, options: RunOptions) =>
  Effect.zipRight(
    checkName(operation, projection.name),
    Either.match(checkOptions(operation, { ...projection, pageSize: options.batchSize }), {
      onLeft: Effect.fail,
      onRight: () => Effect.void
    })
  )

export const run = <E, Err, R>(
  projection: Projection<E, Err, R>,
  options: RunOptions
): Effect.Effect<never, ProjectionFailed | ReadError, EventStore | R> =>
  Effect.gen(function*() {
    yield* checkProjection("Projection.run", projection as Projection<unknown, unknown, unknown>, options)
    const [store, readSide] = yield* readSideOf("Projection.run")
    const checkpoints = readSide.checkpoints
    const resolved = resolve(readSide, projection as Projection<unknown, unknown, unknown>, options)
    const retried = <A, X, RR>(effect: Effect.Effect<A, X | StoreUnavailable, RR>) =>
      Effect.retry(effect, { schedule: resolved.storeRetry, while: (error) => error instanceof StoreUnavailable })
    const term = Effect.scoped(Effect.gen(function*() {
      const lost = yield* retried(checkpoints.lead(projection.name, resolved.runner, { leaseDuration: resolved.leaseDuration }))
      yield* Effect.logDebug(`projection ${projection.name}: ${resolved.runner} leads`)
      const checkpoint = yield* retried(checkpoints.load(projection.name))
      const after = Option.match(checkpoint, { onNone: () => start, onSome: (c) => c.cursor })
      const processing = Stream.runForEach(batches(store, resolved.batch(after, true)), (batch) =>
        Effect.zipRight(
          applyBatch(projection, checkpoints, resolved.runner, resolved, options, batch),
          updateLag(checkpoints, projection.name, batch.position)
        ))
      return yield* Effect.raceFirst(processing, lost)
    }))
    return yield* Effect.forever(
      term.pipe(
        Effect.catchTag("LeadershipLost", (error) => Effect.logWarning(error.message))
      )
    )
  })

export const rebuild = <E, Err, R, Err2, R2>(
  projection: Projection<E, Err, R>,
  options: RunOptions & { readonly reset: Effect.Effect<void, Err2, R2> }
): Stream.Stream<Progress, ProjectionFailed | LeadershipLost | ReadError | Err2, EventStore | R | R2> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    yield* checkProjection("Projection.rebuild", projection as Projection<unknown, unknown, unknown>, options)
    const [store, readSide] = yield* readSideOf("Projection.rebuild")
    const checkpoints = readSide.checkpoints
    const resolved = resolve(readSide, projection as Projection<unknown, unknown, unknown>, options)
    const retried = <A, X, RR>(effect: Effect.Effect<A, X | StoreUnavailable, RR>) =>
      Effect.retry(effect, { schedule: resolved.storeRetry, while: (error) => error instanceof StoreUnavailable })
    const lost = yield* retried(checkpoints.lead(projection.name, resolved.runner, { leaseDuration: resolved.leaseDuration }))
    yield* retried(checkpoints.commit(projection.name, resolved.runner, { cursor: start, position: 0 }, options.reset))
    const started = yield* Clock.currentTimeMillis
    let processed = 0
    return batches(store, resolved.batch(start, false)).pipe(
      Stream.mapEffect((batch) =>
        Effect.gen(function*() {
          processed += yield* applyBatch(projection, checkpoints, resolved.runner, resolved, options, batch)
          const head = yield* retried(checkpoints.head)
          yield* Metric.set(Metric.tagged(lag, "projection", projection.name), Math.max(head - batch.position, 0))
          const now = yield* Clock.currentTimeMillis
          const seconds = Math.max(now - started, 1) / 1000
          return { processed, position: batch.position, head, rate: processed / seconds } satisfies Progress
        })
      ),
      Stream.interruptWhen(lost)
    )
  }))

export const status: Effect.Effect<ReadonlyArray<Status>, StoreUnavailable | InvalidArgument, EventStore> = Effect.gen(
  function*() {
    const [, readSide] = yield* readSideOf("Projection.status")
    const [records, head] = yield* Effect.all([readSide.checkpoints.list, readSide.checkpoints.head])
    return records.map((record): Status => ({ ...record, head, lag: Math.max(head - record.checkpoint.position, 0) }))
  }
)
