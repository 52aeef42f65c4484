/**
 * The measured process of the memory case. It is NOT run with tsx: memory.ts
 * compiles this file and ./domain.ts to plain JavaScript (under .data/bench/, in
 * the package scope) and runs it with `node`, so "eventfold" resolves to the
 * compiled package (dist/, `npm run build`) and no loader shares the heap.
 *
 *   node .data/bench/memory-fold.js sqlite <file> <events>
 *   node .data/bench/memory-fold.js postgres <url> <events>
 *
 * It executes one command whose decider reads and folds the whole stream, then
 * appends one event, and prints one JSON line: the events folded, the time, and
 * the peak RSS (`VmHWM`, see `peakRss`, and the peak of
 * `process.memoryUsage().rss` sampled every 5 ms). With `MEMORY_SNAPSHOT_AT=n`
 * (a comma-separated list) it writes a heap snapshot after the n-th event folded
 * (`v8.writeHeapSnapshot`, into the working directory): what stays alive while the fold runs;
 * `MEMORY_PAGE_SIZE=n` sets the Executor's read page size;
 * with `MEMORY_TRACE=1` it prints the process's memory use (and V8's heap spaces) to stderr every
 * `MEMORY_TRACE_EVERY` (default 50,000) events.
 *
 * With `MEMORY_LIVE_AT=n,m` (run with `node --expose-gc`) it measures retention instead of
 * peaks: it loads the stream (`Executor.load`: nothing is appended), and after the n-th and
 * m-th event folded runs a full GC and records the live heap (`heapUsed`); it prints
 * `{ events, live: [[n, bytes], [m, bytes]] }`. What a fold retains per event is the
 * difference over m - n; RSS peaks also count garbage V8 has not collected yet.
 */
import { readFileSync } from "node:fs"
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8"
import { Effect, Redacted } from "effect"
import { Decider, Executor } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"
import { account, Deposit, expectedSum } from "./domain.ts"

const [backend, target, eventsArg] = process.argv.slice(2)
const events = Number(eventsArg)
if (target === undefined || !Number.isInteger(events) || events <= 0 || (backend !== "sqlite" && backend !== "postgres")) {
  console.error("usage: memory-fold.js sqlite|postgres <file|url> <events>")
  process.exit(2)
}

/**
 * The process's peak RSS: `VmHWM` of /proc/self/status on Linux. Not
 * `process.resourceUsage().maxRSS`: Linux carries `ru_maxrss` across exec, so a
 * child forked from a big parent (the bench, after filling a million rows)
 * reports at least the parent's RSS. Elsewhere, maxRSS is all there is.
 */
const peakRss = (): number => {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))
    if (match !== null) return Number(match[1]) * 1024
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024
}

const snapshotsAt = new Set(
  (process.env["MEMORY_SNAPSHOT_AT"] ?? "").split(",").filter((s) => s.trim() !== "").map(Number)
)
const trace = process.env["MEMORY_TRACE"] !== undefined
const liveAt = new Set(
  (process.env["MEMORY_LIVE_AT"] ?? "").split(",").filter((s) => s.trim() !== "").map(Number)
)
const live: Array<readonly [number, number]> = []
const gc = (globalThis as { gc?: () => void }).gc
if (liveAt.size > 0 && gc === undefined) {
  console.error("MEMORY_LIVE_AT needs node --expose-gc")
  process.exit(2)
}
const report = () => {
  const usage = process.memoryUsage()
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1)
  const spaces = getHeapSpaceStatistics()
    .filter((space) => space.space_size > 0)
    .map((space) => `${space.space_name.replace("_space", "")} ${mb(space.space_used_size)}/${mb(space.space_size)}`)
    .join(", ")
  console.error(
    `folded ${folded}: rss ${mb(usage.rss)} heapTotal ${mb(usage.heapTotal)} heapUsed ${mb(usage.heapUsed)} external ${mb(usage.external)} arrayBuffers ${mb(usage.arrayBuffers)} (${spaces})`
  )
}
let folded = 0
const decider = snapshotsAt.size === 0 && liveAt.size === 0 && !trace ? account : Decider.make({
  name: account.name,
  codec: account.codec,
  initialState: account.initialState,
  streams: account.streams,
  decide: account.decide,
  evolve: (state: number, event, streamId) => {
    folded++
    if (trace && folded % (Number(process.env["MEMORY_TRACE_EVERY"] ?? 50_000)) === 0) report()
    if (snapshotsAt.has(folded)) console.error(`heap snapshot at ${folded}: ${writeHeapSnapshot()}`)
    if (liveAt.has(folded)) {
      gc!()
      live.push([folded, process.memoryUsage().heapUsed])
    }
    return account.evolve(state, event, streamId)
  }
})

if (liveAt.size > 0) {
  const layer = Executor.layerOn(
    backend === "sqlite"
      ? SqliteEventStore.layer({ filename: target })
      : PgEventStore.layer({ url: Redacted.make(target), runMigrations: false })
  )
  const loaded = await Effect.runPromise(
    Executor.load(decider, new Deposit({ account: "memory", amount: 1 })).pipe(Effect.provide(layer))
  )
  if (loaded.state !== expectedSum(events)) {
    console.error(`loaded balance ${loaded.state}, expected ${expectedSum(events)}`)
    process.exit(1)
  }
  console.log(JSON.stringify({ events, live }))
  process.exit(0)
}

let peak = process.memoryUsage().rss
const sampler = setInterval(() => {
  const usage = process.memoryUsage()
  peak = Math.max(peak, usage.rss)
}, 5)
const store = backend === "sqlite"
  ? SqliteEventStore.layer({ filename: target })
  : PgEventStore.layer({ url: Redacted.make(target), runMigrations: false })
const pageSize = process.env["MEMORY_PAGE_SIZE"]
const layer = Executor.layerOn(store, pageSize === undefined ? {} : { pageSize: Number(pageSize) })
if (trace) report()
const startRss = process.memoryUsage().rss
const start = performance.now()
const result = await Effect.runPromise(
  Executor.execute(decider, new Deposit({ account: "memory", amount: 1 })).pipe(Effect.provide(layer))
)
const ms = performance.now() - start
clearInterval(sampler)
if (trace) report()
peak = Math.max(peak, process.memoryUsage().rss)
const expected = expectedSum(events) + 1
if (result.state !== expected) {
  console.error(`folded balance ${result.state}, expected ${expected}`)
  process.exit(1)
}
console.log(JSON.stringify({
  events,
  ms,
  startRss,
  sampledPeakRss: peak,
  maxRss: peakRss()
}))
