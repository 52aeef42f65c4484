/**
 * Spans and metrics for any `EventStore`. The wrapper traces every read
 * (`eventfold.read`, `eventfold.readAll`) and append (`eventfold.append`) with the
 * stream ids, versions and event counts, and counts reads, events read, appends,
 * events appended and conflicts. Behaviour is otherwise unchanged.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Stream } from "effect"
 * import { EventStore, InstrumentedEventStore, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * // the instrumented layer replaces the EventStore it is provided with
 * const StoreLive = InstrumentedEventStore.layer.pipe(Layer.provide(MemoryEventStore.layer()))
 *
 * // this read is traced as `eventfold.read` and counted in InstrumentedEventStore.reads
 * const program = Effect.flatMap(EventStore.EventStore, (store) => Stream.runCount(store.read(StreamId.unsafeMake("account-ada"))))
 * Effect.runPromise(program.pipe(Effect.provide(StoreLive))).then((count) => assert.strictEqual(count, 0))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { EventStore, writesOf } from "./EventStore.ts"
import * as ExpectedVersion from "./ExpectedVersion.ts"
import type { Attributes } from "./internal/observability.ts"
import { annotate, InsideExecutorSpan, timed, withSpan } from "./internal/observability.ts"

/**
 * Reads started (`read` and `readAll`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const reads = Metric.counter("eventfold_store_reads_total", {
  description: "Reads started on the event store",
  incremental: true
})

/**
 * Events yielded by reads.
 *
 * @since 0.1.0
 * @category metrics
 */
export const eventsRead = Metric.counter("eventfold_store_events_read_total", {
  description: "Events yielded by event store reads",
  incremental: true
})

/**
 * Appends attempted.
 *
 * @since 0.1.0
 * @category metrics
 */
export const appends = Metric.counter("eventfold_store_appends_total", {
  description: "Appends attempted on the event store",
  incremental: true
})

/**
 * Events committed by appends.
 *
 * @since 0.1.0
 * @category metrics
 */
export const eventsAppended = Metric.counter("eventfold_store_events_appended_total", {
  description: "Events committed by event store appends",
  incremental: true
})

/**
 * Appends refused with `WrongExpectedVersion`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const conflicts = Metric.counter("eventfold_store_conflicts_total", {
  description: "Appends refused because a stream had moved",
  incremental: true
})

/**
 * How long appends take, failed ones included.
 *
 * @since 0.1.0
 * @category metrics
 */
export const appendDuration = Metric.timer("eventfold_store_append_duration", "Event store append time")

const counted = <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.suspend(() => {
    let count = 0
    return stream.pipe(
      Stream.mapChunksEffect((chunk) => {
        count += chunk.length
        return Effect.as(Metric.incrementBy(eventsRead, chunk.length), chunk)
      }),
      Stream.onEnd(Effect.suspend(() => annotate({ "eventfold.events_read": count }))),
      Stream.onStart(Metric.increment(reads))
    )
  })

/**
 * A read in its own span, unless the Executor already traces it
 * (`eventfold.execute.read`): under an Executor the store adds no second span.
 */
const tracedRead = <A, E, R>(
  stream: Stream.Stream<A, E, R>,
  name: string,
  attributes: Record<string, string | number>
): Stream.Stream<A, E, R> =>
  Stream.unwrap(Effect.map(InsideExecutorSpan, (inside) => inside ? stream : Stream.withSpan(stream, name, { attributes })))

/** An append in its own span, unless the Executor already traces it (`eventfold.execute.append`). */
const tracedAppend = <A, E, R>(effect: Effect.Effect<A, E, R>, attributes: Attributes): Effect.Effect<A, E, R> =>
  Effect.flatMap(InsideExecutorSpan, (inside) => inside ? effect : withSpan("eventfold.append", attributes, effect))

/**
 * Wraps a store so that its operations are traced and counted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrap = (store: EventStore.Service): EventStore.Service =>
  EventStore.of({
    // subscriptions and projections use the wrapped store's read side
    readSide: store.readSide,
    read: (streamId, options) =>
      tracedRead(counted(store.read(streamId, options)), "eventfold.read", {
        "eventfold.stream_id": streamId,
        "eventfold.direction": options?.direction ?? "forward",
        ...(options?.from === undefined ? {} : { "eventfold.from": options.from }),
        ...(options?.pageSize === undefined ? {} : { "eventfold.page_size": options.pageSize })
      }),
    readAll: (options) =>
      tracedRead(counted(store.readAll(options)), "eventfold.readAll", {
        "eventfold.after": options?.after ?? "0",
        ...(options?.pageSize === undefined ? {} : { "eventfold.page_size": options.pageSize })
      }),
    append: (input) => {
      const writes = writesOf(input)
      let count = 0
      for (const write of writes) count += write.events.length
      return store.append(input).pipe(
        Effect.tap((result) =>
          Effect.zipRight(
            annotate({
              "eventfold.versions": result.streams.map((s) => s.version),
              "eventfold.positions": result.positions.length === 0 ? [] : [result.positions[0]!, result.positions.at(-1)!]
            }),
            Metric.incrementBy(eventsAppended, count)
          )
        ),
        Effect.tapErrorTag("WrongExpectedVersion", (error) =>
          Effect.zipRight(
            annotate({
              "eventfold.conflict_stream_id": error.streamId,
              "eventfold.conflict_actual": error.actual
            }),
            Metric.increment(conflicts)
          )),
        timed(appendDuration),
        Effect.ensuring(Metric.increment(appends)),
        (effect) =>
          tracedAppend(effect, {
            "eventfold.stream_ids": writes.map((w) => w.streamId),
            "eventfold.expected": writes.map((w) => ExpectedVersion.format(w.expected)),
            "eventfold.events": count
          })
      )
    }
  })

/**
 * Replaces the `EventStore` in context with an instrumented view of it. Provide
 * the backend to it: `InstrumentedEventStore.layer.pipe(Layer.provide(backend))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<EventStore, never, EventStore> = Layer.effect(EventStore, Effect.map(EventStore, wrap))
