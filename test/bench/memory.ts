/**
 * The memory case: folds a small and a large stream through the Executor, on
 * SQLite and on PostgreSQL, each fold in a fresh child process, and compares their
 * peak RSS. Streaming keeps the ratio near 1; any per-event retention grows it
 * with the event count.
 *
 * The measured child (./memory-fold.ts) runs on the compiled package: this part
 * runs `npm run build` (dist/) first, compiles memory-fold.ts and domain.ts to
 * JavaScript under .data/bench/, and starts them with plain `node`, so no tsx
 * loader (nor its transform cache) sits in the measured heap. Filling the
 * streams happens here, through the raw drivers.
 *
 * `BENCH_MEMORY_BACKENDS=sqlite,postgres` (default both) picks the backends;
 * `BENCH_MEMORY_NO_BUILD=1` reuses an existing dist/.
 */
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { Effect, Layer, Redacted } from "effect"
import { PgEventStore } from "eventfold/postgres"
import ts from "typescript"
import { accountStream } from "./domain.ts"
import type { Sizes } from "./harness.ts"
import { progress } from "./harness.ts"
import { createBenchDatabase, startPgServer, withClient } from "./pgServer.ts"
import { createDatabase, fillStream, openRaw } from "./sqlite.ts"

const run = promisify(execFile)
const root = fileURLToPath(new URL("../..", import.meta.url))
const out = join(root, ".data", "bench")

/** One fold, as the child reports it. */
export interface MemoryRun {
  readonly events: number
  readonly ms: number
  readonly startRss: number
  readonly sampledPeakRss: number
  readonly maxRss: number
}

/** Both folds of one backend and how their peaks compare. */
export interface MemoryResult {
  readonly backend: "sqlite" | "postgres"
  readonly runs: ReadonlyArray<MemoryRun>
  /** Peak RSS of the large fold over that of the small one. */
  readonly ratio: number
  /** Extra peak RSS per extra event. */
  readonly bytesPerEvent: number
  /**
   * What the fold retains: the live heap (after a full GC) at the large fold's
   * last event minus that at the small fold's count of events, per extra event
   * (see `MEMORY_LIVE_AT` in memory-fold.ts).
   */
  readonly retainedBytesPerEvent: number
}

/** Builds dist/ and compiles the measured child to .data/bench/memory-fold.js. */
export const prepareChild = async (): Promise<string> => {
  if (process.env["BENCH_MEMORY_NO_BUILD"] === undefined) {
    progress("memory: npm run build (the measured child runs on dist/)")
    await run(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, maxBuffer: 16 * 1024 * 1024 })
  }
  mkdirSync(out, { recursive: true })
  for (const name of ["memory-fold", "domain"]) {
    const source = readFileSync(fileURLToPath(new URL(`./${name}.ts`, import.meta.url)), "utf8")
    const { outputText } = ts.transpileModule(source, {
      fileName: `${name}.ts`,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
        rewriteRelativeImportExtensions: true
      }
    })
    writeFileSync(join(out, `${name}.js`), outputText)
  }
  return join(out, "memory-fold.js")
}

const fold = async (child: string, backend: string, target: string, events: number): Promise<MemoryRun> => {
  progress(`memory: ${backend}: folding ${events} events through the Executor (node, compiled package)`)
  const { stdout } = await run(process.execPath, [child, backend, target, String(events)], {
    cwd: root,
    maxBuffer: 1024 * 1024
  })
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as MemoryRun
  progress(`memory: ${backend}: ${events} events: peak RSS ${(result.maxRss / 1024 / 1024).toFixed(1)} MB in ${(result.ms / 1000).toFixed(2)} s`)
  return result
}

/**
 * Loads the large stream once more (nothing appended) with a full GC after the
 * small count of events and after the last: the live heap's growth per event.
 * Run before the large fold, which appends.
 */
const retained = async (child: string, backend: string, target: string, small: number, large: number): Promise<number> => {
  progress(`memory: ${backend}: live heap after ${small} and ${large} events (node --expose-gc, Executor.load)`)
  const { stdout } = await run(process.execPath, ["--expose-gc", child, backend, target, String(large)], {
    cwd: root,
    maxBuffer: 1024 * 1024,
    env: { ...process.env, MEMORY_LIVE_AT: `${small},${large}` }
  })
  const { live } = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { live: Array<[number, number]> }
  const [[, first], [, last]] = live as [[number, number], [number, number]]
  progress(`memory: ${backend}: live heap ${(first / 1024 / 1024).toFixed(1)} MB after ${small} events, ${(last / 1024 / 1024).toFixed(1)} MB after ${large}`)
  return (last - first) / (large - small)
}

const compare = (backend: MemoryResult["backend"], runs: ReadonlyArray<MemoryRun>, retainedBytesPerEvent: number): MemoryResult => {
  const [small, large] = runs as [MemoryRun, MemoryRun]
  return {
    backend,
    runs,
    ratio: large.maxRss / small.maxRss,
    bytesPerEvent: (large.maxRss - small.maxRss) / (large.events - small.events),
    retainedBytesPerEvent
  }
}

const sqliteRuns = async (child: string, dir: string, sizes: Sizes): Promise<MemoryResult> => {
  const runs: Array<MemoryRun> = []
  let retainedPerEvent = 0
  for (const events of [sizes.memorySmall, sizes.memoryLarge]) {
    const file = join(dir, `memory-${events}.db`)
    progress(`memory: sqlite: filling ${events} events`)
    await createDatabase(file)
    const db = openRaw(file)
    fillStream(db, accountStream("memory"), events)
    db.close()
    if (events === sizes.memoryLarge) retainedPerEvent = await retained(child, "sqlite", file, sizes.memorySmall, events)
    runs.push(await fold(child, "sqlite", file, events))
  }
  return compare("sqlite", runs, retainedPerEvent)
}

const postgresRuns = async (child: string, sizes: Sizes): Promise<MemoryResult> => {
  progress("memory: postgres: starting the server")
  const server = await startPgServer()
  try {
    const runs: Array<MemoryRun> = []
    let retainedPerEvent = 0
    for (const events of [sizes.memorySmall, sizes.memoryLarge]) {
      const database = await createBenchDatabase(server.url)
      try {
        await Effect.runPromise(Effect.scoped(Layer.build(PgEventStore.layer({ url: Redacted.make(database.url) }))))
        progress(`memory: postgres: filling ${events} events`)
        await withClient(database.url, async (client) => {
          await client.query(
            `INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at)
             SELECT $1, i + 1, md5(i::text)::uuid,
                    CASE WHEN i % 5 = 4 THEN 'Withdrawn' ELSE 'Deposited' END,
                    jsonb_build_object('amount', CASE WHEN i % 5 = 4 THEN i % 7 ELSE i % 100 END),
                    '{}'::jsonb, now()
             FROM generate_series(0, $2::int - 1) AS i`,
            [accountStream("memory"), events]
          )
          await client.query("VACUUM ANALYZE eventfold_events")
        })
        if (events === sizes.memoryLarge) retainedPerEvent = await retained(child, "postgres", database.url, sizes.memorySmall, events)
        runs.push(await fold(child, "postgres", database.url, events))
      } finally {
        await database.drop().catch(() => undefined)
      }
    }
    return compare("postgres", runs, retainedPerEvent)
  } finally {
    await server.stop()
  }
}

/** Fills and folds `sizes.memorySmall` and `sizes.memoryLarge` events on each backend. */
export const runMemory = async (dir: string, sizes: Sizes): Promise<Array<MemoryResult>> => {
  const backends = new Set((process.env["BENCH_MEMORY_BACKENDS"] ?? "sqlite,postgres").split(",").map((s) => s.trim()))
  const child = await prepareChild()
  const results: Array<MemoryResult> = []
  if (backends.has("sqlite")) results.push(await sqliteRuns(child, dir, sizes))
  if (backends.has("postgres")) results.push(await postgresRuns(child, sizes))
  return results
}
