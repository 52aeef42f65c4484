/**
 * Where a single PostgreSQL append's time goes (issue #15, adr/0012): N
 * sequential single-event appends on one connection, each variant on its own
 * streams, same server.
 *
 *   npx tsx test/bench/pgAppendCost.ts [n]
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer, Redacted } from "effect"
import type { Event } from "eventfold"
import { EventStore, ExpectedVersion, StreamId } from "eventfold"
import { PgClient } from "@effect/sql-pg"
import { PgEventStore } from "eventfold/postgres"
import pg from "pg"
import { createBenchDatabase, startPgServer, withClient } from "./pgServer.ts"

const n = Number(process.argv[2] ?? "2000")

const eventData = (k: number): Event.EventData => ({
  eventId: crypto.randomUUID() as Event.EventId,
  type: "Deposited",
  data: JSON.stringify({ amount: k }),
  metadata: "{}"
})

const fnCall = `SELECT heads, positions FROM eventfold_append($1::text[], $2::text[], $3::int8[], $4::int4[], $5::int4[], $6::uuid[], $7::text[], $8::jsonb[], $9::jsonb[], $10::timestamptz)`
const insert = "INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, now())"

const timeIt = async (label: string, f: (i: number) => Promise<unknown>, log: (line: string) => void) => {
  for (let i = 0; i < 100; i++) await f(-1 - i)
  const start = performance.now()
  for (let i = 0; i < n; i++) await f(i)
  const ms = (performance.now() - start) / n
  log(`${label.padEnd(58)} ${ms.toFixed(3)} ms/op  ${(1000 / ms).toFixed(0)}/s`)
  return ms
}

export const runAppendCost = async (url: string, log: (line: string) => void) => {
  // migrate
  await Effect.runPromise(Effect.scoped(Layer.build(PgEventStore.layer({ url: Redacted.make(url), maxConnections: 1 }))))
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const run = Date.now().toString(36)
  const versions = new Map<string, number>()
  const next = (s: string) => {
    const v = (versions.get(s) ?? 0) + 1
    versions.set(s, v)
    return v
  }
  const callParams = (s: string, i: number) => {
    const e = eventData(i)
    return [[s], ["Exact"], [next(s) - 1], [1], [1], [e.eventId], [e.type], [e.data], [e.metadata], new Date()]
  }
  const insertParams = (s: string, i: number) => {
    const e = eventData(i)
    return [s, next(s), e.eventId, e.type, e.data, e.metadata]
  }
  const stream = (p: string, i: number) => `${run}-${p}-${i < 0 ? 0 : i % 50}`
  // batches of 100 events (issue #17's batched append)
  const batch = 100
  const minimalTable = "CREATE TABLE IF NOT EXISTS raw_minimal (stream_id text NOT NULL, version integer NOT NULL, data text NOT NULL, PRIMARY KEY (stream_id, version))"
  await client.query(minimalTable)
  const tuples = (width: number) =>
    Array.from({ length: batch }, (_, k) => `(${Array.from({ length: width }, (_, c) => `$${k * width + c + 1}`).join(", ")})`).join(", ")
  const minimalInsert = `INSERT INTO raw_minimal (stream_id, version, data) VALUES ${tuples(3)}`
  const fullInsert = `INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ${tuples(7)}`
  const batchVersions = (s: string) => {
    const from = versions.get(s) ?? 0
    versions.set(s, from + batch)
    return from
  }
  const batchOf = () => Array.from({ length: batch }, (_, k) => eventData(k))
  try {
    await timeIt(`pg minimal-table INSERT of ${batch} rows, named`, (i) => {
      const s = stream("bm", i)
      const from = batchVersions(s)
      return client.query({ name: "bm", text: minimalInsert, values: batchOf().flatMap((e, k) => [s, from + k + 1, e.data]) })
    }, log)
    await timeIt(`pg eventfold_events INSERT of ${batch} rows, named`, (i) => {
      const s = stream("bf", i)
      const from = batchVersions(s)
      const now = new Date()
      return client.query({ name: "bf", text: fullInsert, values: batchOf().flatMap((e, k) => [s, from + k + 1, e.eventId, e.type, e.data, e.metadata, now]) })
    }, log)
    await timeIt(`pg eventfold_append() of ${batch} events, named`, (i) => {
      const s = stream("bfn", i)
      const from = batchVersions(s)
      const events = batchOf()
      return client.query({
        name: "bfn",
        text: fnCall,
        values: [[s], ["Exact"], [from], events.map(() => 1), events.map((_, k) => k + 1), events.map((e) => e.eventId), events.map((e) => e.type), events.map((e) => e.data), events.map((e) => e.metadata), new Date()]
      })
    }, log)
    await timeIt("pg INSERT, unnamed (trigger on)", (i) => client.query(insert, insertParams(stream("ins", i), i)), log)
    await timeIt("pg INSERT, named (trigger on)", (i) => client.query({ name: "ins", text: insert, values: insertParams(stream("insn", i), i) }), log)
    await timeIt("pg eventfold_append(), unnamed (trigger on)", (i) => client.query(fnCall, callParams(stream("fn", i), i)), log)
    await timeIt("pg eventfold_append(), named (trigger on)", (i) => client.query({ name: "fn", text: fnCall, values: callParams(stream("fnn", i), i) }), log)
    await client.query("ALTER TABLE eventfold_events DISABLE TRIGGER eventfold_events_notify")
    await timeIt("pg INSERT, named (trigger off)", (i) => client.query({ name: "ins", text: insert, values: insertParams(stream("insx", i), i) }), log)
    await timeIt("pg eventfold_append(), named (trigger off)", (i) => client.query({ name: "fn", text: fnCall, values: callParams(stream("fnx", i), i) }), log)
    await client.query("ALTER TABLE eventfold_events ENABLE TRIGGER eventfold_events_notify")
    const layer = PgEventStore.layerFromClient().pipe(
      Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))
    )
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(layer)
      const store = Context.get(ctx, EventStore.EventStore)
      const sql = Context.get(ctx, SqlClient.SqlClient)
      /** Times `n` sequential runs of `f` inside one Effect loop (no runPromise per op). */
      const timeEffect = (label: string, f: (i: number) => Effect.Effect<unknown, unknown>) =>
        Effect.gen(function*() {
          for (let i = 0; i < 100; i++) yield* f(-1 - i)
          const start = performance.now()
          for (let i = 0; i < n; i++) yield* f(i)
          const ms = (performance.now() - start) / n
          log(`${label.padEnd(58)} ${ms.toFixed(3)} ms/op  ${(1000 / ms).toFixed(0)}/s`)
        })
      yield* timeEffect("@effect/sql: sql.unsafe(INSERT).values", (i) =>
        Effect.suspend(() => sql.unsafe(insert, insertParams(stream("esi", i), i)).values))
      yield* timeEffect("@effect/sql: sql.unsafe(eventfold_append()).values", (i) =>
        Effect.suspend(() => sql.unsafe(fnCall, callParams(stream("esf", i), i)).values))
      yield* timeEffect("eventfold store.append", (i) =>
        Effect.suspend(() => {
          const s = stream("ef", i)
          const v = next(s)
          return store.append({ streamId: StreamId.unsafeMake(s), expected: ExpectedVersion.unsafeExact(v - 1), events: [eventData(i)] })
        }))
      yield* timeEffect(`@effect/sql: eventfold_append() of ${batch} events`, (i) =>
        Effect.suspend(() => {
          const s = stream("esb", i)
          const from = batchVersions(s)
          const events = batchOf()
          return sql.unsafe(fnCall, [[s], ["Exact"], [from], events.map(() => 1), events.map((_, k) => k + 1), events.map((e) => e.eventId), events.map((e) => e.type), events.map((e) => e.data), events.map((e) => e.metadata), new Date()]).values
        }))
      yield* timeEffect(`eventfold store.append of ${batch} events`, (i) =>
        Effect.suspend(() => {
          const s = stream("efb", i)
          const from = batchVersions(s)
          return store.append({ streamId: StreamId.unsafeMake(s), expected: ExpectedVersion.unsafeExact(from), events: batchOf() })
        }))
      yield* timeEffect("eventfold store.append, Effect.runPromise per op", (i) =>
        Effect.promise(() => {
          const s = stream("efp", i)
          const v = next(s)
          return Effect.runPromise(store.append({ streamId: StreamId.unsafeMake(s), expected: ExpectedVersion.unsafeExact(v - 1), events: [eventData(i)] }))
        }))
    })))
  } finally {
    await client.end()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startPgServer()
  const db = await createBenchDatabase(server.url)
  try {
    await withClient(db.url, async (c) => {
      const s = await c.query("SELECT current_setting('fsync') f, current_setting('synchronous_commit') s")
      console.log(JSON.stringify(s.rows[0]))
    })
    await runAppendCost(db.url, (line) => console.log(line))
  } finally {
    await db.drop()
    await server.stop()
  }
}
