/**
 * File store cases: eventfold's `FileEventStore` against `node:fs` doing the same
 * I/O by hand on a JSON-lines file: for appends one line per append written with
 * `writeSync` and made durable with `fsyncSync` (the store's default durability);
 * for reads the whole file read at once and every line parsed. The baselines do
 * no concurrency control, no framing, no index and no paging: they are the floor.
 */
import { randomUUID } from "node:crypto"
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { EventStore, ExpectedVersion, StreamId } from "eventfold"
import { FileEventStore } from "eventfold/file"
import type { AccountEvent } from "./domain.ts"
import { codec, eventAt, evolve, evolveRaw, expectedSum, rawEventAt, sequentialEventId } from "./domain.ts"
import type { CaseResult, Sizes } from "./harness.ts"
import { compare, progress, timed } from "./harness.ts"

const check = (what: string, actual: number, expected: number): void => {
  if (actual !== expected) throw new Error(`${what}: folded ${actual}, expected ${expected}`)
}

type StoreRuntime = ManagedRuntime.ManagedRuntime<EventStore.EventStore, unknown>

const storeRuntime = (directory: string, durability: "fsync" | "none" = "fsync"): StoreRuntime =>
  ManagedRuntime.make(Layer.orDie(FileEventStore.layer({ directory, durability })))

/** One JSON line per event, as the raw baselines write and read them. */
const line = (streamId: string, version: number, eventId: string, type: string, data: string, now: number) =>
  JSON.stringify({ streamId, version, eventId, type, data, metadata: "{}", recordedAt: now }) + "\n"

/** Runs every file store case in `dir`. */
export const runFile = async (dir: string, sizes: Sizes): Promise<Array<CaseResult>> => {
  const results: Array<CaseResult> = []
  const repeats = sizes.repeats

  // --- (1) and (2): reads of one stream of `events` events --------------------
  const readDir = join(dir, "file-read")
  const readStream = StreamId.unsafeMake("account-read")
  const rawFile = join(dir, "file-read.jsonl")
  {
    progress(`file: filling ${sizes.events} events for the read cases`)
    const fill = storeRuntime(readDir, "none")
    await fill.runPromise(Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      for (let from = 0; from < sizes.events; from += 1000) {
        const events = []
        for (let i = from; i < Math.min(sizes.events, from + 1000); i++) {
          const { data, type } = rawEventAt(i)
          events.push({ eventId: sequentialEventId(i), type, data, metadata: "{}" })
        }
        yield* store.append({ streamId: readStream, expected: ExpectedVersion.any, events })
      }
    }))
    await fill.dispose()
    const fd = openSync(rawFile, "w")
    const now = Date.now()
    let text = ""
    for (let i = 0; i < sizes.events; i++) {
      const { data, type } = rawEventAt(i)
      text += line(readStream, i + 1, sequentialEventId(i), type, data, now)
      if (text.length > 1 << 20) {
        writeSync(fd, text)
        text = ""
      }
    }
    writeSync(fd, text)
    closeSync(fd)
  }
  const sum = expectedSum(sizes.events)
  const readRuntime = storeRuntime(readDir)
  const typedStore = await readRuntime.runPromise(EventStore.typed(codec))
  const rawRead = () =>
    timed(async () => {
      let n = 0
      let total = 0
      for (const text of readFileSync(rawFile, "utf8").split("\n")) {
        if (text === "") continue
        const row = JSON.parse(text) as { type: string; data: string }
        total = evolveRaw(total, row.type, row.data)
        n++
      }
      check("raw read", total, sum)
      return n
    })
  try {
    results.push(
      await compare("file (1) typed read", {
        id: "read",
        title: `typed read of one ${sizes.events}-event stream folded to a sum`,
        backend: "file",
        unit: "events",
        repeats,
        eventfold: {
          run: () =>
            timed(async () => {
              let n = 0
              const total = await readRuntime.runPromise(
                typedStore.read(readStream).pipe(Stream.runFold(0, (s, e) => (n++, evolve(s, e.data))))
              )
              check("eventfold read", total, sum)
              return n
            })
        },
        baseline: { run: rawRead },
        note: "baseline: node:fs readFileSync of a JSON-lines file of the same events, every line and its data parsed"
      })
    )
    results.push(
      await compare("file (2) readAll", {
        id: "readAll",
        title: `typed readAll of ${sizes.events} events folded to a sum`,
        backend: "file",
        unit: "events",
        repeats,
        eventfold: {
          run: () =>
            timed(async () => {
              let n = 0
              const total = await readRuntime.runPromise(
                typedStore.readAll().pipe(Stream.runFold(0, (s, e) => (n++, evolve(s, e.data))))
              )
              check("eventfold readAll", total, sum)
              return n
            })
        },
        baseline: { run: rawRead },
        note: "baseline: as case 1 (the raw file holds only this stream)"
      })
    )
  } finally {
    await readRuntime.dispose()
  }

  // --- (3) and (4): appends, each run on a fresh directory --------------------
  const appendStreams = Array.from({ length: 100 }, (_, k) => StreamId.unsafeMake(`account-a${k}`))
  const batches: Array<{ streamId: StreamId.StreamId; events: Array<AccountEvent> }> = []
  for (let from = 0, b = 0; from < sizes.events; from += sizes.batch, b++) {
    const events: Array<AccountEvent> = []
    for (let i = from; i < Math.min(sizes.events, from + sizes.batch); i++) events.push(eventAt(i))
    batches.push({ streamId: appendStreams[b % appendStreams.length]!, events })
  }
  const singles = Array.from({ length: sizes.singleAppends }, (_, i) => ({
    streamId: appendStreams[i % appendStreams.length]!,
    event: eventAt(i)
  }))

  const appendDir = join(dir, "file-append")
  const appendFile = join(dir, "file-append.jsonl")
  let runtime: StoreRuntime | undefined
  let fd: number | undefined
  const freshEventfold = {
    prepare: async () => {
      rmSync(appendDir, { recursive: true, force: true })
      runtime = storeRuntime(appendDir)
      await runtime.runPromise(Effect.void)
    },
    cleanup: async () => {
      await runtime?.dispose()
      runtime = undefined
    }
  }
  const freshRaw = {
    prepare: async () => {
      rmSync(appendFile, { force: true })
      fd = openSync(appendFile, "a")
    },
    cleanup: async () => {
      if (fd !== undefined) closeSync(fd)
      fd = undefined
    }
  }
  /** One durable write of `events` as JSON lines, ids and JSON made here. */
  const rawAppend = (versions: Map<string, number>, streamId: string, events: ReadonlyArray<AccountEvent>) => {
    const now = Date.now()
    let version = versions.get(streamId) ?? 0
    let text = ""
    for (const event of events) text += line(streamId, ++version, randomUUID(), event._tag, JSON.stringify({ amount: event.amount }), now)
    writeSync(fd!, text)
    fsyncSync(fd!)
    versions.set(streamId, version)
  }

  results.push(
    await compare("file (3) batched append", {
      id: "appendBatch",
      warmup: false,
      title: `append ${sizes.events} events in batches of ${sizes.batch}`,
      backend: "file",
      unit: "events",
      repeats,
      eventfold: {
        ...freshEventfold,
        run: () =>
          timed(() =>
            runtime!.runPromise(Effect.gen(function*() {
              const store = yield* EventStore.typed(codec)
              const versions = new Map<string, number>()
              let n = 0
              for (const batch of batches) {
                const version = versions.get(batch.streamId) ?? 0
                yield* store.append({ streamId: batch.streamId, expected: ExpectedVersion.unsafeExact(version), events: batch.events })
                versions.set(batch.streamId, version + batch.events.length)
                n += batch.events.length
              }
              return n
            }))
          )
      },
      baseline: {
        ...freshRaw,
        run: () =>
          timed(async () => {
            const versions = new Map<string, number>()
            let n = 0
            for (const batch of batches) {
              rawAppend(versions, batch.streamId, batch.events)
              n += batch.events.length
            }
            return n
          })
      },
      note: "typed append with expected versions, fsync per append; baseline: one writeSync + fsyncSync of JSON lines per batch"
    })
  )

  results.push(
    await compare("file (4) single appends", {
      id: "appendSingle",
      warmup: false,
      title: `append one event per call, ${sizes.singleAppends} calls`,
      backend: "file",
      unit: "events",
      repeats,
      eventfold: {
        ...freshEventfold,
        run: () =>
          timed(() =>
            runtime!.runPromise(Effect.gen(function*() {
              const store = yield* EventStore.typed(codec)
              const versions = new Map<string, number>()
              for (const single of singles) {
                const version = versions.get(single.streamId) ?? 0
                yield* store.append({ streamId: single.streamId, expected: ExpectedVersion.unsafeExact(version), events: [single.event] })
                versions.set(single.streamId, version + 1)
              }
              return singles.length
            }))
          )
      },
      baseline: {
        ...freshRaw,
        run: () =>
          timed(async () => {
            const versions = new Map<string, number>()
            for (const single of singles) rawAppend(versions, single.streamId, [single.event])
            return singles.length
          })
      },
      note: "fsync per append; baseline: one writeSync + fsyncSync of one JSON line per call"
    })
  )
  return results
}
