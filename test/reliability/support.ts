/**
 * Helpers of the reliability suite: worker processes (./fixtures/worker.ts) and
 * the store each test opens on a SQLite file or a PostgreSQL schema.
 */
import { spawn } from "node:child_process"
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Chunk, Effect, Stream } from "effect"
import type { EventStore, StreamId } from "eventfold"

const root = fileURLToPath(new URL("../..", import.meta.url))
const worker = fileURLToPath(new URL("./fixtures/worker.ts", import.meta.url))

/** A worker process, its stdout as lines, and its exit. */
export interface Worker {
  readonly child: ChildProcessWithoutNullStreams
  /** Resolves with the next stdout line that satisfies `predicate`. */
  readonly waitFor: (predicate: (line: string) => boolean) => Promise<string>
  readonly lines: ReadonlyArray<string>
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stderr: string }>
}

/**
 * Starts `node --import tsx worker.ts ...args` directly (so a SIGKILL reaches the
 * process that appends).
 */
export const startWorker = (args: ReadonlyArray<string>): Worker => {
  const child = spawn(process.execPath, ["--import", "tsx", worker, ...args], { cwd: root, stdio: ["pipe", "pipe", "pipe"] })
  child.stdin.on("error", () => undefined)
  let stderr = ""
  child.stderr.setEncoding("utf8")
  child.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-16_000)
  })
  const lines: Array<string> = []
  const waiters: Array<{ readonly predicate: (line: string) => boolean; readonly resolve: (line: string) => void }> = []
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line)
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]!
      if (waiter.predicate(line)) {
        waiters.splice(i, 1)
        waiter.resolve(line)
      }
    }
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, stderr }))
  )
  const waitFor = (predicate: (line: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find(predicate)
      if (seen !== undefined) return resolve(seen)
      waiters.push({ predicate, resolve })
      void exited.then(({ code, signal, stderr }) =>
        reject(new Error(`worker exited (code ${code}, signal ${signal}) before the awaited line:\n${stderr}`))
      )
    })
  return { child, waitFor, lines, exited }
}

/** A fresh temporary SQLite file name. */
export const tempSqliteFile = (label: string): string => join(mkdtempSync(join(tmpdir(), `eventfold-rel-${label}-`)), "events.db")

/** Every event of `streamId`, in version order. */
export const readStream = (store: EventStore.EventStore.Service, streamId: StreamId.StreamId) =>
  Effect.map(Stream.runCollect(store.read(streamId, { pageSize: 1000 })), Chunk.toReadonlyArray)

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
export const seeded = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
