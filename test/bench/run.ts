/**
 * `npm run bench`: eventfold against the raw drivers, same work, same data, same
 * run, on SQLite (file), the file store (eventfold/file, against node:fs) and PostgreSQL (the test harness's embedded server, or
 * `EVENTFOLD_TEST_PG_URL`), plus the memory case (peak RSS of folding a small and
 * a large stream through the Executor, each in its own process).
 *
 * Progress goes to stderr, the table to stdout, everything to bench-results.json
 * at the repository root. Exits non-zero if any case fails.
 *
 * Sizes: `BENCH_EVENTS` (default 100000) scales every case down for a quick run
 * (`BENCH_EVENTS=10000 npm run bench`); `BENCH_REPEATS` (default 3) runs of each
 * side are made and the best kept; `BENCH_ONLY=sqlite,file,postgres,pgwriters,memory,snapshots,readside,fresh-sqlite,fresh-postgres`
 * picks parts. The `fresh-*` parts (fresh.ts) run every case in its own process with no warm-up against
 * the raw driver on a minimal table, median of `BENCH_FRESH_REPEATS` (default 3); `BENCH_FRESH_CASES=read,append,command,readRss,appendGrown`
 * narrows them (`BENCH_GROWN`, default 1000000: events of the grown store; `BENCH_PG_PAGES`: page sizes read).
 * See harness.ts for the other knobs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { CaseResult } from "./harness.ts"
import { formatRate, progress, sizesFromEnv, table } from "./harness.ts"
import type { MemoryResult } from "./memory.ts"
import { runMemory } from "./memory.ts"
import { runPostgres } from "./postgres.ts"
import { runFile } from "./file.ts"
import type { FreshResult } from "./fresh.ts"
import { runFresh } from "./fresh.ts"
import { runPgWritersPart } from "./pgWriters.ts"
import { runSnapshotsPostgres, runSnapshotsSqlite } from "./snapshots.ts"
import { runSqlite } from "./sqlite.ts"
import type { ReadSideResult } from "./readSide.ts"
import { runReadSide } from "./readSide.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))
const sizes = sizesFromEnv()
const only = new Set((process.env["BENCH_ONLY"] ?? "sqlite,file,postgres,pgwriters,memory,snapshots,readside,fresh-sqlite,fresh-postgres").split(",").map((s) => s.trim()))
const dir = mkdtempSync(join(tmpdir(), "eventfold-bench-"))

const started = Date.now()
const cases: Array<CaseResult> = []
let memory: ReadonlyArray<MemoryResult> | undefined
const fresh: Array<FreshResult> = []
let readSide: ReadSideResult | undefined
const failures: Array<string> = []

const part = async (name: string, f: () => Promise<void>): Promise<void> => {
  if (!only.has(name)) return
  try {
    await f()
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    progress(`${name} FAILED: ${message}`)
    failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

progress(`sizes: ${JSON.stringify(sizes)}; temp dir ${dir}`)
try {
  await part("sqlite", async () => {
    cases.push(...(await runSqlite(dir, sizes)))
  })
  await part("file", async () => {
    cases.push(...(await runFile(dir, sizes)))
  })
  await part("postgres", async () => {
    cases.push(...(await runPostgres(sizes)))
  })
  await part("pgwriters", async () => {
    // appends/s at 1, 8 and 32 writers against the raw driver, p99, reader lag (adr/0012)
    await runPgWritersPart((line) => progress(`postgres writers: ${line}`))
  })
  await part("snapshots", async () => {
    cases.push(...(await runSnapshotsSqlite(dir, sizes)))
    cases.push(...(await runSnapshotsPostgres(sizes)))
  })
  await part("memory", async () => {
    memory = await runMemory(dir, sizes)
  })
  await part("fresh-sqlite", async () => {
    await runFresh(dir, sizes, new Set(["sqlite"]), fresh)
  })
  await part("fresh-postgres", async () => {
    await runFresh(dir, sizes, new Set(["postgres"]), fresh)
  })
  await part("readside", async () => {
    readSide = await runReadSide(dir, sizes, new Set(["sqlite", "postgres"]))
    cases.push(...readSide.cases)
  })
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const seconds = (Date.now() - started) / 1000
const rows = cases.map((c) => [
  `(${caseNumber(c.id)}) ${c.title}`,
  c.backend,
  c.unit === "events" ? "events/s" : "commands/s",
  formatRate(c.eventfold),
  formatRate(c.baseline),
  c.ratio === null ? (c.note ?? "not measured") : c.ratio.toFixed(2) + extraText(c)
])

function caseNumber(id: string): string {
  const numbers: Record<string, string> = {
    read: "1",
    readClass: "1b",
    readAll: "2",
    appendBatch: "3",
    appendSingle: "4",
    executorDistinct: "5",
    executorContended: "6",
    snapshotLong: "7",
    snapshotWrite: "7b",
    projection: "8"
  }
  return numbers[id] ?? id
}

function extraText(c: CaseResult): string {
  const write = c.extra?.["snapshotWriteMsPerCommand"]
  if (write !== undefined) return `  (one save alone: ${write.toFixed(3)} ms)`
  const first = c.extra?.["firstCommandMs"]
  if (first !== undefined) return `  (first command, no snapshot yet: ${(first / 1000).toFixed(2)} s)`
  if (c.extra === undefined || c.extra["eventfoldRetriesPerCommand"] === undefined) return ""
  const failed = c.extra["eventfoldFailed"] ?? 0
  return `  (retries/command: eventfold ${c.extra["eventfoldRetriesPerCommand"].toFixed(2)}, baseline ${
    (c.extra["baselineRetriesPerCommand"] ?? 0).toFixed(2)
  }${failed > 0 ? `; ${failed} gave up` : ""})`
}

console.log()
console.log(table(["case", "backend", "unit", "eventfold", "baseline", "ratio"], rows))
if (memory !== undefined) {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
  for (const result of memory) {
    console.log()
    console.log(
      table(
        [`memory: fold one stream through the Executor (${result.backend}, compiled package)`, "events", "peak RSS", "sampled peak", "time"],
        result.runs.map((r) => [
          `${r.events} events`,
          String(r.events),
          mb(r.maxRss),
          mb(r.sampledPeakRss),
          `${(r.ms / 1000).toFixed(2)} s`
        ])
      )
    )
    console.log(
      `${result.backend}: peak RSS ratio large/small: ${result.ratio.toFixed(2)} (${result.bytesPerEvent.toFixed(1)} bytes of RSS per extra event); ` +
        `live heap retained: ${result.retainedBytesPerEvent.toFixed(2)} bytes per extra event`
    )
  }
}
if (readSide !== undefined && readSide.live.length > 0) {
  console.log()
  console.log(
    table(
      ["live latency: append commit -> projection handler", "appends", "p50", "p99", "max"],
      readSide.live.map((l) => [
        l.backend === "sqlite" ? "SQLite (another connection; polling every 200 ms)" : "PostgreSQL (LISTEN/NOTIFY)",
        String(l.appends),
        `${l.p50.toFixed(1)} ms`,
        `${l.p99.toFixed(1)} ms`,
        `${l.max.toFixed(1)} ms`
      ])
    )
  )
}
console.log()
if (fresh.length > 0) {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`
  console.log()
  console.log(
    table(
      ["fresh processes (median)", "backend", "unit", "eventfold", "peak RSS", "baseline", "peak RSS", "ratio", "baseline is"],
      fresh.map((c) => [
        c.title,
        c.backend,
        c.unit === "events" ? "events/s" : "commands/s",
        formatRate(c.eventfold.rate),
        mb(c.eventfold.maxRss),
        formatRate(c.baseline.rate),
        mb(c.baseline.maxRss),
        c.ratio.toFixed(2),
        c.baselineName
      ])
    )
  )
}
console.log(`total ${seconds.toFixed(0)} s on ${cpus().length} cores`)

writeFileSync(
  join(root, "bench-results.json"),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      totalMemory: totalmem(),
      sizes,
      seconds,
      cases,
      memory: memory ?? null,
      fresh,
      live: readSide?.live ?? null,
      failures
    },
    null,
    2
  ) + "\n"
)
progress(`wrote bench-results.json`)

if (failures.length > 0) {
  console.error(`\n${failures.length} part(s) failed:\n${failures.join("\n")}`)
  process.exitCode = 1
}
