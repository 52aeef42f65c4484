/**
 * PostgreSQL appends under concurrent writers (issue #15, adr/0012): single-event
 * appends to distinct streams by 1, 8 and 32 writers, eventfold against the raw
 * driver (`pg` INSERT of the same row, autocommit) on the same server made
 * durable (`fsync`, `synchronous_commit`, `full_page_writes` on). Reports
 * appends/s, p99 latency, and, for eventfold, the lag of a tailing reader
 * (`readAll` resumed from its cursor in a loop) behind each event's append
 * (p50, p99).
 *
 *   npx tsx test/bench/pgWriters.ts            # or as part of npm run bench
 *   BENCH_WRITERS_SECONDS=10 npx tsx test/bench/pgWriters.ts
 */
import { Chunk, Context, Effect, Layer, Redacted, Stream } from "effect"
import type { Event } from "eventfold"
import { Cursor, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import pg from "pg"
import { createBenchDatabase, startPgServer, withClient } from "./pgServer.ts"

export interface WritersResult {
  readonly writers: number
  readonly raw: number
  readonly eventfold: number
  readonly rawP99: number
  readonly eventfoldP99: number
  readonly lagP50: number
  readonly lagP99: number
}

const seconds = Number(process.env["BENCH_WRITERS_SECONDS"] ?? "5")

const quantile = (values: Array<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const eventData = (n: number): Event.EventData => ({
  eventId: crypto.randomUUID() as Event.EventId,
  type: "Deposited",
  data: JSON.stringify({ amount: n }),
  metadata: "{}"
})

const rawTable = `CREATE TABLE IF NOT EXISTS raw_events (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream_id text NOT NULL, version integer NOT NULL, event_id uuid NOT NULL UNIQUE, type text NOT NULL,
  data jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL, UNIQUE (stream_id, version))`

const runRaw = async (url: string, writers: number): Promise<{ rate: number; p99: number }> => {
  const pool = new pg.Pool({ connectionString: url, max: writers })
  await pool.query(rawTable)
  const latencies: Array<number> = []
  let count = 0
  const deadline = Date.now() + seconds * 1000
  const run = `r${Date.now().toString(36)}`
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let version = 1; Date.now() < deadline; version++) {
      const e = eventData(version)
      const start = performance.now()
      await pool.query(
        "INSERT INTO raw_events (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, now())",
        [`${run}-${w}`, version, e.eventId, e.type, e.data, e.metadata]
      )
      latencies.push(performance.now() - start)
      count++
    }
  }))
  await pool.end()
  return { rate: count / seconds, p99: quantile(latencies, 0.99) }
}

const runEventfold = (url: string, writers: number) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(PgEventStore.layer({ url: Redacted.make(url), maxConnections: writers + 1 }))
    const store = Context.get(context, EventStore.EventStore)
    const run = `e${Date.now().toString(36)}`
    // start the reader at the current end of the log
    let cursor = Cursor.start
    yield* Stream.runForEach(store.readAll({ pageSize: 1000 }), (e) => Effect.sync(() => { cursor = e.cursor }))
    const latencies: Array<number> = []
    const lags: Array<number> = []
    let count = 0
    let stop = false
    const deadline = Date.now() + seconds * 1000
    const writer = (w: number) =>
      Effect.gen(function*() {
        for (let version = 0; Date.now() < deadline; version++) {
          const start = performance.now()
          yield* store.append({
            streamId: StreamId.unsafeMake(`${run}-${w}`),
            expected: ExpectedVersion.unsafeExact(version),
            events: [eventData(version)]
          })
          latencies.push(performance.now() - start)
          count++
        }
      })
    const reader = Effect.gen(function*() {
      while (!stop) {
        const page = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ after: cursor, pageSize: 1000 })))
        const now = Date.now()
        for (const e of page) lags.push(now - e.recordedAt.getTime())
        if (page.length > 0) cursor = page[page.length - 1]!.cursor
        else yield* Effect.sleep("10 millis")
      }
    })
    const tail = yield* Effect.fork(reader)
    yield* Effect.forEach(Array.from({ length: writers }, (_, w) => w), writer, { concurrency: "unbounded", discard: true })
    stop = true
    yield* tail.await
    return { rate: count / seconds, p99: quantile(latencies, 0.99), lagP50: quantile(lags, 0.5), lagP99: quantile(lags, 0.99) }
  }))

/** Runs the writer cases on the bench server at `adminUrl` (made durable for the run). */
export const runPgWriters = async (adminUrl: string, log: (line: string) => void): Promise<Array<WritersResult>> => {
  await withClient(adminUrl, async (client) => {
    await client.query("ALTER SYSTEM SET fsync = on")
    await client.query("ALTER SYSTEM SET synchronous_commit = on")
    await client.query("ALTER SYSTEM SET full_page_writes = on")
    await client.query("SELECT pg_reload_conf()")
  })
  const db = await createBenchDatabase(adminUrl)
  try {
    const settings = await withClient(db.url, (client) =>
      client.query("SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc"))
    log(`durability: ${JSON.stringify(settings.rows[0])}; ${seconds} s per case`)
    const results: Array<WritersResult> = []
    for (const writers of [1, 8, 32]) {
      const raw = await runRaw(db.url, writers)
      const ef = await Effect.runPromise(runEventfold(db.url, writers))
      const result = {
        writers,
        raw: raw.rate,
        eventfold: ef.rate,
        rawP99: raw.p99,
        eventfoldP99: ef.p99,
        lagP50: ef.lagP50,
        lagP99: ef.lagP99
      }
      log(
        `writers ${writers}: raw ${raw.rate.toFixed(0)}/s (p99 ${raw.p99.toFixed(1)} ms), eventfold ${ef.rate.toFixed(0)}/s ` +
          `(p99 ${ef.p99.toFixed(1)} ms, ${(ef.rate / raw.rate).toFixed(2)} of raw), reader lag p50 ${ef.lagP50} ms p99 ${ef.lagP99} ms`
      )
      results.push(result)
    }
    return results
  } finally {
    await db.drop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startPgServer()
  try {
    await runPgWriters(server.url, (line) => console.log(line))
  } finally {
    await server.stop()
  }
}
