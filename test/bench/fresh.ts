/**
 * Fresh-process mode: what a user meets first. Every run of every case is its
 * own process (`node --import tsx test/bench/fresh-child.ts`), with no warm-up,
 * so the JIT, the module loading and the first statements count, and each
 * reports its peak RSS. The baseline is the raw driver on a minimal table
 * (`raw_events (stream_id, version, data)`), doing the least work it can (see
 * fresh-child.ts). Each side runs `BENCH_FRESH_REPEATS` times (default 3),
 * alternating, and the median is kept.
 *
 * Cases (sizes from harness.ts): typed read of one stream (SQLite; PostgreSQL
 * with the default page and with several page sizes), batched appends, and
 * sequential commands (load a 10-event stream, fold, append one); the peak RSS
 * of a typed read of `memorySmall` and `memoryLarge` events (SQLite); and
 * appends into a grown SQLite store (`BENCH_GROWN` events, default 1,000,000,
 * made with raw SQL with random ids) against an empty one, with v7 ids and with
 * random v4 ids.
 */
import { execFile } from "node:child_process"
import { copyFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import Database from "better-sqlite3"
import pg from "pg"
import { rawEventAt } from "./domain.ts"
import type { ChildSpec } from "./fresh-spec.ts"
import { commandStream, commandStreamEvents, rawTable, readStreamName } from "./fresh-spec.ts"
import type { Sizes } from "./harness.ts"
import { envInt, formatRate, progress } from "./harness.ts"
import { createBenchDatabase, startPgServer } from "./pgServer.ts"
import { createDatabase, fillStream } from "./sqlite.ts"

const exec = promisify(execFile)
const root = fileURLToPath(new URL("../..", import.meta.url))
const child = fileURLToPath(new URL("./fresh-child.ts", import.meta.url))

/** One process's report. */
export interface FreshRun {
  readonly units: number
  readonly ms: number
  /** Time to open the connection (and build eventfold's layer), not in `ms`. */
  readonly openMs: number
  readonly maxRss: number
}

/** One side of a fresh case: every run and the median. */
export interface FreshSide {
  readonly runs: ReadonlyArray<FreshRun>
  /** Units per second of the median run. */
  readonly rate: number
  /** Peak RSS of the median run. */
  readonly maxRss: number
}

/** A fresh case: two sides (eventfold and a baseline) and their ratio. */
export interface FreshResult {
  readonly id: string
  readonly title: string
  readonly backend: "sqlite" | "postgres"
  readonly unit: "events" | "commands"
  readonly eventfold: FreshSide
  readonly baseline: FreshSide
  readonly ratio: number
  /** What the baseline is. */
  readonly baselineName: string
}

const runChild = async (spec: ChildSpec): Promise<FreshRun> => {
  const { stdout } = await exec(process.execPath, ["--import", "tsx", child, JSON.stringify(spec)], {
    cwd: root,
    maxBuffer: 1024 * 1024
  })
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as FreshRun
}

const median = (runs: ReadonlyArray<FreshRun>): FreshRun => {
  const sorted = [...runs].sort((a, b) => a.units / a.ms - b.units / b.ms)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

const side = (runs: ReadonlyArray<FreshRun>): FreshSide => {
  const m = median(runs)
  return { runs, rate: m.units / (m.ms / 1000), maxRss: m.maxRss }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`

/** Runs both sides `repeats` times, alternating, each run after `prepare` (a fresh copy of the data). */
const freshCase = async (options: {
  readonly id: string
  readonly title: string
  readonly backend: FreshResult["backend"]
  readonly unit: FreshResult["unit"]
  readonly repeats: number
  readonly eventfold: ChildSpec
  readonly baseline: ChildSpec
  readonly baselineName: string
  readonly prepare?: (side: "eventfold" | "baseline") => Promise<void>
}): Promise<FreshResult> => {
  const eventfold: Array<FreshRun> = []
  const baseline: Array<FreshRun> = []
  for (let i = 1; i <= options.repeats; i++) {
    await options.prepare?.("baseline")
    const b = await runChild(options.baseline)
    baseline.push(b)
    await options.prepare?.("eventfold")
    const e = await runChild(options.eventfold)
    eventfold.push(e)
    const check = (run: FreshRun, spec: ChildSpec) => {
      if (run.units !== spec.units) throw new Error(`${options.id} ${spec.side}: ${run.units} units, expected ${spec.units}`)
    }
    check(b, options.baseline)
    check(e, options.eventfold)
    progress(
      `fresh ${options.backend} ${options.id} ${i}/${options.repeats}: eventfold ${formatRate(e.units / (e.ms / 1000))}/s ${mb(e.maxRss)}, ` +
        `${options.baselineName} ${formatRate(b.units / (b.ms / 1000))}/s ${mb(b.maxRss)}`
    )
  }
  const e = side(eventfold)
  const b = side(baseline)
  return { ...options, eventfold: e, baseline: b, ratio: e.rate / b.rate }
}

const selected = (id: string): boolean => {
  const cases = process.env["BENCH_FRESH_CASES"]
  return cases === undefined || cases.trim() === "" || cases.split(",").map((c) => c.trim()).includes(id)
}

// --- SQLite ----------------------------------------------------------------------

const rawSchemaSqlite = `CREATE TABLE ${rawTable} (stream_id TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (stream_id, version))`

/** An eventfold database with the raw table beside it; `fill` runs on a raw connection. */
const sqliteTemplate = async (file: string, fill?: (db: Database.Database) => void): Promise<void> => {
  await createDatabase(file)
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.exec(rawSchemaSqlite)
  fill?.(db)
  db.pragma("wal_checkpoint(TRUNCATE)")
  db.close()
}

/** Copies the raw table's rows from eventfold's table: the same events, `data` the whole event as JSON. */
const mirrorToRaw = (db: Database.Database, where: string): void => {
  db.exec(
    `INSERT INTO ${rawTable} (stream_id, version, data)
     SELECT stream_id, version, json_object('_tag', type, 'amount', json_extract(data, '$.amount')) FROM eventfold_events WHERE ${where}`
  )
}

const copyDb = (from: string, to: string): void => {
  for (const suffix of ["-wal", "-shm"]) rmSync(to + suffix, { force: true })
  copyFileSync(from, to)
}

/** `n` events over 1,000-event streams with random v4 ids, by raw SQL (what a store written by eventfold 0.1 holds). */
const fillGrown = (db: Database.Database, n: number): void => {
  const randomUuid = `lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
    substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))`
  const insert = db.prepare(
    `INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at)
     WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
     SELECT 'grown-' || (i / 1000), i % 1000 + 1, ${randomUuid}, 'Deposited', '{"amount":1}', '{}', 0 FROM n`
  )
  for (let from = 0; from < n; from += 100_000) db.transaction(() => insert.run(from, Math.min(n, from + 100_000)))()
}

const runSqliteFresh = async (dir: string, sizes: Sizes, repeats: number, results: Array<FreshResult>): Promise<void> => {
  const base = (c: ChildSpec["case"], target: string, units: number): ChildSpec => ({ backend: "sqlite", case: c, side: "eventfold", target, units })

  if (selected("read") || selected("readRss")) {
    for (const events of selected("readRss") ? [...new Set([sizes.events, sizes.memorySmall, sizes.memoryLarge])] : [sizes.events]) {
      const file = join(dir, `fresh-read-${events}.db`)
      progress(`fresh sqlite: filling ${events} events for a read`)
      await sqliteTemplate(file, (db) => {
        fillStream(db, readStreamName, events)
        mirrorToRaw(db, "1")
      })
      if (events === sizes.events && selected("read") || events !== sizes.events) {
        results.push(await freshCase({
          id: events === sizes.events ? "read" : `readRss${events}`,
          title: `typed read of one ${events}-event stream`,
          backend: "sqlite",
          unit: "events",
          repeats,
          eventfold: base("read", file, events),
          baseline: { ...base("read", file, events), side: "raw" },
          baselineName: "better-sqlite3 iterate()"
        }))
      }
      rmSync(file, { force: true })
    }
  }

  const work = join(dir, "fresh-work.db")
  if (selected("append")) {
    const empty = join(dir, "fresh-empty.db")
    await sqliteTemplate(empty)
    results.push(await freshCase({
      id: "append",
      title: `append ${sizes.events} events, ${sizes.batch} per call`,
      backend: "sqlite",
      unit: "events",
      repeats,
      eventfold: { ...base("append", work, sizes.events), batch: sizes.batch },
      baseline: { ...base("append", work, sizes.events), side: "raw", batch: sizes.batch },
      baselineName: "better-sqlite3 multi-row INSERT",
      prepare: async () => copyDb(empty, work)
    }))
  }

  if (selected("command")) {
    const template = join(dir, "fresh-commands.db")
    progress(`fresh sqlite: ${sizes.commands} streams of ${commandStreamEvents} events for the commands`)
    await sqliteTemplate(template, (db) => {
      for (let i = 0; i < sizes.commands; i++) {
        // fillStream writes ids from a fixed sequence: give each stream its own prefix
        const insert = db.prepare(
          `INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, '{}', 0)`
        )
        db.transaction(() => {
          for (let v = 0; v < commandStreamEvents; v++) {
            const { data, type } = rawEventAt(v)
            insert.run(commandStream(i), v + 1, `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${v.toString(16).padStart(12, "0")}`, type, data)
          }
        })()
      }
      mirrorToRaw(db, "1")
    })
    results.push(await freshCase({
      id: "command",
      title: `${sizes.commands} sequential commands (load ${commandStreamEvents} events, fold, append 1)`,
      backend: "sqlite",
      unit: "commands",
      repeats,
      eventfold: base("command", work, sizes.commands),
      baseline: { ...base("command", work, sizes.commands), side: "raw" },
      baselineName: "better-sqlite3 transaction: SELECT + INSERT",
      prepare: async () => copyDb(template, work)
    }))
  }

  if (selected("appendGrown")) {
    const grownEvents = envInt("BENCH_GROWN", 1_000_000)
    const empty = join(dir, "fresh-empty.db")
    const grown = join(dir, "fresh-grown.db")
    await sqliteTemplate(empty)
    progress(`fresh sqlite: filling a ${grownEvents}-event store (raw SQL, random ids)`)
    await sqliteTemplate(grown, (db) => fillGrown(db, grownEvents))
    for (const ids of ["v7", "v4"] as const) {
      const spec: ChildSpec = { ...base("append", work, sizes.events), batch: sizes.batch, ...(ids === "v4" ? { ids } : {}) }
      results.push(await freshCase({
        id: ids === "v7" ? "appendGrown" : "appendGrownV4",
        title: `append ${sizes.events} events, ${sizes.batch} per call, into a ${grownEvents}-event store vs an empty one (ids ${ids})`,
        backend: "sqlite",
        unit: "events",
        repeats,
        eventfold: spec,
        baseline: spec,
        baselineName: "eventfold into an empty store",
        prepare: async (s) => copyDb(s === "eventfold" ? grown : empty, work)
      }))
    }
    rmSync(grown, { force: true })
  }
}

// --- PostgreSQL ------------------------------------------------------------------

const runPostgresFresh = async (sizes: Sizes, repeats: number, results: Array<FreshResult>): Promise<void> => {
  progress("fresh postgres: starting the server")
  const server = await startPgServer()
  try {
    const database = await createBenchDatabase(server.url)
    try {
      const url = database.url
      // eventfold's schema, by its migration, in a child (the same code a user runs)
      await runChild({ backend: "postgres", case: "command", side: "eventfold", target: url, units: 0 })
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      const base = (c: ChildSpec["case"], units: number): ChildSpec => ({ backend: "postgres", case: c, side: "eventfold", target: url, units })
      try {
        await client.query(`CREATE TABLE ${rawTable} (stream_id text NOT NULL, version integer NOT NULL, data text NOT NULL, PRIMARY KEY (stream_id, version))`)
        const fill = async (streamSql: string, versions: number, count: number) => {
          await client.query(
            `INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at)
             SELECT ${streamSql}, v, md5(${streamSql} || ':' || v::text)::uuid,
                    CASE WHEN (v - 1) % 5 = 4 THEN 'Withdrawn' ELSE 'Deposited' END,
                    jsonb_build_object('amount', CASE WHEN (v - 1) % 5 = 4 THEN (v - 1) % 7 ELSE (v - 1) % 100 END), '{}'::jsonb, now()
             FROM generate_series(0, $1::int - 1) AS s, generate_series(1, $2::int) AS v`,
            [count, versions]
          )
        }
        const mirror = (where: string) =>
          client.query(
            `INSERT INTO ${rawTable} SELECT stream_id, version, jsonb_build_object('_tag', type, 'amount', data->'amount')::text FROM eventfold_events WHERE ${where}`
          )
        if (selected("read")) {
          progress(`fresh postgres: filling ${sizes.events} events for the reads`)
          await fill(`'${readStreamName}'`, sizes.events, 1)
          await mirror(`stream_id = '${readStreamName}'`)
          await client.query("VACUUM ANALYZE")
          const pageSizes = (process.env["BENCH_PG_PAGES"] ?? "default,256,1000,4000").split(",").map((p) => p.trim())
          for (const page of pageSizes) {
            const pageSize = page === "default" ? undefined : Number(page)
            results.push(await freshCase({
              id: page === "default" ? "read" : `readPage${page}`,
              title: `typed read of one ${sizes.events}-event stream, page ${page}`,
              backend: "postgres",
              unit: "events",
              repeats,
              eventfold: { ...base("read", sizes.events), ...(pageSize === undefined ? {} : { pageSize }) },
              baseline: { ...base("read", sizes.events), side: "raw" },
              baselineName: "pg-cursor, 1,000 rows a read"
            }))
          }
        }
        if (selected("append")) {
          results.push(await freshCase({
            id: "append",
            title: `append ${sizes.events} events, ${sizes.batch} per call`,
            backend: "postgres",
            unit: "events",
            repeats,
            eventfold: { ...base("append", sizes.events), batch: sizes.batch },
            baseline: { ...base("append", sizes.events), side: "raw", batch: sizes.batch },
            baselineName: "pg named multi-row INSERT",
            prepare: async () => {
              await client.query(`DELETE FROM eventfold_events WHERE stream_id LIKE 'account-a%'`)
              await client.query(`DELETE FROM ${rawTable} WHERE stream_id LIKE 'account-a%'`)
            }
          }))
        }
        if (selected("command")) {
          await fill(`'account-cmd' || s`, commandStreamEvents, sizes.commands)
          await mirror(`stream_id LIKE 'account-cmd%'`)
          await client.query("VACUUM ANALYZE")
          results.push(await freshCase({
            id: "command",
            title: `${sizes.commands} sequential commands (load ${commandStreamEvents} events, fold, append 1)`,
            backend: "postgres",
            unit: "commands",
            repeats,
            eventfold: base("command", sizes.commands),
            baseline: { ...base("command", sizes.commands), side: "raw" },
            baselineName: "pg transaction: named SELECT + INSERT",
            prepare: async () => {
              await client.query(`DELETE FROM eventfold_events WHERE stream_id LIKE 'account-cmd%' AND version > ${commandStreamEvents}`)
              await client.query(`DELETE FROM ${rawTable} WHERE stream_id LIKE 'account-cmd%' AND version > ${commandStreamEvents}`)
            }
          }))
        }
      } finally {
        await client.end()
      }
    } finally {
      await database.drop().catch(() => undefined)
    }
  } finally {
    await server.stop()
  }
}

/** Runs the fresh-process cases of the backends given, pushing each result into `results` as it is measured. */
export const runFresh = async (
  dir: string,
  sizes: Sizes,
  backends: ReadonlySet<string>,
  results: Array<FreshResult>
): Promise<void> => {
  const repeats = envInt("BENCH_FRESH_REPEATS", 3)
  if (backends.has("sqlite")) await runSqliteFresh(dir, sizes, repeats, results)
  if (backends.has("postgres")) await runPostgresFresh(sizes, repeats, results)
}
