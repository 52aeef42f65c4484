/**
 * The lock file of a store directory: one process at a time.
 *
 * Taken by creating the file exclusively (`wx`) with `{ pid, token }` inside.
 * A lock that is already there is stale, and replaced, when its process is gone
 * (`process.kill(pid, 0)` says no such process), or when it names this very
 * process but no store in this process holds it (a restarted container, where
 * the new process gets the same pid as the crashed one). Otherwise opening
 * fails with `StoreUnavailable` whose cause is a `StoreLocked` naming the lock
 * file and its holder. A lock file whose content cannot be read as such is not
 * taken over: delete it by hand once you know no process uses the directory.
 */
import type { FileSystem } from "@effect/platform"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { StoreUnavailable } from "../../StoreError.ts"

/**
 * Why a store directory cannot be opened: another process (or another store in
 * this process) holds its lock file. The `cause` of a `StoreUnavailable`.
 */
export class StoreLocked extends Data.TaggedError("StoreLocked")<{
  readonly lockFile: string
  /** The holder's process id, or undefined when the lock file cannot be read. */
  readonly pid: number | undefined
}> {
  override get message(): string {
    return this.pid === undefined
      ? `the lock file ${this.lockFile} is held by another process or cannot be read; if no process uses this directory, delete it`
      : `the store is locked by process ${this.pid} (lock file ${this.lockFile}); one process at a time may open a store directory`
  }
}

/** Lock files held by stores of this process (shared by every copy of this module). */
const held: Set<string> = (() => {
  const key = Symbol.for("eventfold/file/heldLocks")
  const global = globalThis as { [key]?: Set<string> }
  global[key] ??= new Set<string>()
  return global[key]
})()

const currentPid = (): number | undefined => globalThis.process?.pid

/** Whether process `pid` runs; true when it cannot be told (no `process` on this platform). */
const processAlive = (pid: number): boolean => {
  const proc = globalThis.process
  if (proc === undefined || typeof proc.kill !== "function") return true
  try {
    proc.kill(pid, 0)
    return true
  } catch (error) {
    return !(typeof error === "object" && error !== null && "code" in error && error.code === "ESRCH")
  }
}

const parseLock = (text: string): { pid: number; token: string } | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== "object" || value === null) return undefined
    const { pid, token } = value as { pid?: unknown; token?: unknown }
    if (typeof pid !== "number" || !Number.isSafeInteger(pid) || typeof token !== "string") return undefined
    return { pid, token }
  } catch {
    return undefined
  }
}

const isAlreadyExists = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "SystemError" &&
  "reason" in error && error.reason === "AlreadyExists"

/** Takes the lock for the scope's lifetime; releases it (removes the file) when the scope closes. */
export const acquire = (fs: FileSystem.FileSystem, lockFile: string): Effect.Effect<void, StoreUnavailable, Scope.Scope> => {
  const token = crypto.randomUUID()
  const content = JSON.stringify({ pid: currentPid() ?? null, token, since: new Date().toISOString() })
  const create = fs.writeFileString(lockFile, content, { flag: "wx" })
  const fail = (pid: number | undefined) =>
    Effect.fail(new StoreUnavailable({ operation: "open", cause: new StoreLocked({ lockFile, pid }) }))
  const unavailable = (cause: unknown) => new StoreUnavailable({ operation: "open", cause })

  const take: Effect.Effect<void, StoreUnavailable> = Effect.catchAll(create, (error) => {
    if (!isAlreadyExists(error)) return Effect.fail(unavailable(error))
    return Effect.flatMap(Effect.mapError(fs.readFileString(lockFile), unavailable), (text) => {
      const existing = parseLock(text)
      if (existing === undefined) return fail(undefined)
      const stale = existing.pid === currentPid() ? !held.has(lockFile) : !processAlive(existing.pid)
      if (!stale) return fail(existing.pid)
      // Replace the stale lock; if another process replaced it first, its lock stands.
      return Effect.zipRight(
        Effect.mapError(fs.remove(lockFile), unavailable),
        Effect.catchAll(create, (again) => isAlreadyExists(again) ? fail(undefined) : Effect.fail(unavailable(again)))
      )
    })
  })

  const release = Effect.suspend(() => {
    held.delete(lockFile)
    return fs.readFileString(lockFile).pipe(
      Effect.flatMap((text) => parseLock(text)?.token === token ? fs.remove(lockFile) : Effect.void),
      Effect.ignore
    )
  })

  return Effect.acquireRelease(Effect.tap(take, () => Effect.sync(() => held.add(lockFile))), () => release)
}
