/**
 * Hot stream across processes: 2 OS processes × 8 fibers × 50 increments of one
 * stream in one SQLite file, with the Executor's default settings. Each process
 * serializes its own fibers; the two processes meet as optimistic writers and
 * retry under the default time budget. Timing is printed, not asserted (speed is
 * `npm run bench`'s job).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { EventStore, StreamId } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)
const child = new URL("./ExecutorContention-child.ts", import.meta.url).pathname

interface Report {
  readonly done: number
  readonly exhausted: number
  readonly conflicts: number
  readonly ms: number
}

const contend = async (file: string, processes: number, fibers: number, increments: number) => {
  const started = performance.now()
  const reports = await Promise.all(
    Array.from({ length: processes }, () =>
      run(process.execPath, ["--import", "tsx", child, file, String(fibers), String(increments)], { timeout: 120_000 })
        .then(({ stdout }) => JSON.parse(stdout.trim().split("\n").at(-1)!) as Report))
  )
  return { reports, ms: Math.round(performance.now() - started) }
}

const countEvents = (file: string) =>
  Effect.runPromise(
    Effect.flatMap(EventStore.EventStore, (store) => Stream.runCount(store.read(StreamId.unsafeMake("counter-hot")))).pipe(
      Effect.provide(SqliteEventStore.layer({ filename: file }))
    )
  )

describe("Executor on a hot stream across processes (SQLite)", () => {
  it("2 processes × 8 fibers × 50 increments: exactly 800 events, no RetriesExhausted", { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "eventfold-contention-"))
    try {
      const file = join(dir, "hot.db")
      expect(await countEvents(file)).toBe(0) // creates the schema before the children start
      const { ms, reports } = await contend(file, 2, 8, 50)
      expect(reports.map((r) => r.exhausted)).toEqual([0, 0])
      expect(reports.map((r) => r.done)).toEqual([400, 400])
      expect(await countEvents(file)).toBe(800)
      console.log(`2 processes × 8 fibers × 50 increments: ${ms} ms, conflicts ${reports.map((r) => r.conflicts).join(" + ")}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
