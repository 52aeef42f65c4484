/**
 * One side of one fresh-process case (fresh.ts starts it, once per run, with
 * `node --import tsx`): no warm-up, the work timed from its first statement (after
 * the connection is open and, for eventfold, its layer built: `openMs`), and the
 * process's peak RSS. Prints one JSON line: `{ units, ms, openMs, maxRss }`.
 *
 *   node --import tsx test/bench/fresh-child.ts '<spec as JSON>'
 *
 * Sides: `eventfold` (the store, the typed view, the Executor), `raw` (the
 * driver on the minimal table `raw_events (stream_id, version, data)`: the least
 * work it can do: better-sqlite3 prepared statements and `iterate()`; pg named
 * prepared statements and pg-cursor reading 1,000 rows per round trip).
 */
import Database from "better-sqlite3"
import { Effect, Layer, ManagedRuntime, Redacted, Stream } from "effect"
import { EventStore, Executor, ExpectedVersion, StreamId } from "eventfold"
import type { Event } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"
import pg from "pg"
import Cursor from "pg-cursor"
import type { AccountEvent } from "./domain.ts"
import type { ChildSpec } from "./fresh-spec.ts"
import { appendStream, commandStream, rawTable, readStreamName } from "./fresh-spec.ts"
import { account, codec, Deposit, eventAt, evolve } from "./domain.ts"

/** The raw fold: the row's data is the whole event as JSON. */
const evolveJson = (balance: number, data: string): number => {
  const event = JSON.parse(data) as AccountEvent
  return event._tag === "Deposited" ? balance + event.amount : balance - event.amount
}

const spec = JSON.parse(process.argv[2] ?? "{}") as ChildSpec

const eventfoldLayer = (spec: ChildSpec) =>
  spec.backend === "sqlite"
    ? SqliteEventStore.layer({ filename: spec.target })
    : PgEventStore.layer({ url: Redacted.make(spec.target), maxConnections: 2 })

let start = 0

const runEventfold = async (): Promise<number> => {
  const runtime = ManagedRuntime.make(Executor.layer().pipe(Layer.provideMerge(eventfoldLayer(spec))))
  await runtime.runPromise(Effect.void)
  start = performance.now()
  try {
    switch (spec.case) {
      case "read": {
        let n = 0
        await runtime.runPromise(Effect.flatMap(EventStore.typed(codec), (store) =>
          store.read(StreamId.unsafeMake(readStreamName), spec.pageSize === undefined ? undefined : { pageSize: spec.pageSize }).pipe(
            Stream.runFold(0, (s, e) => (n++, evolve(s, e.data)))
          )))
        return n
      }
      case "append": {
        const batch = spec.batch ?? 100
        return await runtime.runPromise(Effect.gen(function*() {
          const store = yield* EventStore.typed(codec)
          const versions = new Map<string, number>()
          let n = 0
          for (let from = 0, b = 0; from < spec.units; from += batch, b++) {
            const streamId = StreamId.unsafeMake(appendStream(b))
            const events: Array<AccountEvent> = []
            for (let i = from; i < Math.min(spec.units, from + batch); i++) events.push(eventAt(i))
            const version = versions.get(streamId) ?? 0
            yield* store.append({
              streamId,
              expected: ExpectedVersion.unsafeExact(version),
              events,
              ...(spec.ids === "v4" ? { eventIds: events.map(() => crypto.randomUUID() as Event.EventId) } : {})
            })
            versions.set(streamId, version + events.length)
            n += events.length
          }
          return n
        }))
      }
      case "command": {
        return await runtime.runPromise(Effect.gen(function*() {
          for (let i = 0; i < spec.units; i++) {
            yield* Executor.execute(account, new Deposit({ account: `cmd${i}`, amount: i % 100 }))
          }
          return spec.units
        }))
      }
    }
  } finally {
    await runtime.dispose()
  }
}

const runRawSqlite = (): number => {
  const db = new Database(spec.target)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = FULL")
  start = performance.now()
  try {
    switch (spec.case) {
      case "read": {
        const select = db.prepare(`SELECT data FROM ${rawTable} WHERE stream_id = ? ORDER BY version`).pluck()
        let n = 0
        let total = 0
        for (const data of select.iterate(readStreamName) as Iterable<string>) {
          total = evolveJson(total, data)
          n++
        }
        return total === Number.MIN_SAFE_INTEGER ? 0 : n
      }
      case "append": {
        const batch = spec.batch ?? 100
        const insert = db.prepare(
          `INSERT INTO ${rawTable} (stream_id, version, data) VALUES ` + Array.from({ length: batch }, () => "(?, ?, ?)").join(", ")
        )
        const versions = new Map<string, number>()
        const append = db.transaction((streamId: string, from: number) => {
          let version = versions.get(streamId) ?? 0
          const params: Array<unknown> = []
          for (let i = from; i < from + batch; i++) params.push(streamId, ++version, JSON.stringify(eventAt(i)))
          insert.run(params)
          versions.set(streamId, version)
        })
        let n = 0
        for (let from = 0, b = 0; from + batch <= spec.units; from += batch, b++) {
          append(appendStream(b), from)
          n += batch
        }
        return n
      }
      case "command": {
        const select = db.prepare(`SELECT data FROM ${rawTable} WHERE stream_id = ? ORDER BY version`).pluck()
        const insert = db.prepare(`INSERT INTO ${rawTable} (stream_id, version, data) VALUES (?, ?, ?)`)
        const command = db.transaction((i: number) => {
          const streamId = commandStream(i)
          let balance = 0
          let version = 0
          for (const data of select.iterate(streamId) as Iterable<string>) {
            balance = evolveJson(balance, data)
            version++
          }
          insert.run(streamId, version + 1, JSON.stringify({ _tag: "Deposited", amount: i % 100 }))
          return balance
        })
        for (let i = 0; i < spec.units; i++) command.immediate(i)
        return spec.units
      }
    }
  } finally {
    db.close()
  }
}

const runRawPg = async (): Promise<number> => {
  const client = new pg.Client({ connectionString: spec.target })
  await client.connect()
  start = performance.now()
  try {
    switch (spec.case) {
      case "read": {
        const cursor = client.query(new Cursor<{ data: string }>(
          `SELECT data FROM ${rawTable} WHERE stream_id = $1 ORDER BY version`,
          [readStreamName]
        ))
        let n = 0
        let total = 0
        for (;;) {
          const rows = await cursor.read(1000)
          if (rows.length === 0) break
          for (const row of rows) {
            total = evolveJson(total, row.data)
            n++
          }
        }
        await cursor.close()
        return total === Number.MIN_SAFE_INTEGER ? 0 : n
      }
      case "append": {
        const batch = spec.batch ?? 100
        const text = `INSERT INTO ${rawTable} (stream_id, version, data) VALUES ` +
          Array.from({ length: batch }, (_, k) => `($${3 * k + 1}, $${3 * k + 2}, $${3 * k + 3})`).join(", ")
        const versions = new Map<string, number>()
        let n = 0
        for (let from = 0, b = 0; from + batch <= spec.units; from += batch, b++) {
          const streamId = appendStream(b)
          let version = versions.get(streamId) ?? 0
          const values: Array<unknown> = []
          for (let i = from; i < from + batch; i++) values.push(streamId, ++version, JSON.stringify(eventAt(i)))
          await client.query("BEGIN")
          await client.query({ name: `raw-insert-${batch}`, text, values })
          await client.query("COMMIT")
          versions.set(streamId, version)
          n += batch
        }
        return n
      }
      case "command": {
        for (let i = 0; i < spec.units; i++) {
          const streamId = commandStream(i)
          await client.query("BEGIN")
          const { rows } = await client.query<{ data: string }>({
            name: "raw-read",
            text: `SELECT data FROM ${rawTable} WHERE stream_id = $1 ORDER BY version`,
            values: [streamId]
          })
          let balance = 0
          for (const row of rows) balance = evolveJson(balance, row.data)
          await client.query({
            name: "raw-insert-one",
            text: `INSERT INTO ${rawTable} (stream_id, version, data) VALUES ($1, $2, $3)`,
            values: [streamId, rows.length + 1, JSON.stringify({ _tag: "Deposited", amount: i % 100 })]
          })
          await client.query("COMMIT")
          if (balance === Number.MIN_SAFE_INTEGER) return 0
        }
        return spec.units
      }
    }
  } finally {
    await client.end()
  }
}

const opened = performance.now()
const units = spec.side === "eventfold" ? await runEventfold() : spec.backend === "sqlite" ? runRawSqlite() : await runRawPg()
const ms = performance.now() - start
console.log(JSON.stringify({ units, ms, openMs: start - opened, maxRss: process.resourceUsage().maxRSS * 1024 }))
