/**
 * SQLite cases: eventfold's `SqliteEventStore` (and the `Executor` over it) against
 * better-sqlite3 doing the same work on a file with the same schema (created by
 * eventfold's own migration) and the same pragmas (WAL; everything else default).
 */
import { randomUUID } from "node:crypto"
import { rmSync } from "node:fs"
import { join } from "node:path"
import Database from "better-sqlite3"
import { Effect, Layer, ManagedRuntime, Metric, Schedule, Stream } from "effect"
import { EventStore, Executor, ExpectedVersion, StreamId } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"
import type { AccountEvent } from "./domain.ts"
import { account, accountStream, classCodec, codec, Deposit, eventAt, evolve, evolveRaw, expectedSum, rawEventAt, sequentialEventId } from "./domain.ts"
import type { CaseResult, Run, Sizes } from "./harness.ts"
import { compare, progress, timed } from "./harness.ts"

const table = "eventfold_events"
const columns = "position, version, event_id, type, data, metadata, recorded_at"

/** Creates (or re-creates) an empty database file with eventfold's schema, by running its migration. */
export const createDatabase = async (filename: string): Promise<void> => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(filename + suffix, { force: true })
  await Effect.runPromise(Effect.scoped(Layer.build(SqliteEventStore.layer({ filename }))))
}

/** Opens a raw connection with the pragmas eventfold's client uses (WAL). */
export const openRaw = (filename: string): Database.Database => {
  const db = new Database(filename)
  db.pragma("journal_mode = WAL")
  return db
}

/** Fills `streamId` with events `0 .. n-1` through the raw driver, 10,000 rows a transaction. */
export const fillStream = (db: Database.Database, streamId: string, n: number): void => {
  const insert = db.prepare(
    `INSERT INTO ${table} (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
  )
  const now = Date.now()
  const fill = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const { data, type } = rawEventAt(i)
      insert.run(streamId, i + 1, sequentialEventId(i), type, data, "{}", now)
    }
  })
  for (let from = 0; from < n; from += 10_000) fill(from, Math.min(n, from + 10_000))
}

const check = (what: string, actual: number, expected: number): void => {
  if (actual !== expected) throw new Error(`${what}: folded ${actual}, expected ${expected}`)
}

/** A retry schedule for heavy contention: jittered exponential from 1 ms, capped at 20 ms, 200 retries. */
export const contentionRetry = Schedule.exponential("1 millis", 2).pipe(
  Schedule.union(Schedule.spaced("20 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(200))
)

/** The current count of an incremental counter. */
export const counterValue = (counter: typeof Executor.retries): number => Effect.runSync(Metric.value(counter)).count

type StoreRuntime = ManagedRuntime.ManagedRuntime<EventStore.EventStore | Executor.Executor, unknown>

const storeRuntime = (filename: string, options: Executor.Options = {}): StoreRuntime =>
  ManagedRuntime.make(Executor.layer(options).pipe(Layer.provideMerge(SqliteEventStore.layer({ filename }))))

/** Executes commands with `fibers` concurrent fibers; returns how many failed (retries exhausted). */
export const executeAll = (
  runtime: StoreRuntime,
  commands: ReadonlyArray<Deposit>,
  fibers: number
): Promise<number> =>
  runtime.runPromise(
    Effect.map(
      Effect.forEach(commands, (command) => Effect.either(Executor.execute(account, command)), { concurrency: fibers }),
      (outcomes) => outcomes.filter((o) => o._tag === "Left").length
    )
  )

/** Runs every SQLite case in `dir`. */
export const runSqlite = async (dir: string, sizes: Sizes): Promise<Array<CaseResult>> => {
  const results: Array<CaseResult> = []
  const repeats = sizes.repeats

  // --- (1) and (2): reads of one stream of `events` events --------------------
  const readFile = join(dir, "read.db")
  await createDatabase(readFile)
  const readStream = StreamId.unsafeMake("account-read")
  {
    const db = openRaw(readFile)
    progress(`sqlite: filling ${sizes.events} events for the read cases`)
    fillStream(db, readStream, sizes.events)
    db.close()
  }
  const sum = expectedSum(sizes.events)
  const readRuntime = storeRuntime(readFile)
  const typedStore = await readRuntime.runPromise(EventStore.typed(codec))
  const classStore = await readRuntime.runPromise(EventStore.typed(classCodec))
  const raw = openRaw(readFile)
  try {
    const streamRows = raw.prepare(`SELECT ${columns} FROM ${table} WHERE stream_id = ? ORDER BY version`)
    results.push(
      await compare("sqlite (1) typed read", {
        id: "read",
        title: `typed read of one ${sizes.events}-event stream folded to a sum`,
        backend: "sqlite",
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
        baseline: {
          run: () =>
            timed(async () => {
              let n = 0
              let total = 0
              for (const row of streamRows.iterate(readStream) as Iterable<{ type: string; data: string }>) {
                total = evolveRaw(total, row.type, row.data)
                n++
              }
              check("raw read", total, sum)
              return n
            })
        },
        note: "baseline: better-sqlite3 iterate() of the same SELECT (same columns) + JSON.parse(data)"
      })
    )

    results.push(
      await compare("sqlite (1b) typed read, TaggedClass events", {
        id: "readClass",
        title: `typed read of one ${sizes.events}-event stream, events as Schema.TaggedClass`,
        backend: "sqlite",
        unit: "events",
        repeats,
        eventfold: {
          run: () =>
            timed(async () => {
              let n = 0
              const total = await readRuntime.runPromise(
                classStore.read(readStream).pipe(Stream.runFold(0, (s, e) => (n++, evolve(s, e.data))))
              )
              check("eventfold read (classes)", total, sum)
              return n
            })
        },
        baseline: {
          run: () =>
            timed(async () => {
              let n = 0
              let total = 0
              for (const row of streamRows.iterate(readStream) as Iterable<{ type: string; data: string }>) {
                total = evolveRaw(total, row.type, row.data)
                n++
              }
              check("raw read", total, sum)
              return n
            })
        },
        note: "informational: case 1 with a class instance constructed per event (Schema.TaggedClass)"
      })
    )

    const allRows = raw.prepare(`SELECT position, stream_id, version, event_id, type, data, metadata, recorded_at FROM ${table} WHERE position >= ? ORDER BY position`)
    results.push(
      await compare("sqlite (2) readAll", {
        id: "readAll",
        title: `typed readAll of ${sizes.events} events folded to a sum`,
        backend: "sqlite",
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
        baseline: {
          run: () =>
            timed(async () => {
              let n = 0
              let total = 0
              for (const row of allRows.iterate(1) as Iterable<{ type: string; data: string }>) {
                total = evolveRaw(total, row.type, row.data)
                n++
              }
              check("raw readAll", total, sum)
              return n
            })
        },
        note: "baseline: better-sqlite3 iterate() over the log by position + JSON.parse(data)"
      })
    )
  } finally {
    raw.close()
    await readRuntime.dispose()
  }

  // --- (3) and (4): appends, each run on a fresh file -------------------------
  const appendStreams = Array.from({ length: 100 }, (_, k) => StreamId.unsafeMake(`account-a${k}`))
  const batches: Array<{ streamId: StreamId.StreamId; events: Array<AccountEvent>; raw: Array<{ type: string; amount: number }> }> = []
  for (let from = 0, b = 0; from < sizes.events; from += sizes.batch, b++) {
    const events: Array<AccountEvent> = []
    const rawEvents: Array<{ type: string; amount: number }> = []
    for (let i = from; i < Math.min(sizes.events, from + sizes.batch); i++) {
      const event = eventAt(i)
      events.push(event)
      rawEvents.push({ type: event._tag, amount: event.amount })
    }
    batches.push({ streamId: appendStreams[b % appendStreams.length]!, events, raw: rawEvents })
  }
  const singles = Array.from({ length: sizes.singleAppends }, (_, i) => ({
    streamId: appendStreams[i % appendStreams.length]!,
    event: eventAt(i)
  }))

  const appendFile = join(dir, "append.db")
  let runtime: StoreRuntime | undefined
  let db: Database.Database | undefined
  const freshEventfold = {
    prepare: async () => {
      await createDatabase(appendFile)
      runtime = storeRuntime(appendFile)
    },
    cleanup: async () => {
      await runtime?.dispose()
      runtime = undefined
    }
  }
  const freshRaw = {
    prepare: async () => {
      await createDatabase(appendFile)
      db = openRaw(appendFile)
    },
    cleanup: async () => {
      db?.close()
      db = undefined
    }
  }

  /** Raw appends of `rows` events per transaction: one multi-row INSERT, ids and JSON made here. */
  const rawAppend = (database: Database.Database) => {
    const statements = new Map<number, Database.Statement>()
    const statement = (rows: number) => {
      let s = statements.get(rows)
      if (s === undefined) {
        s = database.prepare(
          `INSERT INTO ${table} (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ` +
            Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?, ?)").join(", ")
        )
        statements.set(rows, s)
      }
      return s
    }
    const versions = new Map<string, number>()
    return database.transaction((streamId: string, events: ReadonlyArray<{ type: string; amount: number }>) => {
      const now = Date.now()
      let version = versions.get(streamId) ?? 0
      const params: Array<unknown> = []
      for (const event of events) {
        params.push(streamId, ++version, randomUUID(), event.type, JSON.stringify({ amount: event.amount }), "{}", now)
      }
      statement(events.length).run(...params)
      versions.set(streamId, version)
    })
  }

  results.push(
    await compare("sqlite (3) batched append", {
      id: "appendBatch",
      warmup: false,
      title: `append ${sizes.events} events in batches of ${sizes.batch}`,
      backend: "sqlite",
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
            const append = rawAppend(db!)
            let n = 0
            for (const batch of batches) {
              append(batch.streamId, batch.raw)
              n += batch.raw.length
            }
            return n
          })
      },
      note: "typed append with expected versions; baseline: one prepared multi-row INSERT per batch in a transaction"
    })
  )

  results.push(
    await compare("sqlite (4) single appends", {
      id: "appendSingle",
      warmup: false,
      title: `append one event per call, ${sizes.singleAppends} calls`,
      backend: "sqlite",
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
            const append = rawAppend(db!)
            for (const single of singles) append(single.streamId, [{ type: single.event._tag, amount: single.event.amount }])
            return singles.length
          })
      },
      note: "baseline: one single-row INSERT per transaction"
    })
  )

  // --- (5) and (6): the executor ------------------------------------------------
  const distinct = Array.from({ length: sizes.commands }, (_, i) => new Deposit({ account: `c${i % sizes.commandStreams}`, amount: i % 100 }))
  const contended = Array.from({ length: sizes.contendedCommands }, (_, i) => new Deposit({ account: "hot", amount: i % 100 }))

  /** The raw command: in one write transaction, read and fold the stream, insert the next event. */
  const rawCommand = (database: Database.Database) => {
    const rows = database.prepare(`SELECT ${columns} FROM ${table} WHERE stream_id = ? ORDER BY version`)
    const insert = database.prepare(
      `INSERT INTO ${table} (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
    )
    const run = database.transaction((command: Deposit) => {
      const streamId = accountStream(command.account)
      let balance = 0
      let version = 0
      for (const row of rows.iterate(streamId) as Iterable<{ type: string; data: string }>) {
        balance = evolveRaw(balance, row.type, row.data)
        version++
      }
      insert.run(streamId, version + 1, randomUUID(), "Deposited", JSON.stringify({ amount: command.amount }), "{}", Date.now())
      return balance
    })
    return (command: Deposit) => run.immediate(command)
  }

  const executorCase = async (
    label: string,
    id: string,
    title: string,
    commands: ReadonlyArray<Deposit>,
    options: Executor.Options
  ) => {
    let retriesBefore = 0
    return compare(label, {
      id,
      title,
      warmup: false,
      backend: "sqlite",
      unit: "commands",
      repeats,
      eventfold: {
        prepare: async () => {
          await createDatabase(appendFile)
          runtime = storeRuntime(appendFile, options)
          retriesBefore = counterValue(Executor.retries)
        },
        cleanup: freshEventfold.cleanup,
        run: async (): Promise<Run> => {
          let failed = 0
          const run = await timed(async () => {
            failed = await executeAll(runtime!, commands, sizes.fibers)
            return commands.length - failed
          })
          return { ...run, extra: { retries: counterValue(Executor.retries) - retriesBefore, failed } }
        }
      },
      baseline: {
        ...freshRaw,
        run: async () => {
          const run = await timed(async () => {
            const command = rawCommand(db!)
            for (const c of commands) command(c)
            return commands.length
          })
          return { ...run, extra: { retries: 0, failed: 0 } }
        }
      },
      extra: (best) => ({
        eventfoldRetriesPerCommand: (best.eventfold.extra?.["retries"] ?? 0) / commands.length,
        eventfoldFailed: best.eventfold.extra?.["failed"] ?? 0,
        baselineRetriesPerCommand: 0
      }),
      note: `eventfold: ${sizes.fibers} fibers over one SqliteEventStore; baseline: better-sqlite3 is synchronous, so one ` +
        "BEGIN IMMEDIATE transaction per command (read + fold + insert), one after the other, never conflicts"
    })
  }

  results.push(
    await executorCase(
      "sqlite (5) executor, distinct streams",
      "executorDistinct",
      `executor: ${sizes.commands} commands on ${sizes.commandStreams} streams, ${sizes.fibers} fibers`,
      distinct,
      {}
    )
  )
  results.push(
    await executorCase(
      "sqlite (6) executor, one contended stream",
      "executorContended",
      `executor: ${sizes.contendedCommands} commands on one stream, ${sizes.fibers} fibers`,
      contended,
      { retry: contentionRetry }
    )
  )
  return results
}
