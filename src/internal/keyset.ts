/**
 * Keyset-paged reads shared by the SQL backends. A backend supplies three page
 * queries returning raw rows; this module turns them into the lazy `read` and
 * `readAll` streams of the `EventStore` contract, with the same argument checks,
 * cursor arithmetic and end-of-stream rule (a short page is the last one).
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { EventId, StoredEvent } from "../Event.ts"
import type { EventStore } from "../EventStore.ts"
import { defaultPageSize, rowsFetched } from "../EventStore.ts"
import { EventDecodeError } from "../StoreError.ts"
import type { InvalidArgument, StoreUnavailable } from "../StoreError.ts"
import type { StreamId } from "../StreamId.ts"
import type { Cursor } from "../Cursor.ts"
import { ofPosition, ofTransaction } from "./cursor.ts"
import { resolveRead, resolveReadAllByPosition } from "./validate.ts"

/** One row as the driver returns it with `.values`: columns in SELECT order. */
export type Row = ReadonlyArray<unknown>

/**
 * The page queries of a backend.
 *
 * - `forward` / `backward`: rows `position, version, event_id, type, data,
 *   metadata, recorded_at` of `streamId`, at most `pageSize` of them, from
 *   version `cursor` up (forward) or down (backward, `cursor >= 1`).
 * - `all`: rows `position, stream_id, version, event_id, type, data, metadata,
 *   recorded_at` of the log after position `cursor` (exclusive), at most `pageSize`.
 *
 * With `forwardLookahead`, `forward` returns one more row when there is one: the
 * first row of the stream after the page's `pageSize` versions (a backend whose
 * pages are version ranges needs it to tell the end of a stream from a gap).
 *
 * `position` may come back as a number, a bigint or a numeric string;
 * `recorded_at` as epoch milliseconds. A backend whose log is ordered by
 * transaction (PostgreSQL) adds the transaction id as one more, last, column;
 * the events' cursors then carry it.
 */
export interface PageQueries {
  readonly forward: (streamId: StreamId, cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
  readonly forwardLookahead?: boolean
  readonly backward: (streamId: StreamId, cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
  readonly all: (cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
  /**
   * Rows `version, type, data, position` of `streamId`, as `forward` (the same
   * versions, the same lookahead row): what the Executor's fold needs of each
   * event and no more (see {@link FoldReader}).
   */
  readonly fold: (streamId: StreamId, cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
}

/**
 * The cursor of a row: its position, or, when the backend adds a transaction id
 * column after the others (PostgreSQL), the transaction id and the position.
 */
const cursorOf = (position: unknown, transaction: unknown): Cursor =>
  transaction === undefined ? ofPosition(Number(position)) : ofTransaction(String(transaction), Number(position))

/**
 * A row the store itself finds corrupt (a timestamp that is not one, a version
 * that is not a positive integer, a gap in a stream's versions): a typed error
 * naming the row, never an `Invalid Date` or a silently short stream.
 */
const corrupt = (streamId: StreamId, version: unknown, position: unknown, type: unknown, reason: string) =>
  new EventDecodeError({
    streamId,
    version: typeof version === "number" ? version : Number(version),
    position: Number(position),
    type: typeof type === "string" ? type : String(type),
    cause: new Error(`corrupt stored row: ${reason}`)
  })

/** The largest time a JavaScript Date holds, in milliseconds from the epoch. */
const maxDateMs = 8.64e15

/** `recorded_at` as epoch milliseconds (a number, or a bigint) to a valid Date, or undefined. */
const toDate = (value: unknown): Date | undefined => {
  const ms = typeof value === "bigint" ? Number(value) : value
  return typeof ms === "number" && Number.isFinite(ms) && Math.abs(ms) <= maxDateMs ? new Date(ms) : undefined
}

const isVersion = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 1

/**
 * Rows of one stream to events. `expected` is the version the first row must
 * have (undefined when any is fine: the first page of a backward read from the
 * end); `step` is +1 (forward) or -1 (backward): versions are dense, so any
 * other difference is a gap in the stored rows.
 */
const toStreamEvents = (
  streamId: StreamId,
  rows: ReadonlyArray<Row>,
  expected: number | undefined,
  step: 1 | -1
): Either.Either<Chunk.Chunk<StoredEvent>, EventDecodeError> => {
  const out = new Array<StoredEvent>(rows.length)
  let next = expected
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    const version = row[1]
    if (!isVersion(version)) return Either.left(corrupt(streamId, version, row[0], row[3], `version ${String(version)} is not a positive integer`))
    if (next !== undefined && version !== next) {
      return Either.left(corrupt(streamId, version, row[0], row[3], `version gap: expected version ${next}, found ${version}`))
    }
    const recordedAt = toDate(row[6])
    if (recordedAt === undefined) {
      return Either.left(corrupt(streamId, version, row[0], row[3], `recorded_at ${JSON.stringify(String(row[6]))} is not a time`))
    }
    next = version + step
    out[i] = {
      streamId,
      version,
      position: Number(row[0]),
      cursor: cursorOf(row[0], row[7]),
      eventId: row[2] as EventId,
      type: row[3] as string,
      data: row[4] as string,
      metadata: row[5] as string,
      recordedAt
    }
  }
  return Either.right(Chunk.unsafeFromArray(out))
}

export const toLogEvents = (rows: ReadonlyArray<Row>): Either.Either<Chunk.Chunk<StoredEvent>, EventDecodeError> => {
  const out = new Array<StoredEvent>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    const streamId = row[1] as StreamId
    const version = row[2]
    if (!isVersion(version)) return Either.left(corrupt(streamId, version, row[0], row[4], `version ${String(version)} is not a positive integer`))
    const recordedAt = toDate(row[7])
    if (recordedAt === undefined) {
      return Either.left(corrupt(streamId, version, row[0], row[4], `recorded_at ${JSON.stringify(String(row[7]))} is not a time`))
    }
    out[i] = {
      streamId,
      version,
      position: Number(row[0]),
      cursor: cursorOf(row[0], row[8]),
      eventId: row[3] as EventId,
      type: row[4] as string,
      data: row[5] as string,
      metadata: row[6] as string,
      recordedAt
    }
  }
  return Either.right(Chunk.unsafeFromArray(out))
}

/**
 * Pages fetched one at a time as the consumer pulls: `next` computes the cursor
 * after a full page from its last event; a short (or empty) page ends the stream.
 * With `lookahead` a page may carry one row more, the first of the next page: it
 * has been checked with the page (so a gap right after the page is found) and is
 * dropped here (the next page starts with it); a full page without it is the end.
 */
const pages = (
  start: number,
  pageSize: number,
  fetchPage: (cursor: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>,
  toEvents: (rows: ReadonlyArray<Row>, cursor: number) => Either.Either<Chunk.Chunk<StoredEvent>, EventDecodeError>,
  next: (last: StoredEvent) => number,
  atEnd: (last: StoredEvent) => EventDecodeError | undefined = () => undefined,
  lookahead = false
): Stream.Stream<StoredEvent, StoreUnavailable | EventDecodeError> =>
  Stream.paginateChunkEffect(start, (cursor) =>
    Effect.flatMap(fetchPage(cursor), (rows) => {
      const converted = toEvents(rows, cursor)
      if (Either.isLeft(converted)) return Effect.fail(converted.left)
      const ahead = lookahead && Chunk.size(converted.right) > pageSize
      const chunk = ahead ? Chunk.take(converted.right, pageSize) : converted.right
      const last = Chunk.last(chunk)
      if (Chunk.size(chunk) < pageSize && Option.isSome(last)) {
        const problem = atEnd(last.value)
        if (problem !== undefined) return Effect.fail(problem)
      }
      const full = Chunk.size(chunk) === pageSize && (ahead || !lookahead)
      const more = !full || Option.isNone(last) ? Option.none() : Option.some(next(last.value))
      return Effect.as(Metric.incrementBy(rowsFetched, Chunk.size(chunk)), [chunk, more] as const)
    }))

/**
 * The key of a store's optional first-page read (internal): the Executor reads
 * a stream's first page as one Effect and starts a `Stream` only when that page
 * is full (starting a `Stream` costs more than reading a short stream).
 */
export const FirstPageTypeId: unique symbol = Symbol.for("eventfold/internal/FirstPage")

/** The first page of a forward read of a stream from version 1, and the rest (`undefined` when that page was short). */
export interface FirstPage {
  readonly page: Chunk.Chunk<StoredEvent>
  readonly rest: Stream.Stream<StoredEvent, StoreUnavailable | EventDecodeError> | undefined
}

/** A store that can read a first page without a `Stream`. */
export interface FirstPageReader {
  readonly [FirstPageTypeId]: (
    streamId: StreamId,
    pageSize: number | undefined
  ) => Effect.Effect<FirstPage, StoreUnavailable | EventDecodeError | InvalidArgument>
}

/** Whether a store has a first-page read. */
export const hasFirstPage = (store: object): store is FirstPageReader =>
  typeof (store as Partial<FirstPageReader>)[FirstPageTypeId] === "function"

/**
 * The key of a store's fold read (internal): the Executor folds a stream from
 * version 1 with it when the store has one, reading of each event only what a
 * fold uses (version, type, data; the position for a decode error), as the
 * driver returns it: no `StoredEvent`, `Date` or cursor is built per row.
 */
export const FoldReadTypeId: unique symbol = Symbol.for("eventfold/internal/FoldRead")

/**
 * One page of a fold read: `rows` are `version, type, data, position`, of which
 * the first `count` belong to the page (a lookahead row after them, if any, is
 * checked and left for the next page); versions are checked dense from the
 * page's first. `next` is the first version of the next page, `undefined` at the
 * end of the stream.
 */
export interface FoldPage {
  readonly rows: ReadonlyArray<Row>
  readonly count: number
  readonly next: number | undefined
}

/** A store that can read a stream for a fold (see {@link FoldReadTypeId}). */
export interface FoldReader {
  /** After the page size is checked: the page of `streamId` from version `from`. */
  readonly [FoldReadTypeId]: (
    streamId: StreamId,
    pageSize: number | undefined
  ) => Either.Either<(from: number) => Effect.Effect<FoldPage, StoreUnavailable | EventDecodeError>, InvalidArgument>
}

/** Whether a store has a fold read. */
export const hasFoldRead = (store: object): store is FoldReader =>
  typeof (store as Partial<FoldReader>)[FoldReadTypeId] === "function"

/** The fold read over a backend's `fold` query: the versions checked, the lookahead row kept out of the count. */
const foldReader = (
  fold: PageQueries["fold"],
  lookahead: boolean,
  storePageSize: number
): FoldReader[typeof FoldReadTypeId] =>
(streamId, requested) =>
  Either.map(
    resolveRead(streamId, requested === undefined ? undefined : { pageSize: requested }, storePageSize),
    ({ pageSize }) => (from: number) =>
      Effect.flatMap(fold(streamId, from, pageSize), (rows): Effect.Effect<FoldPage, EventDecodeError> => {
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!
          const version = row[0]
          if (!isVersion(version)) {
            return Effect.fail(corrupt(streamId, version, row[3], row[1], `version ${String(version)} is not a positive integer`))
          }
          if (version !== from + i) {
            return Effect.fail(corrupt(streamId, version, row[3], row[1], `version gap: expected version ${from + i}, found ${version}`))
          }
        }
        const ahead = lookahead && rows.length > pageSize
        const count = ahead ? pageSize : rows.length
        const full = count === pageSize && (ahead || !lookahead)
        return Effect.as(Metric.incrementBy(rowsFetched, count), { rows, count, next: full ? from + count : undefined })
      })
  )

/** `read` and `readAll` of the `EventStore` contract over a backend's page queries, the first-page read and the fold read. */
export const keysetReads = (
  queries: PageQueries,
  storePageSize: number = defaultPageSize
): Pick<EventStore.Service, "read" | "readAll"> & FirstPageReader & FoldReader => ({
  [FoldReadTypeId]: foldReader(queries.fold, queries.forwardLookahead === true, storePageSize),
  [FirstPageTypeId]: (streamId, requested) =>
    Either.match(resolveRead(streamId, requested === undefined ? undefined : { pageSize: requested }, storePageSize), {
      onLeft: (error) => Effect.fail(error),
      onRight: ({ pageSize }) =>
        Effect.flatMap(queries.forward(streamId, 1, pageSize), (rows) => {
          // the lookahead row (if any) is checked with the page, then dropped, as in `pages`
          const converted = toStreamEvents(streamId, rows, 1, 1)
          if (Either.isLeft(converted)) return Effect.fail(converted.left)
          const lookahead = queries.forwardLookahead === true
          const ahead = lookahead && Chunk.size(converted.right) > pageSize
          const page = ahead ? Chunk.take(converted.right, pageSize) : converted.right
          const full = Chunk.size(page) === pageSize && (ahead || !lookahead)
          const rest = !full ? undefined : pages(
            pageSize + 1,
            pageSize,
            (cursor) => queries.forward(streamId, cursor, pageSize),
            (more, cursor) => toStreamEvents(streamId, more, cursor, 1),
            (last) => last.version + 1,
            undefined,
            lookahead
          )
          return Effect.as(Metric.incrementBy(rowsFetched, Chunk.size(page)), { page, rest })
        })
    }),
  read: (streamId, options) =>
    Either.match(resolveRead(streamId, options, storePageSize), {
      onLeft: (error) => Stream.fail(error),
      onRight: ({ direction, from, pageSize }) => {
        if (direction === "forward") {
          // a forward page starts exactly at its cursor, unless the stream ends before it
          return pages(
            Math.max(from ?? 1, 1),
            pageSize,
            (cursor) => queries.forward(streamId, cursor, pageSize),
            (rows, cursor) => toStreamEvents(streamId, rows, cursor, 1),
            (last) => last.version + 1,
            undefined,
            queries.forwardLookahead === true
          )
        }
        const start = from ?? Number.MAX_SAFE_INTEGER
        // a backward read starts at min(from, head); later pages continue one below the last
        return pages(
          start,
          pageSize,
          (cursor) => cursor < 1 ? Effect.succeed([]) : queries.backward(streamId, cursor, pageSize),
          (rows, cursor) => toStreamEvents(streamId, rows, cursor === start ? undefined : cursor, -1),
          (last) => last.version - 1,
          // a backward read ends at version 1: ending above it means the rows below are missing
          (last) =>
            last.version === 1
              ? undefined
              : corrupt(streamId, last.version - 1, last.position, last.type, `version gap: version ${last.version - 1} is missing`)
        )
      }
    }),
  readAll: (options) =>
    Either.match(resolveReadAllByPosition(options, storePageSize), {
      onLeft: (error) => Stream.fail(error),
      onRight: ({ after, pageSize }) =>
        pages(
          after,
          pageSize,
          (cursor) => queries.all(cursor, pageSize),
          toLogEvents,
          (last) => last.position
        )
    })
})
