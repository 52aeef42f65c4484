/**
 * Measurements behind adr/0003-postgres-reads.md and adr/0004-global-order.md.
 * Not part of the test run (the file does not end in `.test.ts`).
 *
 *   DATABASE_URL=postgres://user:pass@host:port/db npx tsx test/postgres/pg.bench.ts
 *
 * Works in a fresh schema of that database (dropped at the end):
 * 1. reads of one 100,000-event stream: keyset pages (`PgEventStore.read`, several
 *    page sizes) against `@effect/sql-pg`'s cursor stream (`sql.stream`, pg-cursor,
 *    128-row batches) of the same rows, and raw `pg-cursor` as a floor;
 * 2. `readAll` over the same 100,000 events;
 * 3. appends of one event to distinct streams from 1, 8 and 32 fibers: the store
 *    (serialized by its append lock) against the same transaction without the lock.
 * Sizes: BENCH_PG_EVENTS (default 100000), BENCH_PG_APPENDS (default 2000).
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Chunk, Clock, Config, Context, Effect, Layer, Redacted, Stream } from "effect"
import { EventStore, ExpectedVersion, StreamId } from "eventfold"
import type { Event } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { createRequire } from "node:module"

/** `url` whose connections use `schema` (as ./support.ts does; that module needs vitest). */
const withSearchPath = (url: string, schema: string): string => {
  const parsed = new URL(url)
  parsed.searchParams.set("options", `-c search_path=${schema}`)
  return parsed.toString()
}

const envInt = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const events = envInt("BENCH_PG_EVENTS", 100_000)
const appends = envInt("BENCH_PG_APPENDS", 2_000)
const runs = 3

interface CursorLike {
  read(rows: number, cb: (err: Error | undefined, rows: Array<unknown>) => void): void
  close(cb: () => void): void
}
interface RawClient {
  connect(): Promise<void>
  query(q: unknown): CursorLike
  end(): Promise<void>
}
const require = createRequire(import.meta.url)
const pg = require("pg") as { Client: new (o: { connectionString: string }) => RawClient }
const Cursor = require("pg-cursor") as new (text: string, values: Array<unknown>, o?: { rowMode: "array" }) => CursorLike

const report = (label: string, count: number, ms: number) =>
  console.log(`${label.padEnd(58)} ${String(Math.round(ms)).padStart(6)} ms  ${String(Math.round(count / ms * 1000)).padStart(9)} events/s`)

/** Best of `runs` wall-clock times of `self`, which returns how many events it handled. */
const best = <E, R>(label: string, self: Effect.Effect<number, E, R>) =>
  Effect.gen(function*() {
    let fastest = Number.POSITIVE_INFINITY
    let count = 0
    for (let i = 0; i < runs; i++) {
      const start = performance.now()
      count = yield* self
      fastest = Math.min(fastest, performance.now() - start)
    }
    report(label, count, fastest)
  })

const countChunks = <E, R>(stream: Stream.Stream<unknown, E, R>) =>
  Stream.runFold(Stream.chunks(stream), 0, (n, chunk) => n + Chunk.size(chunk))

const rawCursor = (url: string, text: string, values: Array<unknown>, batch: number) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const cursor = client.query(new Cursor(text, values, { rowMode: "array" }))
    let n = 0
    for (;;) {
      const rows = await new Promise<Array<unknown>>((resolve, reject) =>
        cursor.read(batch, (err, rows) => err ? reject(err) : resolve(rows))
      )
      if (rows.length === 0) break
      n += rows.length
    }
    await new Promise<void>((resolve) => cursor.close(resolve))
    await client.end()
    return n
  })

const streamSql = `SELECT position, version, event_id, type, data::text, metadata::text,
  floor(extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_at FROM eventfold_events WHERE stream_id = $1 ORDER BY version`

const program = Effect.gen(function*() {
  const adminUrl = Redacted.value(yield* Config.redacted("DATABASE_URL"))
  const schema = `bench_${Math.random().toString(36).slice(2, 8)}`
  const url = withSearchPath(adminUrl, schema)
  const admin = yield* Layer.build(PgClient.layer({ url: Redacted.make(adminUrl) })).pipe(Effect.map(Context.get(SqlClient.SqlClient)))
  yield* admin.unsafe(`CREATE SCHEMA ${schema}`).raw
  yield* Effect.addFinalizer(() => Effect.orDie(admin.unsafe(`DROP SCHEMA ${schema} CASCADE`).raw))

  const context = yield* Layer.build(
    PgEventStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 16 })))
  )
  const store = Context.get(context, EventStore.EventStore)
  const sql = Context.get(context, SqlClient.SqlClient)

  const streamId = StreamId.unsafeMake("bench-read")
  const started = performance.now()
  for (let written = 0; written < events; written += 5_000) {
    const batch: Array<Event.EventData> = []
    for (let i = written; i < Math.min(written + 5_000, events); i++) {
      batch.push({ eventId: crypto.randomUUID() as Event.EventId, type: "Deposited", data: `{"amount":${i % 100}}`, metadata: "{}" })
    }
    yield* store.append({ streamId, expected: ExpectedVersion.any, events: batch })
  }
  report(`setup: append ${events} events in batches of 5,000`, events, performance.now() - started)
  yield* admin.unsafe(`ANALYZE ${schema}.eventfold_events`).raw

  console.log(`\nread of one ${events}-event stream (best of ${runs})`)
  for (const pageSize of [128, 256, 1000, 5000]) {
    yield* best(`keyset pages: PgEventStore.read pageSize ${pageSize}`, countChunks(store.read(streamId, { pageSize })))
  }
  yield* best(
    "cursor: sql.unsafe(...).stream (pg-cursor, 128-row batches)",
    countChunks(sql.unsafe<Record<string, unknown>>(streamSql, [streamId]).stream.pipe(
      Stream.mapChunks((rows) =>
        Chunk.map(rows, (row) => ({
          streamId,
          version: row["version"] as number,
          position: Number(row["position"]),
          eventId: row["event_id"] as string,
          type: row["type"] as string,
          data: row["data"] as string,
          metadata: row["metadata"] as string,
          recordedAt: new Date(row["recorded_at"] as number)
        }))
      )
    ))
  )
  for (const batch of [128, 1000]) {
    yield* best(`raw pg + pg-cursor, array rows, batch ${batch}`, rawCursor(url, streamSql, [streamId], batch))
  }

  console.log(`\nreadAll over ${events} events (best of ${runs})`)
  for (const pageSize of [256, 1000]) {
    yield* best(`keyset pages: PgEventStore.readAll pageSize ${pageSize}`, countChunks(store.readAll({ pageSize })))
  }

  console.log(`\n${appends} appends of one event, each to its own stream, pool of 16 (best of ${runs})`)
  const event = (i: number): Event.EventData => ({
    eventId: crypto.randomUUID() as Event.EventId,
    type: "Deposited",
    data: `{"amount":${i}}`,
    metadata: "{}"
  })
  // The store's transaction without the append lock (what adr/0004 rejects).
  const unlocked = (streamId: StreamId.StreamId, data: Event.EventData) =>
    sql.withTransaction(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const [head] = yield* sql.unsafe(
        `SELECT coalesce(max(version), 0) FROM eventfold_events WHERE stream_id = $1`,
        [streamId]
      ).values
      yield* sql.unsafe(
        `INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7)`,
        [streamId, (head![0] as number) + 1, data.eventId, data.type, data.data, data.metadata, new Date(now)]
      ).raw
    }))
  let round = 0
  for (const concurrency of [1, 8, 32]) {
    yield* best(
      `PgEventStore.append (append lock), ${concurrency} fibers`,
      Effect.as(
        Effect.forEach(
          Array.from({ length: appends }, (_, i) => i),
          (i) => store.append({ streamId: StreamId.unsafeMake(`s-${++round}-${i}`), expected: ExpectedVersion.noStream, events: [event(i)] }),
          { concurrency, discard: true }
        ),
        appends
      )
    )
    yield* best(
      `same transaction without the lock, ${concurrency} fibers`,
      Effect.as(
        Effect.forEach(
          Array.from({ length: appends }, (_, i) => i),
          (i) => unlocked(StreamId.unsafeMake(`u-${++round}-${i}`), event(i)),
          { concurrency, discard: true }
        ),
        appends
      )
    )
  }
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
