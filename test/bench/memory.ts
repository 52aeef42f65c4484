/**
 * The memory case: folds a small and a large SQLite stream through the Executor,
 * each in a fresh child process (memory-child.ts), and compares their peak RSS.
 * Streaming keeps the ratio near 1; materializing the stream would grow it with
 * the event count.
 */
import { execFile } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import type { Sizes } from "./harness.ts"
import { progress } from "./harness.ts"

const run = promisify(execFile)
const child = fileURLToPath(new URL("./memory-child.ts", import.meta.url))

/** One fold, as the child reports it. */
export interface MemoryRun {
  readonly events: number
  readonly ms: number
  readonly startRss: number
  readonly sampledPeakRss: number
  readonly maxRss: number
}

/** Both folds and how their peaks compare. */
export interface MemoryResult {
  readonly runs: ReadonlyArray<MemoryRun>
  /** Peak RSS of the large fold over that of the small one. */
  readonly ratio: number
  /** Extra peak RSS per extra event. */
  readonly bytesPerEvent: number
}

const tsx = async (args: ReadonlyArray<string>): Promise<string> => {
  const { stdout } = await run(process.execPath, ["--import", "tsx", child, ...args], {
    maxBuffer: 1024 * 1024,
    cwd: fileURLToPath(new URL("../..", import.meta.url))
  })
  const last = stdout.trim().split("\n").at(-1) ?? ""
  return last
}

/** Fills and folds `sizes.memorySmall` and `sizes.memoryLarge` events. */
export const runMemory = async (dir: string, sizes: Sizes): Promise<MemoryResult> => {
  const runs: Array<MemoryRun> = []
  for (const events of [sizes.memorySmall, sizes.memoryLarge]) {
    const file = join(dir, `memory-${events}.db`)
    progress(`memory: filling ${events} events (child process)`)
    await tsx(["fill", file, String(events)])
    progress(`memory: folding ${events} events through the Executor (child process)`)
    const result = JSON.parse(await tsx(["fold", file, String(events)])) as MemoryRun
    progress(`memory: ${events} events: peak RSS ${(result.maxRss / 1024 / 1024).toFixed(1)} MB in ${(result.ms / 1000).toFixed(2)} s`)
    runs.push(result)
  }
  const [small, large] = runs as [MemoryRun, MemoryRun]
  return {
    runs,
    ratio: large.maxRss / small.maxRss,
    bytesPerEvent: (large.maxRss - small.maxRss) / (large.events - small.events)
  }
}
