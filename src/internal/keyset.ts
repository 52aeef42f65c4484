/**
 * Keyset-paged reads shared by the SQL backends. A backend supplies three page
 * queries returning raw rows; this module turns them into the lazy `read` and
 * `readAll` streams of the `EventStore` contract, with the same argument checks,
 * cursor arithmetic and end-of-stream rule (a short page is the last one).
 */
import { Chunk, Effect, Either, Metric, Option, Stream } from "effect"
import type { EventId, StoredEvent } from "../Event.ts"
import type { EventStore } from "../EventStore.ts"
import { defaultPageSize, rowsFetched } from "../EventStore.ts"
import type { StoreUnavailable } from "../StoreError.ts"
import type { StreamId } from "../StreamId.ts"
import { resolveRead, resolveReadAll } from "./validate.ts"

/** One row as the driver returns it with `.values`: columns in SELECT order. */
export type Row = ReadonlyArray<unknown>

/**
 * The page queries of a backend.
 *
 * - `forward` / `backward`: rows `position, version, event_id, type, data,
 *   metadata, recorded_at` of `streamId`, at most `pageSize` of them, from
 *   version `cursor` up (forward) or down (backward, `cursor >= 1`).
 * - `all`: rows `position, stream_id, version, event_id, type, data, metadata,
 *   recorded_at` of the log from position `cursor`, at most `pageSize`.
 *
 * `position` may come back as a number, a bigint or a numeric string;
 * `recorded_at` as epoch milliseconds.
 */
export interface PageQueries {
  readonly forward: (streamId: StreamId, cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
  readonly backward: (streamId: StreamId, cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
  readonly all: (cursor: number, pageSize: number) => Effect.Effect<ReadonlyArray<Row>, StoreUnavailable>
}

const toStreamEvents = (streamId: StreamId, rows: ReadonlyArray<Row>): Chunk.Chunk<StoredEvent> => {
  const out = new Array<StoredEvent>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    out[i] = {
      streamId,
      version: row[1] as number,
      position: Number(row[0]),
      eventId: row[2] as EventId,
      type: row[3] as string,
      data: row[4] as string,
      metadata: row[5] as string,
      recordedAt: new Date(row[6] as number)
    }
  }
  return Chunk.unsafeFromArray(out)
}

const toLogEvents = (rows: ReadonlyArray<Row>): Chunk.Chunk<StoredEvent> => {
  const out = new Array<StoredEvent>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    out[i] = {
      streamId: row[1] as StreamId,
      version: row[2] as number,
      position: Number(row[0]),
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
export const keysetReads = (
  queries: PageQueries,
  storePageSize: number = defaultPageSize
): Pick<EventStore.Service, "read" | "readAll"> => ({
  read: (streamId, options) =>
    Either.match(resolveRead(streamId, options, storePageSize), {
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
    Either.match(resolveReadAll(options, storePageSize), {
      onLeft: (error) => Stream.fail(error),
      onRight: ({ fromPosition, pageSize }) =>
        pages(
          fromPosition,
          pageSize,
          (cursor) => queries.all(cursor, pageSize),
          toLogEvents,
          (last) => last.position + 1
        )
    })
})
