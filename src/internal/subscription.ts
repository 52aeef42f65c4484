/**
 * The engine behind `Subscription` and `Projection` (internal): the global log
 * after a cursor as a stream of page-sized batches, catching up and then, when
 * `live`, waiting for a wake-up or the poll interval and reading again.
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { Cursor } from "../Cursor.ts"
import { start } from "../Cursor.ts"
import type { StoredEvent } from "../Event.ts"
import type { EventStore } from "../EventStore.ts"
import { defaultPageSize } from "../EventStore.ts"
import { InvalidArgument, StoreUnavailable } from "../StoreError.ts"
import type { ReadError } from "../StoreError.ts"
import { cursorOf, readAfter } from "./readSideCursor.ts"

/** Which events a subscription yields. */
export interface Filter {
  readonly streamPrefix?: string | undefined
  readonly types?: ReadonlyArray<string> | undefined
}

/** A page of the log: the events that pass the filter, and where the page ends. */
export interface Batch {
  readonly events: Chunk.Chunk<StoredEvent>
  /** The cursor after the last event read (matching or not). */
  readonly cursor: Cursor
  /** The position of the last event read. */
  readonly position: number
}

export interface BatchOptions extends Filter {
  readonly after: Cursor | "end"
  readonly pageSize: number
  /** Keep following the log after catching up (default), or end when a page comes back empty. */
  readonly live: boolean
  readonly pollInterval: Duration.Duration
  readonly retry: Schedule.Schedule<unknown, unknown>
}

/** Store failures while following the log are retried: at most 5 s apart, forever. */
export const defaultRetry: Schedule.Schedule<unknown, unknown> = Schedule.exponential(Duration.millis(50)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(5))),
  Schedule.jittered
)

/** The poll interval when the store names none. */
export const defaultPollInterval = Duration.seconds(1)

/** `InvalidArgument` for a filter or page size no store could serve. */
export const checkOptions = (operation: string, options: Filter & { readonly pageSize?: number | undefined }) => {
  const invalid = (reason: string) => Either.left(new InvalidArgument({ operation, reason }))
  if (options.pageSize !== undefined && !(Number.isSafeInteger(options.pageSize) && options.pageSize >= 1)) {
    return invalid(`pageSize must be a positive integer, got ${options.pageSize}`)
  }
  if (options.streamPrefix !== undefined && typeof options.streamPrefix !== "string") {
    return invalid("streamPrefix must be a string")
  }
  if (options.types !== undefined) {
    if (!Array.isArray(options.types) || options.types.length === 0) return invalid("types must be a non-empty list of event types")
    if (options.types.some((type) => typeof type !== "string" || type === "")) return invalid("types must be non-empty strings")
  }
  return Either.right(undefined)
}

/** The filter as a predicate (`undefined` when everything passes). */
export const predicate = (filter: Filter): ((event: StoredEvent) => boolean) | undefined => {
  const prefix = filter.streamPrefix !== undefined && filter.streamPrefix !== "" ? filter.streamPrefix : undefined
  const types = filter.types !== undefined ? new Set(filter.types) : undefined
  if (prefix === undefined && types === undefined) return undefined
  return (event) => (prefix === undefined || event.streamId.startsWith(prefix)) && (types === undefined || types.has(event.type))
}

/** The cursor of the last event of the log, read through `readAll` (stores without a faster way). */
export const endByReading = (store: EventStore.Service): Effect.Effect<Cursor, ReadError> =>
  Effect.map(
    Stream.runLast(store.readAll({ pageSize: 1000 })),
    Option.match({ onNone: () => start, onSome: cursorOf })
  )

/**
 * The log after `options.after` in page-sized batches: one `readAll` page per
 * batch, read from the cursor of the batch before. A page shorter than the
 * page size is the end of the log for now: the stream then ends (catching up)
 * or waits for a wake-up or the poll interval (live). A store failure is
 * retried on `options.retry` from the same cursor (nothing is yielded twice
 * or skipped); when the schedule gives up, the stream fails with it.
 *
 * Each page is read by a pull of its own, not by one long stream of the whole
 * log: a batch holds nothing of the batches before it (a stream retried as a
 * whole keeps every element it has passed alive until it ends, which makes a
 * long catch-up spend its time in the garbage collector).
 */
export const batches = (store: EventStore.Service, options: BatchOptions): Stream.Stream<Batch, ReadError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const checked = checkOptions("Subscription", options)
    if (Either.isLeft(checked)) return Stream.fail(checked.left)
    const readSide = store.readSide
    // Subscribe to wake-ups before the first read: an append that commits
    // after this point wakes the loop even if it lands between a read that
    // found nothing and the wait.
    const wakeups = options.live && readSide !== undefined ? yield* readSide.wakeups : undefined
    const retried = <A>(effect: Effect.Effect<A, ReadError>) =>
      Effect.retry(effect, { schedule: options.retry, while: (error) => error instanceof StoreUnavailable })
    let cursor: Cursor = options.after === "end"
      ? yield* retried(readSide !== undefined ? readSide.end : endByReading(store))
      : options.after
    const keep = predicate(options)
    const pageSize = options.pageSize
    const filter = { streamPrefix: options.streamPrefix, types: options.types, pageSize }
    const wait: Effect.Effect<void> = wakeups === undefined
      ? Effect.sleep(options.pollInterval)
      : Effect.zipRight(
        Effect.raceFirst(Queue.take(wakeups), Effect.sleep(options.pollInterval)),
        Queue.takeAll(wakeups) // coalesce the wake-ups that piled up
      )
    /** One page after the cursor: the store's page read, or the first `pageSize` events of its `readAll`. */
    const readPage = readSide?.page !== undefined && readSide.page.of === store.readAll ? readSide.page.read : undefined
    const page = retried(Effect.suspend(() =>
      readPage !== undefined
        ? readPage(cursor, filter)
        : Stream.runCollect(Stream.take(readAfter(store, cursor, filter), pageSize))
    ))
    // after a short page: end (catching up) or wait, then read again (live)
    let atEnd = false
    const next: Effect.Effect<Batch, Option.Option<ReadError>> = Effect.suspend(() => {
      if (atEnd && !options.live) return Effect.fail(Option.none())
      const read = atEnd ? Effect.zipRight(wait, page) : page
      return Effect.matchEffect(read, {
        onFailure: (error) => Effect.fail(Option.some(error)),
        onSuccess: (raw) => {
          atEnd = Chunk.size(raw) < pageSize
          if (Chunk.isEmpty(raw)) return next
          const last = Chunk.unsafeLast(raw)
          cursor = cursorOf(last)
          return Effect.succeed({ events: keep === undefined ? raw : Chunk.filter(raw, keep), cursor, position: last.position })
        }
      })
    })
    return Stream.repeatEffectOption(next)
  }))

/** Resolves the public options against a store. */
export const resolveBatchOptions = (
  store: EventStore.Service,
  options: Filter & {
    readonly from?: Cursor | "start" | "end" | undefined
    readonly pageSize?: number | undefined
    readonly pollInterval?: Duration.DurationInput | undefined
    readonly retry?: Schedule.Schedule<unknown, unknown> | undefined
  },
  live: boolean
): BatchOptions => ({
  after: options.from === undefined || options.from === "start" ? start : options.from,
  pageSize: options.pageSize ?? defaultPageSize,
  streamPrefix: options.streamPrefix,
  types: options.types,
  live,
  pollInterval: options.pollInterval !== undefined
    ? Duration.decode(options.pollInterval)
    : store.readSide?.pollInterval ?? defaultPollInterval,
  retry: options.retry ?? defaultRetry
})
