/**
 * The memory case, run in its own process so that its peak RSS is its own:
 *
 *   tsx test/bench/memory-child.ts fill <file> <events>   fills a fresh SQLite file (raw bulk insert)
 *   tsx test/bench/memory-child.ts fold <file> <events>   folds the stream through the Executor
 *
 * `fold` executes one command whose decider reads and folds the whole stream,
 * then appends one event, and prints one JSON line: the events folded, the time,
 * and the peak RSS (`process.resourceUsage().maxRSS`, and the peak of
 * `process.memoryUsage().rss` sampled every 5 ms).
 */
import { Effect } from "effect"
import { Executor } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"
import { account, accountStream, Deposit, expectedSum } from "./domain.ts"
import { createDatabase, fillStream, openRaw } from "./sqlite.ts"

const [mode, file, eventsArg] = process.argv.slice(2)
const events = Number(eventsArg)
if (file === undefined || !Number.isInteger(events) || events <= 0 || (mode !== "fill" && mode !== "fold")) {
  console.error("usage: memory-child.ts fill|fold <file> <events>")
  process.exit(2)
}

if (mode === "fill") {
  await createDatabase(file)
  const db = openRaw(file)
  fillStream(db, accountStream("memory"), events)
  db.close()
  console.log(JSON.stringify({ filled: events }))
} else {
  let peak = process.memoryUsage().rss
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 5)
  const layer = Executor.layerOn(SqliteEventStore.layer({ filename: file }))
  const startRss = process.memoryUsage().rss
  const start = performance.now()
  const result = await Effect.runPromise(
    Executor.execute(account, new Deposit({ account: "memory", amount: 1 })).pipe(Effect.provide(layer))
  )
  const ms = performance.now() - start
  clearInterval(sampler)
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
    maxRss: process.resourceUsage().maxRSS * 1024
  }))
}
