/**
 * Keyset-paged reads shared by the SQL backends. A backend supplies three page
 * queries returning raw rows; this module turns them into the lazy `read` and
 * `readAll` streams of the `EventStore` contract, with the same argument checks,
 * cursor arithmetic and end-of-stream rule (a short page is the last one).
 */
import { Chunk, Effect, Either, Metric, Option, Stream } from "effect"
import type { EventId, StoredEvent } from "../Event.ts"
import type { EventStore } from "../EventStore.ts"
import { rowsFetched } from "../EventStore.ts"
import type { StoreUnavailable } from "../StoreError.ts"
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
 * `position` may come back as a number, a bigint or a numeric string;
 * `recorded_at` as epoch milliseconds. A backend whose log is ordered by
 * transaction (PostgreSQL) adds the transaction id as one more, last, column;
 * the events' cursors then carry it.
 */
export interface PageQueries {
  readonly forward: (streamId: StreamId, cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
  readonly backward: (streamId: StreamId, cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
  readonly all: (cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
}

/**
 * The cursor of a row: its position, or, when the backend adds a transaction id
 * column after the others (PostgreSQL), the transaction id and the position.
 */
const cursorOf = (position: unknown, transaction: unknown): Cursor =>
  transaction === undefined ? ofPosition(Number(position)) : ofTransaction(String(transaction), Number(position))

const toStreamEvents = (streamId: StreamId, rows: ReadonlyArray<Row>): Chunk.Chunk<StoredEvent> => {
  const out = new Array<StoredEvent>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    out[i] = {
      streamId,
      version: row[1] as number,
      position: Number(row[0]),
      cursor: cursorOf(row[0], row[7]),
      eventId: row[2] as EventId,
      type: row[3] as string,
      data: row[4] as string,
      metadata: row[5] as string,
      recordedAt: new Date(row[6] as number)
    }
  }
  return Chunk.unsafeFromArray(out)
}

/** Rows of the log (the `all` layout) as events. */
export const toLogEvents = (rows: ReadonlyArray<Row>): Chunk.Chunk<StoredEvent> => {
  const out = new Array<StoredEvent>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    out[i] = {
      streamId: row[1] as StreamId,
      version: row[2] as number,
      position: Number(row[0]),
      cursor: cursorOf(row[0], row[8]),
      eventId: row[3] as EventId,
      type: row[4] as string,
      data: row[5] as string,
      metadata: row[6] as string,
      recordedAt: new Date(row[7] as number)
    }
  }
  return Chunk.unsafeFromArray(out)
}

/**
 * Pages fetched one at a time as the consumer pulls: `next` computes the cursor
 * after a full page from its last event; a short (or empty) page ends the stream.
 */
const pages = (
  start: number,
  pageSize: number,
  fetchPage: (cursor: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>,
  toEvents: (rows: ReadonlyArray<Row>) => Chunk.Chunk<StoredEvent>,
  next: (last: StoredEvent) => number
): Stream.Stream<StoredEvent, StoreUnavailable> =>
  Stream.paginateChunkEffect(start, (cursor) =>
    Effect.flatMap(fetchPage(cursor), (rows) => {
      const chunk = toEvents(rows)
      const last = Chunk.last(chunk)
      const more = Chunk.size(chunk) < pageSize || Option.isNone(last) ? Option.none() : Option.some(next(last.value))
      return Effect.as(Metric.incrementBy(rowsFetched, rows.length), [chunk, more] as const)
    }))

/** `read` and `readAll` of the `EventStore` contract over a backend's page queries. */
export const keysetReads = (queries: PageQueries): Pick<EventStore.Service, "read" | "readAll"> => ({
  read: (streamId, options) =>
    Either.match(resolveRead(options), {
      onLeft: (error) => Stream.fail(error),
      onRight: ({ direction, from, pageSize }) => {
        const toEvents = (rows: ReadonlyArray<Row>) => toStreamEvents(streamId, rows)
        return direction === "forward"
          ? pages(
            Math.max(from ?? 1, 1),
            pageSize,
            (cursor) => queries.forward(streamId, cursor, pageSize),
            toEvents,
            (last) => last.version + 1
          )
          : pages(
            from ?? Number.MAX_SAFE_INTEGER,
            pageSize,
            (cursor) => cursor < 1 ? Effect.succeed([]) : queries.backward(streamId, cursor, pageSize),
            toEvents,
            (last) => last.version - 1
          )
      }
    }),
  readAll: (options) =>
    Either.match(resolveReadAllByPosition(options), {
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
