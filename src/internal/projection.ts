/**
 * The projection runner (internal): leads, reads batches from the checkpoint,
 * commits each batch with its checkpoint, and on a handler failure finds the
 * failing event.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
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

/** How long a head read stays fresh while the runner is behind it. */
const headRefresh = 1000

/**
 * The head of the log as the runner knows it: read again only when a batch
 * reaches it or after a second, not after every batch (catching up from far
 * behind, the head is read once a second instead of once a batch).
 */
const knownHead = <X>(head: Effect.Effect<number, X>) => {
  let value = -1
  let readAt = 0
  return (position: number): Effect.Effect<number, X> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      position < value && now - readAt < headRefresh
        ? Effect.succeed(value)
        : Effect.map(head, (read) => {
          value = read
          readAt = now
          return read
        }))
}

const updateLag = (head: (position: number) => Effect.Effect<number, StoreUnavailable>, name: string, position: number) =>
  Effect.flatMap(head(position), (read) => Metric.set(Metric.tagged(lag, "projection", name), Math.max(read - position, 0))).pipe(
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
      const head = knownHead(checkpoints.head)
      const processing = Stream.runForEach(batches(store, resolved.batch(after, true)), (batch) =>
        Effect.zipRight(
          applyBatch(projection, checkpoints, resolved.runner, resolved, options, batch),
          updateLag(head, projection.name, batch.position)
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
    const knownHeadAt = knownHead(retried(checkpoints.head))
    let processed = 0
    return batches(store, resolved.batch(start, false)).pipe(
      Stream.mapEffect((batch) =>
        Effect.gen(function*() {
          processed += yield* applyBatch(projection, checkpoints, resolved.runner, resolved, options, batch)
          const head = yield* knownHeadAt(batch.position)
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

/** What `executeEach` needs of a statement: `@effect/sql`'s `Statement` has it. */
export interface CompilableStatement<E> extends Effect.Effect<unknown, E> {
  readonly compile: () => readonly [string, ReadonlyArray<unknown>]
}

interface Connection {
  readonly executeRaw: (sql: string, params: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
}

/**
 * `@effect/sql`'s transaction connection, found by its key: the core does not
 * import `@effect/sql` (an optional peer); tags with the same key are the same
 * service.
 */
const TransactionConnection = Context.GenericTag<readonly [Connection, number]>("@effect/sql/SqlClient/TransactionConnection")

/** A segment of an `@effect/sql` statement, as far as `executeEach` looks. */
interface Segment {
  readonly _tag: string
  readonly value?: unknown
  readonly params?: unknown
}

/**
 * The compiled text of a statement made only of literal text and parameters,
 * kept to compile the next statement of the same shape without building its
 * text again: the same literals (the same tagged template) with other values.
 */
interface Shape {
  readonly segments: ReadonlyArray<Segment>
  readonly text: string
  readonly parameters: number
}

const simpleShape = (segments: ReadonlyArray<Segment> | undefined, text: string): Shape | undefined => {
  if (segments === undefined) return undefined
  let parameters = 0
  for (const segment of segments) {
    if (segment._tag === "Parameter") parameters++
    else if (segment._tag !== "Literal" || segment.params !== undefined) return undefined
  }
  return { segments, text, parameters }
}

/** The parameters of `segments` when they have `shape`'s literals, else undefined. */
const parametersLike = (shape: Shape, segments: ReadonlyArray<Segment> | undefined): Array<unknown> | undefined => {
  const known = shape.segments
  if (segments === undefined || segments.length !== known.length) return undefined
  const params = new Array<unknown>(shape.parameters)
  let p = 0
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    const like = known[i]!
    if (segment._tag !== like._tag) return undefined
    if (segment._tag === "Parameter") params[p++] = segment.value
    else if (segment.value !== like.value || segment.params !== undefined) return undefined
  }
  return params
}

export const executeEach = <A, E>(
  items: Iterable<A>,
  statement: (item: A) => CompilableStatement<E>
): Effect.Effect<void, E> =>
  Effect.flatMap(Effect.serviceOption(TransactionConnection), (transaction) => {
    if (Option.isNone(transaction)) return Effect.forEach(items, statement, { discard: true })
    const connection = transaction.value[0]
    let shape: Shape | undefined
    return Effect.forEach(items, (item) => {
      const next = statement(item)
      const segments = (next as { readonly segments?: ReadonlyArray<Segment> }).segments
      const params = shape === undefined ? undefined : parametersLike(shape, segments)
      if (params !== undefined) return connection.executeRaw(shape!.text, params) as Effect.Effect<unknown, E>
      const [text, compiled] = next.compile()
      shape = simpleShape(segments, text)
      return connection.executeRaw(text, compiled) as Effect.Effect<unknown, E>
    }, { discard: true })
  })
