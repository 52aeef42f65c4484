import { afterAll, describe, expect, it } from "@effect/vitest"
import { Error as PlatformError, FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Cause, Chunk, ConfigProvider, Effect, Exit, Layer, Option, Stream } from "effect"
import { Event, EventStore, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { FileEventStore } from "eventfold/file"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { payload } from "./fixtures/payload.ts"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "eventfold-file-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
let counter = 0
const freshDir = (label: string) => path.join(root, `${label}-${++counter}`)
const sid = StreamId.unsafeMake

const event = (n: number): Effect.Effect<Event.EventData> =>
  Effect.map(Event.makeEventId, (eventId) => ({ eventId, type: "Deposited", data: JSON.stringify({ amount: n }), metadata: "{}" }))
const events = (from: number, to: number) => Effect.forEach(Array.from({ length: to - from + 1 }, (_, i) => from + i), event)

/** Runs `f` on a store opened in `directory`, closing it (and its lock) afterwards. */
const withStore = <A, E>(
  directory: string,
  f: (store: EventStore.EventStore.Service) => Effect.Effect<A, E>,
  options: Omit<FileEventStore.Options, "directory"> = {}
) =>
  Effect.scoped(Effect.flatMap(FileEventStore.make({ directory, ...options }), f)).pipe(Effect.provide(NodeFileSystem.layer))

const all = (store: EventStore.EventStore.Service) =>
  Effect.map(Stream.runCollect(store.readAll()), (chunk) => Chunk.toReadonlyArray(chunk))

const logOf = (directory: string) => path.join(directory, FileEventStore.logFileName)

/** The failure of an exit, which must be a StoreUnavailable. */
const unavailable = <A, E>(exit: Exit.Exit<A, E>): StoreError.StoreUnavailable => {
  expect(Exit.isFailure(exit)).toBe(true)
  const failure = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
  expect(failure).toBeInstanceOf(StoreError.StoreUnavailable)
  return failure as unknown as StoreError.StoreUnavailable
}

describe("FileEventStore", () => {
  it.live("events, versions, positions and recordedAt survive closing and reopening the store", () =>
    Effect.gen(function*() {
      const directory = freshDir("reopen")
      const first = yield* events(1, 3)
      const before = yield* withStore(directory, (store) =>
        Effect.gen(function*() {
          yield* store.append([
            { streamId: sid("a"), expected: ExpectedVersion.noStream, events: first.slice(0, 2) },
            { streamId: sid("b"), expected: ExpectedVersion.noStream, events: first.slice(2) }
          ])
          return yield* all(store)
        }))
      const more = yield* events(4, 4)
      const after = yield* withStore(directory, (store) =>
        Effect.gen(function*() {
          const reread = yield* all(store)
          // versions continue where the log ended, and stored ids stay taken
          const appended = yield* store.append({ streamId: sid("a"), expected: ExpectedVersion.unsafeExact(2), events: more })
          const duplicate = yield* Effect.flip(
            store.append({ streamId: sid("c"), expected: ExpectedVersion.any, events: [first[0]!] })
          )
          return { reread, appended, duplicate }
        }))
      expect(after.reread).toEqual(before)
      expect(before.map((e) => [e.streamId, e.version, e.position, e.eventId])).toEqual([
        ["a", 1, 1, first[0]!.eventId],
        ["a", 2, 2, first[1]!.eventId],
        ["b", 1, 3, first[2]!.eventId]
      ])
      expect(after.appended).toEqual({ streams: [{ streamId: "a", version: 3 }], positions: [4] })
      expect(after.duplicate).toEqual(new StoreError.DuplicateEventId({ eventId: first[0]!.eventId, streamId: sid("c") }))
    }))

  it.live("a record cut short at the end of the log is cut off on open, kept aside, and never read", () =>
    Effect.gen(function*() {
      const directory = freshDir("torn")
      const written = yield* events(1, 5)
      yield* withStore(directory, (store) =>
        Effect.gen(function*() {
          yield* store.append({ streamId: sid("s"), expected: ExpectedVersion.any, events: written.slice(0, 3) })
          yield* store.append({ streamId: sid("s"), expected: ExpectedVersion.any, events: written.slice(3) })
        }))
      const log = logOf(directory)
      const full = fs.readFileSync(log)
      // Cut the second record in the middle: a crash while writing it.
      const secondStart = findSecondRecord(full)
      const torn = Math.floor((secondStart + full.length) / 2)
      fs.truncateSync(log, torn)
      const reread = yield* withStore(directory, (store) =>
        Effect.gen(function*() {
          const before = yield* all(store)
          const next = yield* store.append({ streamId: sid("s"), expected: ExpectedVersion.unsafeExact(3), events: written.slice(3) })
          return { before, next, after: yield* all(store) }
        }))
      expect(reread.before.map((e) => e.eventId)).toEqual(written.slice(0, 3).map((e) => e.eventId))
      expect(reread.next.positions).toEqual([4, 5])
      expect(reread.after.map((e) => [e.version, e.position])).toEqual([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]])
      const cut = fs.readdirSync(directory).filter((name) => name.startsWith(`${FileEventStore.logFileName}.cut-${secondStart}-`))
      expect(cut).toHaveLength(1)
      expect(fs.readFileSync(path.join(directory, cut[0]!))).toEqual(full.subarray(secondStart, torn))
    }))

  it.live("a last record whose checksum fails, or zeros after the last record, are cut off the same way", () =>
    Effect.gen(function*() {
      for (const damage of ["flip a byte of the last payload", "zeros after the log"] as const) {
        const directory = freshDir("damaged")
        const written = yield* events(1, 2)
        yield* withStore(directory, (store) =>
          Effect.forEach(written, (e) => store.append({ streamId: sid("s"), expected: ExpectedVersion.any, events: [e] })))
        const log = logOf(directory)
        const bytes = fs.readFileSync(log)
        if (damage === "zeros after the log") {
          fs.appendFileSync(log, Buffer.alloc(4096))
        } else {
          bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff
          fs.writeFileSync(log, bytes)
        }
        const reread = yield* withStore(directory, all)
        expect(reread.map((e) => e.eventId)).toEqual(
          damage === "zeros after the log" ? written.map((e) => e.eventId) : [written[0]!.eventId]
        )
        expect(fs.statSync(log).size).toBe(damage === "zeros after the log" ? bytes.length : findSecondRecord(bytes))
      }
    }))

  it.live("a second store on the same directory fails with StoreUnavailable naming the lock file and the holder", () =>
    Effect.gen(function*() {
      const directory = freshDir("locked")
      const exit = yield* withStore(directory, () => Effect.exit(withStore(directory, () => Effect.void)))
      const error = unavailable(exit)
      expect(error.cause).toBeInstanceOf(FileEventStore.StoreLocked)
      const locked = error.cause as FileEventStore.StoreLocked
      expect(locked.lockFile).toBe(path.join(fs.realpathSync(directory), FileEventStore.lockFileName))
      expect(locked.pid).toBe(process.pid)
      expect(error.message).toContain(FileEventStore.lockFileName)
      // Closing the first store releases the lock.
      expect(fs.existsSync(locked.lockFile)).toBe(false)
      yield* withStore(directory, () => Effect.void)
    }))

  it.live("a lock held by another live process refuses; one left by a process that has exited is taken over", () =>
    Effect.gen(function*() {
      const directory = freshDir("stale")
      fs.mkdirSync(directory)
      const lockFile = path.join(directory, FileEventStore.lockFileName)
      // The parent of this process runs: its lock stands.
      fs.writeFileSync(lockFile, JSON.stringify({ pid: process.ppid, token: "other" }))
      const exit = yield* Effect.exit(withStore(directory, () => Effect.void))
      expect((unavailable(exit).cause as FileEventStore.StoreLocked).pid).toBe(process.ppid)
      // A process that has exited: its lock is stale.
      const dead = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const child = spawn(process.execPath, ["-e", ""])
          child.on("exit", () => resolve(child.pid!))
        })
      )
      fs.writeFileSync(lockFile, JSON.stringify({ pid: dead, token: "gone" }))
      const stored = yield* withStore(directory, (store) =>
        Effect.zipRight(
          Effect.flatMap(event(1), (e) => store.append({ streamId: sid("s"), expected: ExpectedVersion.any, events: [e] })),
          Effect.sync(() => JSON.parse(fs.readFileSync(lockFile, "utf8")).pid as number)
        ))
      expect(stored).toBe(process.pid)
    }))

  it.live("bad options fail with InvalidArgument and a file that is not a log with StoreUnavailable, writing nothing", () =>
    Effect.gen(function*() {
      const directory = freshDir("bad")
      for (const options of [{ pageSize: 0 }, { pageSize: 1.5 }, { durability: "sometimes" as "none" }]) {
        const error = yield* Effect.flip(withStore(directory, () => Effect.void, options))
        expect(error._tag).toBe("InvalidArgument")
      }
      expect(fs.existsSync(directory)).toBe(false)
      fs.mkdirSync(directory)
      fs.writeFileSync(logOf(directory), "name,amount\nada,10\n")
      const exit = yield* Effect.exit(withStore(directory, () => Effect.void))
      expect(String((unavailable(exit).cause as Error).message)).toContain("not an eventfold log")
      expect(fs.readFileSync(logOf(directory), "utf8")).toBe("name,amount\nada,10\n")
    }))

  it.live("durability none and the store's pageSize: appends and paged reads behave the same", () =>
    Effect.gen(function*() {
      const directory = freshDir("nosync")
      const written = yield* events(1, 25)
      const read = yield* withStore(directory, (store) =>
        Effect.gen(function*() {
          for (let i = 0; i < 25; i += 5) {
            yield* store.append({ streamId: sid("s"), expected: ExpectedVersion.unsafeExact(i), events: written.slice(i, i + 5) })
          }
          const chunks = yield* Stream.runCollect(Stream.chunks(store.read(sid("s"))))
          const backward = yield* Stream.runCollect(store.read(sid("s"), { direction: "backward", from: 12 }))
          return { sizes: Chunk.toReadonlyArray(chunks).map(Chunk.size), backward: Chunk.toReadonlyArray(backward).map((e) => e.version) }
        }), { durability: "none", pageSize: 7 })
      expect(read.sizes).toEqual([7, 7, 7, 4])
      expect(read.backward).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    }))

  it.live("a write that fails half way fails the append with StoreUnavailable and leaves no trace (make on any FileSystem)", () =>
    Effect.gen(function*() {
      const directory = freshDir("failing")
      let failWrites = false
      // Node's FileSystem, except that while failWrites is set a write stores half its bytes, then fails.
      const failing = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (real) =>
          FileSystem.FileSystem.of({
            ...real,
            open: (file, options) =>
              Effect.map(real.open(file, options), (handle): FileSystem.File => ({
                [FileSystem.FileTypeId]: FileSystem.FileTypeId,
                fd: handle.fd,
                get stat() {
                  return handle.stat
                },
                get sync() {
                  return handle.sync
                },
                seek: (offset, from) => handle.seek(offset, from),
                read: (buffer) => handle.read(buffer),
                readAlloc: (size) => handle.readAlloc(size),
                truncate: (length) => handle.truncate(length),
                write: (buffer) => handle.write(buffer),
                writeAll: (bytes) =>
                  failWrites
                    ? Effect.zipRight(
                      handle.writeAll(bytes.subarray(0, bytes.length >> 1)),
                      Effect.fail(
                        new PlatformError.SystemError({ reason: "Unknown", module: "FileSystem", method: "writeAll", description: "disk full" })
                      )
                    )
                    : handle.writeAll(bytes)
              }))
          }))
      ).pipe(Layer.provide(NodeFileSystem.layer))
      const [a, b, c] = yield* events(1, 3)
      const outcome = yield* Effect.scoped(
        Effect.gen(function*() {
          const store = yield* FileEventStore.make({ directory })
          yield* store.append({ streamId: sid("s"), expected: ExpectedVersion.any, events: [a!] })
          failWrites = true
          const failed = yield* Effect.flip(store.append({ streamId: sid("s"), expected: ExpectedVersion.any, events: [b!] }))
          failWrites = false
          const next = yield* store.append({ streamId: sid("s"), expected: ExpectedVersion.unsafeExact(1), events: [c!] })
          return { failed, next, read: yield* all(store) }
        })
      ).pipe(Effect.provide(failing))
      expect(outcome.failed).toBeInstanceOf(StoreError.StoreUnavailable)
      expect((outcome.failed as StoreError.StoreUnavailable).operation).toBe("append")
      expect(outcome.next).toEqual({ streams: [{ streamId: "s", version: 2 }], positions: [2] })
      const expected = [[a!.eventId, 1, 1], [c!.eventId, 2, 2]]
      expect(outcome.read.map((e) => [e.eventId, e.version, e.position])).toEqual(expected)
      // and the file holds exactly that: nothing is cut on reopening
      const reopened = yield* withStore(directory, all)
      expect(reopened.map((e) => [e.eventId, e.version, e.position])).toEqual(expected)
      expect(fs.readdirSync(directory).filter((name) => name.includes(".cut-"))).toEqual([])
    }))

  it.live("layerConfig reads the directory from EVENTFOLD_FILE_DIRECTORY", () =>
    Effect.gen(function*() {
      const directory = freshDir("config")
      const e = yield* event(7)
      const layer = FileEventStore.layerConfig().pipe(
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson({ EVENTFOLD_FILE_DIRECTORY: directory })))
      )
      yield* Effect.flatMap(EventStore.EventStore, (store) => store.append({ streamId: sid("s"), expected: ExpectedVersion.any, events: [e] })).pipe(
        Effect.provide(layer)
      )
      expect(fs.statSync(logOf(directory)).size).toBeGreaterThan(8)
    }))

  it.live(
    "a writer killed with SIGKILL mid-append 10 times: the log reopens with every acknowledged append and no partial one",
    () =>
      Effect.gen(function*() {
        const directory = freshDir("crash")
        const eventsPerAppend = 40
        const padding = 4000
        const acked = new Map<string, number>() // run -> highest acknowledged batch
        for (let run = 0; run < 10; run++) {
          const name = `r${run}`
          acked.set(name, yield* Effect.promise(() => crashingWriter(directory, name, eventsPerAppend, padding, 2 + (run * 7) % 11)))
          const stored = yield* withStore(directory, all)
          // Positions are dense; every append is there whole or not at all; none is lost once acknowledged.
          expect(stored.map((e) => e.position)).toEqual(stored.map((_, i) => i + 1))
          const batches = new Map<string, Array<Event.StoredEvent>>()
          for (const e of stored) {
            const { k, run: r } = JSON.parse(e.data) as { run: string; k: number }
            const key = `${r}/${k}`
            batches.set(key, [...(batches.get(key) ?? []), e])
          }
          for (const [key, batch] of batches) {
            const [r, k] = key.split("/") as [string, string]
            expect(batch.map((e) => e.data)).toEqual(
              Array.from({ length: eventsPerAppend }, (_, i) => payload(r, Number(k), i, padding))
            )
          }
          for (const [r, highest] of acked) {
            const present = [...batches.keys()].filter((key) => key.startsWith(`${r}/`)).map((key) => Number(key.split("/")[1]))
            // every acknowledged batch, and at most the one in flight when the writer was killed
            expect(present.sort((a, b) => a - b)).toEqual(Array.from({ length: present.length }, (_, i) => i))
            expect(present.length === highest + 1 || present.length === highest + 2).toBe(true)
          }
        }
      }),
    600_000
  )
})

/** The byte offset of the second record of a log: after the 8-byte header and the first framed record. */
function findSecondRecord(log: Buffer): number {
  return 8 + 8 + log.readUInt32LE(8)
}

const here = path.dirname(fileURLToPath(import.meta.url))
const repository = path.resolve(here, "../..")

/**
 * Starts test/file/fixtures/crasher.ts (`node --import tsx`), lets it acknowledge
 * `kills` appends, then kills it with SIGKILL at once, while it writes the next
 * one. Resolves with the highest batch it acknowledged.
 */
function crashingWriter(directory: string, run: string, events: number, bytes: number, killAfter: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(here, "fixtures/crasher.ts"), directory, run, String(events), String(bytes)],
      { cwd: repository, stdio: ["ignore", "pipe", "pipe"] }
    )
    let highest = -1
    let out = ""
    let err = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (text: string) => {
      out += text
      const lines = out.split("\n")
      out = lines.pop() ?? ""
      for (const line of lines) {
        if (line.startsWith("ack ")) highest = Math.max(highest, Number(line.slice(4)))
      }
      if (highest + 1 >= killAfter) child.kill("SIGKILL")
    })
    child.stderr.on("data", (text: Buffer) => (err += text.toString()))
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve(highest)
      else reject(new Error(`the writer exited with ${code} before it was killed: ${err}`))
    })
  })
}
