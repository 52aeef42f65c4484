/**
 * PostgreSQL appends under concurrent writers (issue #15, adr/0012): single-event
 * appends to distinct streams by 1, 8 and 32 writers, eventfold against the raw
 * driver (`pg` INSERT of the same row, autocommit) on the same server: the
 * embedded test server (fsync off) and an embedded durable one (`fsync`,
 * `synchronous_commit`, `full_page_writes` on), or only the server at
 * `EVENTFOLD_TEST_PG_URL` when it is set. Reports
 * appends/s, p99 latency, and, for eventfold, the lag of a tailing reader
 * (`readAll` resumed from its cursor in a loop) behind each event's append
 * (p50, p99).
 *
 *   npx tsx test/bench/pgWriters.ts            # or as part of npm run bench
 *   BENCH_WRITERS_SECONDS=10 npx tsx test/bench/pgWriters.ts
 *   BENCH_WRITERS=8,32 BENCH_WRITERS_NOTIFY=both npx tsx test/bench/pgWriters.ts   # also without the NOTIFY trigger
 *   BENCH_WRITERS_SERVERS=durable npx tsx test/bench/pgWriters.ts                  # one server only (fast, durable)
 *
 * eventfold's rate and p99 are measured without the reader (the raw side has
 * none), then once more with it for the lag: a reader in the writers' process
 * shares its event loop (a `readAll` round that returns nothing costs it
 * 2–5 ms of Effect `Stream` start-up, adr/0012).
 */
import { Chunk, Context, Effect, Layer, Redacted, Stream } from "effect"
import type { Event } from "eventfold"
import { Cursor, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import pg from "pg"
import { createBenchDatabase, startPgServer, withClient } from "./pgServer.ts"

export interface WritersResult {
  readonly durable: boolean
  readonly writers: number
  readonly raw: number
  readonly eventfold: number
  readonly rawP99: number
  readonly eventfoldP99: number
  /** eventfold's rate and p99 with the tailing reader running in the same process. */
  readonly withReader: number
  readonly withReaderP99: number
  readonly lagP50: number
  readonly lagP99: number
}

const seconds = Number(process.env["BENCH_WRITERS_SECONDS"] ?? "5")
/** The tailing reader's pause between two reads (ms). */
const readerPauseMs = Number(process.env["BENCH_READER_PAUSE_MS"] ?? "10")

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

const runEventfold = (url: string, writers: number, withReader: boolean) =>
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
        // a poller's pace: reading again at once after every page took the
        // writers' process's CPU (the reader runs in it), not the server's
        yield* Effect.sleep(`${readerPauseMs} millis`)
      }
    })
    const tail = yield* Effect.fork(withReader ? reader : Effect.void)
    yield* Effect.forEach(Array.from({ length: writers }, (_, w) => w), writer, { concurrency: "unbounded", discard: true })
    stop = true
    yield* tail.await
    return { rate: count / seconds, p99: quantile(latencies, 0.99), lagP50: quantile(lags, 0.5), lagP99: quantile(lags, 0.99) }
  }))

const writerCounts = (process.env["BENCH_WRITERS"] ?? "1,8,32").split(",").map((w) => Number(w.trim()))

/**
 * Runs the writer cases on the server at `adminUrl` (in a fresh database).
 * With `withoutNotify`, eventfold is also measured with the read side's NOTIFY
 * trigger (migration 3) disabled in that database, to show what the
 * notification costs at commit (a measurement only: live subscriptions need it).
 */
export const runPgWriters = async (
  adminUrl: string,
  log: (line: string) => void,
  options: { readonly withoutNotify?: boolean } = {}
): Promise<Array<WritersResult>> => {
  const db = await createBenchDatabase(adminUrl)
  try {
    const settings = await withClient(db.url, (client) =>
      client.query<{ fsync: string; sc: string }>(
        "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc"
      ))
    const row = settings.rows[0]!
    const durable = row.fsync === "on" && row.sc !== "off"
    log(`${durable ? "DURABLE" : "NOT durable"} server (fsync ${row.fsync}, synchronous_commit ${row.sc}); ${seconds} s per case`)
    const results: Array<WritersResult> = []
    for (const writers of writerCounts) {
      const raw = await runRaw(db.url, writers)
      // throughput and p99 without the reader (the raw side has none), then again with it, for its lag
      const ef = await Effect.runPromise(runEventfold(db.url, writers, false))
      const tailed = await Effect.runPromise(runEventfold(db.url, writers, true))
      const result: WritersResult = {
        durable,
        writers,
        raw: raw.rate,
        eventfold: ef.rate,
        rawP99: raw.p99,
        eventfoldP99: ef.p99,
        withReader: tailed.rate,
        withReaderP99: tailed.p99,
        lagP50: tailed.lagP50,
        lagP99: tailed.lagP99
      }
      log(
        `writers ${writers}: raw ${raw.rate.toFixed(0)}/s (p99 ${raw.p99.toFixed(1)} ms), eventfold ${ef.rate.toFixed(0)}/s ` +
          `(p99 ${ef.p99.toFixed(1)} ms, ${(ef.rate / raw.rate).toFixed(2)} of raw); with a tailing reader in the process ` +
          `${tailed.rate.toFixed(0)}/s (p99 ${tailed.p99.toFixed(1)} ms), reader lag p50 ${tailed.lagP50} ms p99 ${tailed.lagP99} ms`
      )
      results.push(result)
    }
    if (options.withoutNotify === true) {
      await withClient(db.url, (client) => client.query("ALTER TABLE eventfold_events DISABLE TRIGGER eventfold_events_notify"))
      for (const writers of writerCounts) {
        const ef = await Effect.runPromise(runEventfold(db.url, writers, false))
        const raw = results.find((r) => r.writers === writers)!.raw
        log(
          `writers ${writers}, NOTIFY trigger disabled: eventfold ${ef.rate.toFixed(0)}/s (p99 ${ef.p99.toFixed(1)} ms, ` +
            `${(ef.rate / raw).toFixed(2)} of raw)`
        )
      }
    }
    return results
  } finally {
    await db.drop()
  }
}

/**
 * The bench part: on `EVENTFOLD_TEST_PG_URL` when it is set, else on two
 * embedded servers in turn, the fast test server (fsync off) and a durable one.
 */
export const runPgWritersPart = async (log: (line: string) => void): Promise<Array<WritersResult>> => {
  const results: Array<WritersResult> = []
  const servers = (process.env["BENCH_WRITERS_SERVERS"] ?? "fast,durable").split(",").map((k) => k.trim() === "durable")
  const durabilities = process.env["EVENTFOLD_TEST_PG_URL"] ? [undefined] : servers
  for (const durable of durabilities) {
    const server = await startPgServer(durable === undefined ? {} : { durable })
    try {
      results.push(...(await runPgWriters(server.url, log, { withoutNotify: process.env["BENCH_WRITERS_NOTIFY"] === "both" })))
    } finally {
      await server.stop()
    }
  }
  return results
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runPgWritersPart((line) => console.log(line))
}
