/**
 * An in-memory `EventStore`: the default for unit tests and a reference for the
 * behaviour every backend must have.
 *
 * Reads take a snapshot when they start (later appends are not seen by a read
 * already running) and yield a page at a time. Appends are atomic: the checks and
 * the writes run in one synchronous step, so concurrent fibers never interleave
 * inside an append.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 *
 * const program = Effect.gen(function*() {
 *   const accounts = yield* EventStore.typed(EventCodec.make(Deposited))
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* accounts.append({ streamId, expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 10 })] })
 *   return yield* Stream.runCount(accounts.read(streamId))
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer()))).then((count) => assert.strictEqual(count, 1))
 * ```
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { ConfigError } from "effect/ConfigError"
import type { StoredEvent } from "../Event.ts"
import { defaultPageSize, EventStore, rowsFetched } from "../EventStore.ts"
import type { AppendResult, StreamAppendResult } from "../EventStore.ts"
import type { AppendError } from "../StoreError.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import { DuplicateEventId, WrongExpectedVersion } from "../StoreError.ts"
import { ofPosition } from "../internal/cursor.ts"
import { FirstPageTypeId } from "../internal/keyset.ts"
import type { FirstPageReader } from "../internal/keyset.ts"
import { checkWrites, resolveRead, resolveReadAllByPosition } from "../internal/validate.ts"
import { withReadSide } from "../internal/inProcessReadSide.ts"

interface State {
  readonly log: Array<StoredEvent>
  readonly streams: Map<string, Array<StoredEvent>>
  readonly eventIds: Set<string>
}

const page = <A>(events: ReadonlyArray<A>, start: number, end: number): Effect.Effect<Chunk.Chunk<A>> =>
  Effect.as(Metric.incrementBy(rowsFetched, end - start), Chunk.unsafeFromArray(events.slice(start, end)))

/**
 * Reads `events[start]`, `events[start + step]`, ... while the index stays in
 * `[0, end)`, one page of `pageSize` at a time.
 */
const pages = <A>(events: ReadonlyArray<A>, start: number, end: number, pageSize: number, backward: boolean) =>
  Stream.paginateChunkEffect(start, (index) => {
    if (!backward) {
      const stop = Math.min(index + pageSize, end)
      if (index >= stop) return Effect.succeed([Chunk.empty<A>(), Option.none()] as const)
      return Effect.map(page(events, index, stop), (chunk) => [chunk, stop < end ? Option.some(stop) : Option.none()] as const)
    }
    const stop = Math.max(index - pageSize, -1)
    if (index <= stop) return Effect.succeed([Chunk.empty<A>(), Option.none()] as const)
    return Effect.map(
      page(events, stop + 1, index + 1),
      (chunk) => [Chunk.reverse(chunk), stop >= 0 ? Option.some(stop) : Option.none()] as const
    )
  })

/**
 * Options of {@link make}, {@link layer} and {@link layerConfig}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The page size of reads that do not pass one (default `EventStore.defaultPageSize`, 256). */
  readonly pageSize?: number | undefined
}

/**
 * Creates an empty in-memory store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<EventStore.Service> => Effect.suspend(() => {
  const storePageSize = options?.pageSize ?? defaultPageSize
  const state: State = { log: [], streams: new Map(), eventIds: new Set() }

  const read: EventStore.Service["read"] = (streamId, options) =>
    Either.match(resolveRead(streamId, options, storePageSize), {
      onLeft: (error) => Stream.fail(error),
      onRight: ({ direction, from, pageSize }) =>
        Stream.suspend(() => {
          const events = state.streams.get(streamId) ?? []
          const length = events.length // the snapshot: streams only grow
          if (direction === "forward") {
            return pages(events, Math.max((from ?? 1) - 1, 0), length, pageSize, false)
          }
          return pages(events, Math.min(from ?? length, length) - 1, length, pageSize, true)
        })
    })

  // the Executor's read of a stream's first page, as one Effect (a `Stream` only past a full page)
  const firstPage: FirstPageReader[typeof FirstPageTypeId] = (streamId, requested) =>
    Either.match(resolveRead(streamId, requested === undefined ? undefined : { pageSize: requested }, storePageSize), {
      onLeft: (error) => Effect.fail(error),
      onRight: ({ pageSize }) =>
        Effect.suspend(() => {
          const events = state.streams.get(streamId) ?? []
          const length = events.length // the snapshot: streams only grow
          const stop = Math.min(pageSize, length)
          return Effect.map(page(events, 0, stop), (chunk) => ({
            page: chunk,
            rest: stop < length ? pages(events, stop, length, pageSize, false) : undefined
          }))
        })
    })

  const readAll: EventStore.Service["readAll"] = (options) =>
    Either.match(resolveReadAllByPosition(options, storePageSize), {
      onLeft: (error) => Stream.fail(error),
      onRight: ({ after, pageSize }) =>
        Stream.suspend(() => pages(state.log, Math.min(after, state.log.length), state.log.length, pageSize, false))
    })

  const append: EventStore.Service["append"] = (input) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend((): Effect.Effect<AppendResult, AppendError> => {
        const checked = checkWrites(input)
        if (Either.isLeft(checked)) return Effect.fail(checked.left)
        const writes = checked.right
        for (const write of writes) {
          const current = state.streams.get(write.streamId)?.length ?? 0
          if (!ExpectedVersion.matches(write.expected, current)) {
            return Effect.fail(new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual: current }))
          }
          for (const event of write.events) {
            if (state.eventIds.has(event.eventId)) {
              return Effect.fail(new DuplicateEventId({ eventId: event.eventId, streamId: write.streamId }))
            }
          }
        }
        // Every check passed: write everything in this same synchronous step.
        const recordedAt = new Date(now)
        const streams: Array<StreamAppendResult> = []
        const positions: Array<number> = []
        for (const write of writes) {
          let events = state.streams.get(write.streamId)
          if (events === undefined && write.events.length > 0) {
            events = []
            state.streams.set(write.streamId, events)
          }
          for (const event of write.events) {
            const stored: StoredEvent = {
              streamId: write.streamId,
              version: events!.length + 1,
              position: state.log.length + 1,
              cursor: ofPosition(state.log.length + 1),
              eventId: event.eventId,
              type: event.type,
              data: event.data,
              metadata: event.metadata,
              recordedAt
            }
            events!.push(stored)
            state.log.push(stored)
            state.eventIds.add(event.eventId)
            positions.push(stored.position)
          }
          streams.push({ streamId: write.streamId, version: events?.length ?? 0 })
        }
        return Effect.succeed({ streams, positions })
      }))

  const service: EventStore.Service & FirstPageReader = { read, readAll, append, [FirstPageTypeId]: firstPage }
  return withReadSide(service, () => state.log.length)
})

/**
 * A layer with a fresh, empty in-memory store.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { EventStore, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * const program = Effect.flatMap(EventStore.EventStore, (store) => Stream.runCount(store.read(StreamId.unsafeMake("account-ada"))))
 *
 * // reads fetch 64 events per page
 * Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer({ pageSize: 64 })))).then((count) => assert.strictEqual(count, 0))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<EventStore> => Layer.effect(EventStore, make(options))

/**
 * {@link layer} with its options read from `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * const Store = MemoryEventStore.layerConfig({ pageSize: Config.integer("EVENTFOLD_PAGE_SIZE").pipe(Config.withDefault(256)) })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (config: Config.Config.Wrap<Options>): Layer.Layer<EventStore, ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
