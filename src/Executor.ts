/**
 * The runtime shell of command execution. The `Executor` service runs a
 * `Decider` against the `EventStore` in context: it drives the pure `Pipeline`,
 * reading each requested stream and pushing its events into the pipeline one at a
 * time as the store yields them (a stream is never collected), then performs the
 * append. When a stream moved since it was read (`WrongExpectedVersion`), it runs
 * the command again from a fresh pipeline under a retry `Schedule`. Domain errors
 * are returned as typed failures and never retried.
 *
 * Every execution is traced (`eventfold.execute`, with `eventfold.execute.read` and
 * `eventfold.execute.append` children) and counted (see the metrics below).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Executor } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * const program = Effect.gen(function* () {
 *   const { state, events } = yield* Executor.execute(bank, new Transfer({ from, to, amount: 10 }))
 * })
 *
 * program.pipe(Effect.provide(Executor.layer.pipe(Layer.provideMerge(MemoryEventStore.layer))))
 * ```
 *
 * @since 0.1.0
 */
import { Array as Arr, Chunk, Clock, Context, Duration, Effect, Either, Layer, Metric, Schedule, Schema, Stream } from "effect"
import type { MetricKeyType, MetricState } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import type { Decider } from "./Decider.ts"
import { eventIdFrom } from "./Event.ts"
import type { Metadata } from "./Event.ts"
import type { EventCodec } from "./EventCodec.ts"
import type { StreamWrite, TypedStreamWrite } from "./EventStore.ts"
import { encodeWrites, EventStore } from "./EventStore.ts"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import * as Pipeline from "./Pipeline.ts"
import type {
  AppendError,
  DuplicateEventId,
  EventDecodeError,
  EventEncodeError,
  InvalidArgument,
  ReadError,
  StoreUnavailable
} from "./StoreError.ts"
import { WrongExpectedVersion } from "./StoreError.ts"
import type { InvalidStreamId } from "./StreamId.ts"

type Tagged = { readonly _tag: string }

/**
 * Every attempt of a command met a stream that had moved since it was read.
 * `attempts` counts the attempts made; `last` is the final conflict.
 *
 * @since 0.1.0
 */
export class RetriesExhausted extends Schema.TaggedError<RetriesExhausted>()("RetriesExhausted", {
  attempts: Schema.Number,
  last: WrongExpectedVersion
}) {
  override get message(): string {
    return `Command gave up after ${this.attempts} attempt${this.attempts === 1 ? "" : "s"}: ${this.last.message}`
  }
}

/**
 * What executing a command can fail with, besides the decider's domain errors.
 *
 * @since 0.1.0
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
 * What a successful command returns: the state after its events, the events
 * appended (with their streams), every stream's version and the global positions.
 *
 * @since 0.1.0
 */
export type Result<S, E> = Pipeline.Result<S, E>

/**
 * Options of an executor.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * When to run a command again after a conflict. Its input is the conflict.
   * Default {@link defaultRetry}: 5 attempts in all, exponential backoff from
   * 10 ms with jitter.
   */
  readonly retry?: Schedule.Schedule<unknown, WrongExpectedVersion>
  /** Rows per page when reading streams (default: the store's, 256). */
  readonly pageSize?: number
}

/**
 * Options of one execution.
 *
 * @since 0.1.0
 */
export interface ExecuteOptions {
  /** Stored with every appended event (correlation id, user, ...). */
  readonly metadata?: Metadata
  /**
   * Makes the command idempotent: its events get ids derived from this key
   * ({@link Event.eventIdFrom}, by the event's index in the decision) instead of
   * random ones. Running the command again with the same key, after a lost reply
   * or an unknown commit, fails with `DuplicateEventId` when its events are
   * already stored, and writes nothing twice. Use a key per request.
   */
  readonly idempotencyKey?: string
}

/**
 * The default retry schedule: up to 4 retries (5 attempts in all), waiting
 * 10 ms, 20 ms, 40 ms, 80 ms, each jittered.
 *
 * @since 0.1.0
 */
export const defaultRetry: Schedule.Schedule<unknown, WrongExpectedVersion> = Schedule.exponential("10 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(4))
)

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/**
 * Commands executed, tagged `outcome`: `done`, `rejected` (domain error) or
 * `failed` (any other error).
 *
 * @since 0.1.0
 */
export const commands = Metric.counter("eventfold_commands_total", {
  description: "Commands executed, by outcome",
  incremental: true
})

/**
 * Events folded by commands (each attempt counts its reads).
 *
 * @since 0.1.0
 */
export const eventsRead = Metric.counter("eventfold_command_events_read_total", {
  description: "Events read and folded by command executions",
  incremental: true
})

/**
 * Events appended by commands.
 *
 * @since 0.1.0
 */
export const eventsAppended = Metric.counter("eventfold_command_events_appended_total", {
  description: "Events appended by command executions",
  incremental: true
})

/**
 * Appends refused with `WrongExpectedVersion`.
 *
 * @since 0.1.0
 */
export const conflicts = Metric.counter("eventfold_command_conflicts_total", {
  description: "Command appends that met a stream that had moved",
  incremental: true
})

/**
 * Attempts after the first.
 *
 * @since 0.1.0
 */
export const retries = Metric.counter("eventfold_command_retries_total", {
  description: "Command attempts after the first",
  incremental: true
})

/**
 * How long commands take, from the first read to the end, retries and failures included.
 *
 * @since 0.1.0
 */
export const duration = Metric.timer("eventfold_command_duration", "Command execution time, retries included")

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * @since 0.1.0
 */
export declare namespace Executor {
  /**
   * The executor's operations.
   *
   * @since 0.1.0
   */
  export interface Service {
    /** Runs a command: read, decide, append, retrying on conflicts. */
    readonly execute: <C, S, E extends Tagged, Err>(
      decider: Decider<C, S, E, Err>,
      command: C,
      options?: ExecuteOptions
    ) => Effect.Effect<Result<S, E>, Err | ExecuteError>
  }
}

/**
 * The executor service tag.
 *
 * @since 0.1.0
 */
export class Executor extends Context.Tag("eventfold/Executor")<Executor, Executor.Service>() {}

/** Records how long an effect took into a timer, whether it succeeded or failed. */
const timed = (timer: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, Duration.Duration, MetricState.MetricState.Histogram>) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Clock.clockWith((clock) => {
    const start = clock.unsafeCurrentTimeNanos()
    return Effect.onExit(self, () => Metric.update(timer, Duration.nanos(clock.unsafeCurrentTimeNanos() - start)))
  })

class Stopped {}
const stopped = new Stopped()

/**
 * An executor over a given store.
 *
 * @since 0.1.0
 */
export const makeWith = (store: EventStore.Service, options: Options = {}): Executor.Service => {
  const schedule = options.retry ?? defaultRetry
  const readOptions = options.pageSize === undefined ? {} : { pageSize: options.pageSize }

  const readStream = <C, S, E extends Tagged, Err>(
    step: Pipeline.Read<C, S, E, Err>,
    attempt: number
  ): Effect.Effect<Pipeline.Step<C, S, E, Err>> =>
    Effect.suspend(() => {
      const streamId = step.streamId
      const codec = step.pipeline.decider.codec
      let current: Pipeline.Step<C, S, E, Err> = step
      let count = 0
      return store.read(streamId, readOptions).pipe(
        Stream.runForEachChunk((chunk): Effect.Effect<void, EventDecodeError | Stopped> => {
          const rows = Chunk.toReadonlyArray(chunk)
          for (let i = 0; i < rows.length; i++) {
            if (current._tag !== "Read") return Effect.fail(stopped)
            const decoded = codec.decode(rows[i]!)
            if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
            current = Pipeline.feed(current, Pipeline.StreamEvent(streamId, decoded.right.data))
            count++
          }
          return Effect.void
        }),
        Effect.match({
          onFailure: (error) =>
            error instanceof Stopped || current._tag !== "Read" ? current : Pipeline.feed(current, Pipeline.ReadFailed(error)),
          onSuccess: () => current._tag !== "Read" ? current : Pipeline.feed(current, Pipeline.StreamEnded(streamId))
        }),
        Effect.tap(() =>
          Effect.zipRight(
            Effect.annotateCurrentSpan({ "eventfold.events_read": count }),
            Metric.incrementBy(eventsRead, count)
          )
        ),
        Effect.withSpan("eventfold.execute.read", {
          attributes: { "eventfold.stream_id": streamId, "eventfold.attempt": attempt }
        })
      )
    })

  const appendStep = <C, S, E extends Tagged, Err>(
    step: Pipeline.Append<S, E>,
    codec: EventCodec<E>,
    attempt: number,
    options: ExecuteOptions
  ): Effect.Effect<Pipeline.Step<C, S, E, Err>, EventEncodeError | Exclude<AppendError, WrongExpectedVersion>> => {
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
      Effect.flatMap((writes) => store.append(writes as unknown as NonEmptyReadonlyArray<StreamWrite>)),
      Effect.tap((result) =>
        Effect.zipRight(
          Effect.annotateCurrentSpan({
            "eventfold.versions": result.streams.map((s) => s.version),
            "eventfold.positions": result.positions.length === 0 ? [] : [result.positions[0]!, result.positions.at(-1)!]
          }),
          Metric.incrementBy(eventsAppended, count)
        )
      ),
      Effect.map((result) => Pipeline.feed<C, S, E, Err>(step, Pipeline.Appended(result))),
      Effect.catchTag("WrongExpectedVersion", (error) =>
        Effect.zipRight(
          Effect.zipRight(
            Effect.annotateCurrentSpan({ "eventfold.conflict_stream_id": error.streamId, "eventfold.conflict_actual": error.actual }),
            Metric.increment(conflicts)
          ),
          Effect.succeed(Pipeline.feed<C, S, E, Err>(step, Pipeline.Conflicted(error)))
        )),
      Effect.withSpan("eventfold.execute.append", {
        attributes: {
          "eventfold.attempt": attempt,
          "eventfold.stream_ids": step.writes.map((w) => w.streamId),
          "eventfold.expected": step.writes.map((w) => ExpectedVersion.format(w.expected)),
          "eventfold.events_appended": count
        }
      })
    )
  }

  const execute = <C, S, E extends Tagged, Err>(
    decider: Decider<C, S, E, Err>,
    command: C,
    executeOptions: ExecuteOptions = {}
  ): Effect.Effect<Result<S, E>, Err | ExecuteError> =>
    Effect.suspend(() => {
      let attempts = 0
      let rejected = false

      const runAttempt = (attempt: number): Effect.Effect<Either.Either<Result<S, E>, Err | ExecuteError>, WrongExpectedVersion> =>
        Effect.gen(function*() {
          let step: Pipeline.Step<C, S, E, Err> = Pipeline.start(decider, command)
          for (;;) {
            switch (step._tag) {
              case "Read": {
                step = yield* readStream(step, attempt)
                break
              }
              case "Append": {
                const appended = yield* Effect.either(
                  appendStep<C, S, E, Err>(step, decider.codec, attempt, executeOptions)
                )
                if (Either.isLeft(appended)) return Either.left(appended.left)
                step = appended.right
                break
              }
              case "Done":
                return Either.right(step.result)
              case "Failed": {
                switch (step.reason) {
                  case "conflict":
                    return yield* Effect.fail(step.error)
                  case "rejected":
                    rejected = true
                    return Either.left(step.error)
                  case "read":
                    return Either.left(step.error)
                  case "invalid":
                    if (step.error._tag === "UnexpectedInput") return yield* Effect.die(step.error)
                    return Either.left(step.error)
                }
              }
            }
          }
        })

      const attempt = Effect.suspend(() => {
        attempts++
        const run = runAttempt(attempts)
        return attempts > 1 ? Effect.zipRight(Metric.increment(retries), run) : run
      })

      return attempt.pipe(
        Effect.retry(schedule),
        Effect.catchAll((last) => Effect.fail(new RetriesExhausted({ attempts, last }))),
        Effect.flatMap((outcome): Effect.Effect<Result<S, E>, Err | ExecuteError> => outcome),
        Effect.tap((result) =>
          Effect.annotateCurrentSpan({
            "eventfold.events_appended": result.events.length,
            "eventfold.versions": result.streams.map((s) => s.version)
          })
        ),
        Effect.onExit((exit) =>
          Effect.zipRight(
            Effect.annotateCurrentSpan({ "eventfold.attempts": attempts }),
            Metric.increment(
              Metric.tagged(commands, "outcome", exit._tag === "Success" ? "done" : rejected ? "rejected" : "failed")
            )
          )
        ),
        timed(duration),
        Effect.withSpan("eventfold.execute", {
          attributes: { "eventfold.decider": decider.name, "eventfold.stream_ids": Either.getOrElse(Pipeline.streamsFor(decider, command), () => []) }
        })
      )
    })

  return Executor.of({ execute })
}

/**
 * An executor over the `EventStore` in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Executor.Service, never, EventStore> =>
  Effect.map(EventStore, (store) => makeWith(store, options))

/**
 * An executor layer with the default options.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Executor, never, EventStore> = Layer.effect(Executor, make())

/**
 * An executor layer with options, e.g. a custom retry schedule.
 *
 * @example
 * ```ts
 * Executor.layerWith({ retry: Schedule.recurs(2) }) // 3 attempts, no waiting
 * ```
 *
 * @since 0.1.0
 */
export const layerWith = (options: Options): Layer.Layer<Executor, never, EventStore> => Layer.effect(Executor, make(options))

/**
 * Runs a command with the `Executor` in context.
 *
 * @example
 * ```ts
 * const { state } = yield* Executor.execute(account, new Withdraw({ account: "ada", amount: 30 }))
 * ```
 *
 * @since 0.1.0
 */
export const execute = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C,
  options?: ExecuteOptions
): Effect.Effect<Result<S, E>, Err | ExecuteError, Executor> =>
  Effect.flatMap(Executor, (executor) => executor.execute(decider, command, options))
