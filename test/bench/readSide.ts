/**
 * The read side in `npm run bench` (`BENCH_ONLY=readside`):
 *
 * - catch-up projection (case 7): `BENCH_EVENTS` events replayed through a
 *   projection that upserts one row per event into a SQL table, in batches of
 *   256 (one transaction per batch, with the checkpoint), against the raw
 *   driver doing the same page reads, upserts and checkpoint writes in the
 *   same batch size;
 * - live latency: from an append's commit (in another connection) to the
 *   projection handler seeing the event, over `BENCH_LIVE` appends (default
 *   1000) made every 5 ms: p50 and p99, on SQLite (polling at its default
 *   interval, 200 ms) and PostgreSQL (LISTEN/NOTIFY).
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import Database from "better-sqlite3"
import { Effect, Fiber, Layer, ManagedRuntime, Redacted, Schema, Stream } from "effect"
import type { Event } from "eventfold"
import { EventCodec, EventStore, ExpectedVersion, Projection, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"
import { join } from "node:path"
import pg from "pg"
import type { CaseResult, Sizes } from "./harness.ts"
import { compare, envInt, progress } from "./harness.ts"
import { createBenchDatabase, startPgServer } from "./pgServer.ts"

/**
 * A plain tagged struct, like the object the raw baseline gets from
 * `JSON.parse` (as in domain.ts: a `Schema.TaggedClass` would also construct
 * a class instance per event, which the sqlite part's case 1b measures).
 */
const Ticked = Schema.TaggedStruct("Ticked", { n: Schema.Number })
type Ticked = typeof Ticked.Type
const codec = EventCodec.make(Ticked)

const batchSize = 256
const streams = 1000

/** Latency percentiles of the live case, in milliseconds. */
export interface LiveResult {
  readonly backend: "sqlite" | "postgres"
  readonly appends: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

export interface ReadSideResult {
  readonly cases: Array<CaseResult>
  readonly live: Array<LiveResult>
}

type StoreAndClient = EventStore.EventStore | SqlClient.SqlClient

const seed = (events: number) =>
  Effect.gen(function*() {
    const store = yield* EventStore.typed(codec)
    for (let i = 0; i < events; i += 1000) {
      const n = Math.min(1000, events - i)
      yield* store.append({
        streamId: StreamId.unsafeMake(`tick-${(i / 1000) % streams}`),
        expected: ExpectedVersion.any,
        events: Array.from({ length: n }, (_, k) => Ticked.make({ n: i + k }))
      })
    }
  })

/** The upsert of both sides: the row of the event's stream counts its events. */
const upsertSql = "INSERT INTO bench_counts (stream_id, n) VALUES (?, 1) ON CONFLICT (stream_id) DO UPDATE SET n = bench_counts.n + 1"

/**
 * One upsert per event, through `Projection.executeEach` (one statement per
 * event on the batch's transaction, prepared once by the driver).
 */
const counting = (name: string) =>
  Projection.make({
    name,
    codec,
    handle: (events: ReadonlyArray<Event.RecordedEvent<Ticked>>) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Projection.executeEach(events, (event) =>
          sql`INSERT INTO bench_counts (stream_id, n) VALUES (${event.streamId}, 1) ON CONFLICT (stream_id) DO UPDATE SET n = bench_counts.n + 1`))
  })

const resetTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.zipRight(sql`DROP TABLE IF EXISTS bench_counts`, sql`CREATE TABLE bench_counts (stream_id TEXT PRIMARY KEY, n BIGINT NOT NULL)`))

const catchUp = (runtime: ManagedRuntime.ManagedRuntime<StoreAndClient, unknown>, events: number) => ({
  prepare: () => runtime.runPromise(resetTable).then(() => undefined),
  run: async () => {
    const started = performance.now()
    await runtime.runPromise(
      Stream.runDrain(Projection.rebuild(counting("bench"), { batchSize, reset: Effect.void }))
    )
    return { units: events, ms: performance.now() - started }
  }
})

/** Live latency: appends from a second instance every 5 ms; the projection handler notes when it sees each one. */
const live = async (
  backend: LiveResult["backend"],
  reader: ManagedRuntime.ManagedRuntime<StoreAndClient, unknown>,
  writer: ManagedRuntime.ManagedRuntime<StoreAndClient, unknown>,
  appends: number
): Promise<LiveResult> => {
  const committed = new Map<number, number>()
  // when the handler saw each event (it may see one before its append call returns)
  const seen = new Map<number, number>()
  let done: () => void = () => undefined
  const allSeen = new Promise<void>((resolve) => (done = resolve))
  const latency = Projection.make({
    name: "latency",
    codec,
    handle: (events: ReadonlyArray<Event.RecordedEvent<Ticked>>) =>
      Effect.sync(() => {
        const now = performance.now()
        for (const event of events) seen.set(event.data.n, now)
        if (seen.size >= appends) done()
      })
  })
  // start following from the end of the log
  const end = await reader.runPromise(Effect.flatMap(EventStore.EventStore, (store) => store.readSide!.end))
  await reader.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO eventfold_projections (name, cursor, position) VALUES ('latency', ${end}, 0)`))
  const fiber = reader.runFork(Projection.run(latency, { batchSize }))
  await new Promise((resolve) => setTimeout(resolve, 500))
  for (let i = 0; i < appends; i++) {
    await writer.runPromise(Effect.flatMap(EventStore.typed(codec), (store) =>
      store.append({ streamId: StreamId.unsafeMake("live"), expected: ExpectedVersion.any, events: [Ticked.make({ n: i })] })))
    committed.set(i, performance.now())
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await Promise.race([allSeen, new Promise((resolve) => setTimeout(resolve, 30_000))])
  await reader.runPromise(Fiber.interrupt(fiber))
  const latencies = Array.from(seen, ([n, at]) => Math.max(0, at - committed.get(n)!)).sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN
  const result = { backend, appends: latencies.length, p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] ?? Number.NaN }
  progress(`${backend} live latency: p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms over ${result.appends} appends`)
  return result
}

const sqliteStore = (filename: string) =>
  ManagedRuntime.make(SqliteEventStore.layerFromClient().pipe(Layer.provideMerge(SqliteEventStore.layerClient({ filename }))))

const runSqlite = async (dir: string, sizes: Sizes, liveAppends: number): Promise<[CaseResult, LiveResult]> => {
  const filename = join(dir, "read-side.db")
  const runtime = sqliteStore(filename)
  try {
    progress(`sqlite read side: seeding ${sizes.events} events`)
    await runtime.runPromise(seed(sizes.events))
    const db = new Database(filename)
    const page = db.prepare(
      "SELECT position, stream_id, version, event_id, type, data, metadata, recorded_at FROM eventfold_events WHERE position > ? ORDER BY position LIMIT ?"
    )
    let upsert: Database.Statement
    let checkpoint: Database.Statement
    const raw = {
      prepare: async () => {
        db.exec("DROP TABLE IF EXISTS bench_counts; CREATE TABLE bench_counts (stream_id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
        db.exec("CREATE TABLE IF NOT EXISTS raw_checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")
        upsert = db.prepare(upsertSql)
        checkpoint = db.prepare("INSERT INTO raw_checkpoint (name, position) VALUES ('raw', ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position")
      },
      run: async () => {
        const started = performance.now()
        let after = 0
        let count = 0
        const commit = db.transaction((rows: Array<{ position: number; stream_id: string; data: string }>) => {
          for (const row of rows) {
            JSON.parse(row.data)
            upsert.run(row.stream_id)
          }
          checkpoint.run(rows[rows.length - 1]!.position)
        })
        for (;;) {
          const rows = page.all(after, batchSize) as Array<{ position: number; stream_id: string; data: string }>
          if (rows.length === 0) break
          commit(rows)
          count += rows.length
          after = rows[rows.length - 1]!.position
          await new Promise((resolve) => setImmediate(resolve)) // a live runner yields between batches too
        }
        return { units: count, ms: performance.now() - started }
      }
    }
    const result = await compare("sqlite catch-up projection", {
      id: "projection",
      title: `catch-up projection, one upsert per event, batches of ${batchSize}`,
      backend: "sqlite",
      unit: "events",
      repeats: sizes.repeats,
      warmup: false,
      eventfold: catchUp(runtime, sizes.events),
      baseline: raw,
      note: "baseline: better-sqlite3 pages by position, upserts and a checkpoint row in one transaction per page"
    })
    db.close()
    const writer = sqliteStore(filename)
    try {
      const latency = await live("sqlite", runtime, writer, liveAppends)
      return [result, latency]
    } finally {
      await writer.dispose()
    }
  } finally {
    await runtime.dispose()
  }
}

const pgStore = (url: string) =>
  ManagedRuntime.make(PgEventStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 }))))

const runPostgres = async (sizes: Sizes, liveAppends: number): Promise<[CaseResult, LiveResult]> => {
  const server = await startPgServer()
  try {
    const database = await createBenchDatabase(server.url)
    const runtime = pgStore(database.url)
    try {
      progress(`postgres read side: seeding ${sizes.events} events`)
      await runtime.runPromise(seed(sizes.events))
      const client = new pg.Client({ connectionString: database.url })
      await client.connect()
      const raw = {
        prepare: async () => {
          await client.query("DROP TABLE IF EXISTS bench_counts")
          await client.query("CREATE TABLE bench_counts (stream_id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
          await client.query("CREATE TABLE IF NOT EXISTS raw_checkpoint (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")
        },
        run: async () => {
          const started = performance.now()
          let after = 0
          let count = 0
          for (;;) {
            const { rows } = await client.query<{ position: string; stream_id: string; data: string }>(
              "SELECT position, stream_id, version, event_id, type, data::text AS data, metadata::text AS metadata, recorded_at FROM eventfold_events WHERE position > $1 ORDER BY position LIMIT $2",
              [after, batchSize]
            )
            if (rows.length === 0) break
            await client.query("BEGIN")
            for (const row of rows) {
              JSON.parse(row.data)
              await client.query(upsertSql.replace("?", "$1"), [row.stream_id])
            }
            after = Number(rows[rows.length - 1]!.position)
            await client.query(
              "INSERT INTO raw_checkpoint (name, position) VALUES ('raw', $1) ON CONFLICT (name) DO UPDATE SET position = excluded.position",
              [after]
            )
            await client.query("COMMIT")
            count += rows.length
          }
          return { units: count, ms: performance.now() - started }
        }
      }
      const result = await compare("postgres catch-up projection", {
        id: "projection",
        title: `catch-up projection, one upsert per event, batches of ${batchSize}`,
        backend: "postgres",
        unit: "events",
        repeats: sizes.repeats,
        warmup: false,
        eventfold: catchUp(runtime, sizes.events),
        baseline: raw,
        note: "baseline: pg pages by position, one upsert statement per event and a checkpoint row in one transaction per page"
      })
      await client.end()
      const writer = pgStore(database.url)
      try {
        return [result, await live("postgres", runtime, writer, liveAppends)]
      } finally {
        await writer.dispose()
      }
    } finally {
      await runtime.dispose()
      await database.drop().catch(() => undefined)
    }
  } finally {
    await server.stop()
  }
}

export const runReadSide = async (dir: string, sizes: Sizes, backendsToRun: ReadonlySet<string>): Promise<ReadSideResult> => {
  let only = backendsToRun
  const liveAppends = envInt("BENCH_LIVE", 1000)
  const backends = process.env["BENCH_READSIDE"]
  if (backends !== undefined && backends.trim() !== "") {
    const picked = new Set(backends.split(",").map((s) => s.trim()))
    only = new Set([...only].filter((b) => picked.has(b)))
  }
  const cases: Array<CaseResult> = []
  const latencies: Array<LiveResult> = []
  if (only.has("sqlite")) {
    const [c, l] = await runSqlite(dir, sizes, liveAppends)
    cases.push(c)
    latencies.push(l)
  }
  if (only.has("postgres")) {
    const [c, l] = await runPostgres(sizes, liveAppends)
    cases.push(c)
    latencies.push(l)
  }
  return { cases, live: latencies }
}
