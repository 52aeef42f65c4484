/**
 * PostgreSQL cases: eventfold's `PgEventStore` (and the `Executor` over it)
 * against `pg` + `pg-cursor` doing the same work on the same table (created by
 * eventfold's migration) in one fresh database of the harness's server.
 */
import { randomUUID } from "node:crypto"
import { Effect, Layer, ManagedRuntime, Redacted, Stream } from "effect"
import type { EventStore as EventStoreNs } from "eventfold"
import { EventStore, Executor, ExpectedVersion, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import pg from "pg"
import Cursor from "pg-cursor"
import type { AccountEvent } from "./domain.ts"
import { account, accountStream, classCodec, codec, Deposit, eventAt, evolve, evolveRaw, expectedSum } from "./domain.ts"
import type { CaseResult, Run, Sizes } from "./harness.ts"
import { compare, progress, timed } from "./harness.ts"
import { createBenchDatabase, startPgServer } from "./pgServer.ts"
import { contentionRetry, counterValue } from "./sqlite.ts"

const table = "eventfold_events"
/** What a raw reader selects: every column, JSON as text (parsed by the reader), the timestamp as the driver gives it. */
const columns = "position, version, event_id, type, data::text AS data, metadata::text AS metadata, recorded_at"
/** Rows per cursor read, the same as eventfold's default page size. */
const cursorBatch = 256

type StoreRuntime = ManagedRuntime.ManagedRuntime<EventStoreNs.EventStore | Executor.Executor, unknown>

const check = (what: string, actual: number, expected: number): void => {
  if (actual !== expected) throw new Error(`${what}: folded ${actual}, expected ${expected}`)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Folds every row of a query read through pg-cursor in batches. */
const cursorFold = async (client: pg.Client, text: string, values: Array<unknown>): Promise<readonly [number, number]> => {
  const cursor = client.query(new Cursor<{ type: string; data: string }>(text, values))
  let total = 0
  let n = 0
  for (;;) {
    const rows = await cursor.read(cursorBatch)
    if (rows.length === 0) break
    for (const row of rows) {
      total = evolveRaw(total, row.type, row.data)
      n++
    }
  }
  await cursor.close()
  return [total, n]
}

/** Starts the server (or uses `EVENTFOLD_TEST_PG_URL`), runs every case in a fresh database, stops everything. */
export const runPostgres = async (sizes: Sizes): Promise<Array<CaseResult>> => {
  progress("postgres: starting the server")
  const server = await startPgServer()
  try {
    const database = await createBenchDatabase(server.url)
    try {
      return await runCases(database.url, sizes)
    } finally {
      await database.drop().catch(() => undefined)
    }
  } finally {
    progress("postgres: stopping the server")
    await server.stop()
  }
}

const runCases = async (url: string, sizes: Sizes): Promise<Array<CaseResult>> => {
  const results: Array<CaseResult> = []
  const repeats = sizes.repeats
  const makeRuntime = (options: Executor.Options = {}): StoreRuntime =>
    ManagedRuntime.make(
      Executor.layer(options).pipe(
        Layer.provideMerge(PgEventStore.layer({ url: Redacted.make(url), maxConnections: sizes.fibers }))
      )
    )

  // Creates the schema with eventfold's migration.
  const setup = makeRuntime()
  await setup.runPromise(Effect.void)
  await setup.dispose()

  const raw = new pg.Client({ connectionString: url })
  raw.on("error", () => undefined)
  await raw.connect()
  try {
    // --- (1) and (2): reads ---------------------------------------------------
    const readStream = StreamId.unsafeMake("account-read")
    progress(`postgres: filling ${sizes.events} events for the read cases`)
    await raw.query(
      `INSERT INTO ${table} (stream_id, version, event_id, type, data, metadata, recorded_at)
       SELECT $1, i + 1, md5(i::text)::uuid,
              CASE WHEN i % 5 = 4 THEN 'Withdrawn' ELSE 'Deposited' END,
              jsonb_build_object('amount', CASE WHEN i % 5 = 4 THEN i % 7 ELSE i % 100 END),
              '{}'::jsonb, now()
       FROM generate_series(0, $2::int - 1) AS i`,
      [readStream, sizes.events]
    )
    await raw.query(`VACUUM ANALYZE ${table}`)
    const sum = expectedSum(sizes.events)

    const readRuntime = makeRuntime()
    try {
      const typedStore = await readRuntime.runPromise(EventStore.typed(codec))
      const classStore = await readRuntime.runPromise(EventStore.typed(classCodec))
      const streamSql = `SELECT ${columns} FROM ${table} WHERE stream_id = $1 ORDER BY version`
      const logSql = `SELECT stream_id, ${columns} FROM ${table} WHERE position >= $1 ORDER BY position`
      const rawRead = (text: string, values: Array<unknown>) => () =>
        timed(async () => {
          const [total, n] = await cursorFold(raw, text, values)
          check("raw read", total, sum)
          return n
        })
      const typedRead = (stream: Stream.Stream<{ readonly data: AccountEvent }, unknown>) => () =>
        timed(async () => {
          let n = 0
          const total = await readRuntime.runPromise(Stream.runFold(stream, 0, (s, e) => (n++, evolve(s, e.data))))
          check("eventfold read", total, sum)
          return n
        })
      results.push(
        await compare("postgres (1) typed read", {
          id: "read",
          title: `typed read of one ${sizes.events}-event stream folded to a sum`,
          backend: "postgres",
          unit: "events",
          repeats,
          eventfold: { run: typedRead(typedStore.read(readStream)) },
          baseline: { run: rawRead(streamSql, [readStream]) },
          note: `baseline: pg-cursor, ${cursorBatch}-row reads of the same SELECT + JSON.parse(data)`
        })
      )
      results.push(
        await compare("postgres (1b) typed read, TaggedClass events", {
          id: "readClass",
          title: `typed read of one ${sizes.events}-event stream, events as Schema.TaggedClass`,
          backend: "postgres",
          unit: "events",
          repeats,
          eventfold: { run: typedRead(classStore.read(readStream)) },
          baseline: { run: rawRead(streamSql, [readStream]) },
          note: "informational: case 1 with a class instance constructed per event (Schema.TaggedClass)"
        })
      )
      results.push(
        await compare("postgres (2) readAll", {
          id: "readAll",
          title: `typed readAll of ${sizes.events} events folded to a sum`,
          backend: "postgres",
          unit: "events",
          repeats,
          eventfold: { run: typedRead(typedStore.readAll()) },
          baseline: { run: rawRead(logSql, [1]) },
          note: `baseline: pg-cursor, ${cursorBatch}-row reads over the log by position + JSON.parse(data)`
        })
      )
    } finally {
      await readRuntime.dispose()
    }

    // --- (3) and (4): appends, each run on an emptied table -------------------
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

    const empty = () => raw.query(`TRUNCATE ${table} RESTART IDENTITY`).then(() => undefined)
    let runtime: StoreRuntime | undefined
    const freshEventfold = (options: Executor.Options = {}) => ({
      prepare: async () => {
        await empty()
        runtime = makeRuntime(options)
        await runtime.runPromise(Effect.void)
      },
      cleanup: async () => {
        await runtime?.dispose()
        runtime = undefined
      }
    })
    const freshRaw = { prepare: empty }

    /** Raw append: BEGIN, one prepared multi-row INSERT (ids and JSON made here), COMMIT. */
    const rawAppend = () => {
      const versions = new Map<string, number>()
      return async (streamId: string, events: ReadonlyArray<AccountEvent>) => {
        const now = new Date()
        let version = versions.get(streamId) ?? 0
        const values: Array<unknown> = []
        const tuples: Array<string> = []
        for (const event of events) {
          const p = values.length
          tuples.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7})`)
          values.push(streamId, ++version, randomUUID(), event._tag, JSON.stringify({ amount: event.amount }), "{}", now)
        }
        await raw.query("BEGIN")
        try {
          await raw.query({
            name: `insert-${events.length}`,
            text: `INSERT INTO ${table} (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ${tuples.join(", ")}`,
            values
          })
          await raw.query("COMMIT")
        } catch (error) {
          await raw.query("ROLLBACK")
          throw error
        }
        versions.set(streamId, version)
      }
    }

    results.push(
      await compare("postgres (3) batched append", {
        id: "appendBatch",
      warmup: false,
        title: `append ${sizes.events} events in batches of ${sizes.batch}`,
        backend: "postgres",
        unit: "events",
        repeats,
        eventfold: {
          ...freshEventfold(),
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
              const append = rawAppend()
              let n = 0
              for (const batch of batches) {
                await append(batch.streamId, batch.events)
                n += batch.events.length
              }
              return n
            })
        },
        note: "typed append with expected versions; baseline: BEGIN, one prepared multi-row INSERT, COMMIT per batch"
      })
    )

    results.push(
      await compare("postgres (4) single appends", {
        id: "appendSingle",
      warmup: false,
        title: `append one event per call, ${sizes.singleAppends} calls`,
        backend: "postgres",
        unit: "events",
        repeats,
        eventfold: {
          ...freshEventfold(),
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
              const append = rawAppend()
              for (const single of singles) await append(single.streamId, [single.event])
              return singles.length
            })
        },
        note: "baseline: BEGIN, one single-row INSERT, COMMIT per call"
      })
    )

    // --- (5) and (6): the executor ---------------------------------------------
    const distinct = Array.from({ length: sizes.commands }, (_, i) => new Deposit({ account: `c${i % sizes.commandStreams}`, amount: i % 100 }))
    const contended = Array.from({ length: sizes.contendedCommands }, (_, i) => new Deposit({ account: "hot", amount: i % 100 }))

    /**
     * The raw command with optimistic concurrency, `fibers` at a time over a pool
     * of as many connections: in a transaction, read and fold the stream, insert
     * the next version; a unique violation rolls back and retries after the same
     * backoff eventfold uses under contention (1 ms doubling, at most 20 ms, jittered).
     */
    const rawCommands = async (commands: ReadonlyArray<Deposit>): Promise<number> => {
      const pool = new pg.Pool({ connectionString: url, max: sizes.fibers })
      pool.on("error", () => undefined)
      let retries = 0
      let next = 0
      const one = async (command: Deposit) => {
        const streamId = accountStream(command.account)
        for (let attempt = 0; ; attempt++) {
          const client = await pool.connect()
          try {
            await client.query("BEGIN")
            const { rows } = await client.query<{ type: string; data: string }>({
              name: "read-stream",
              text: `SELECT ${columns} FROM ${table} WHERE stream_id = $1 ORDER BY version`,
              values: [streamId]
            })
            let balance = 0
            for (const row of rows) balance = evolveRaw(balance, row.type, row.data)
            await client.query({
              name: "insert-one",
              text: `INSERT INTO ${table} (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
              values: [streamId, rows.length + 1, randomUUID(), "Deposited", JSON.stringify({ amount: command.amount }), "{}", new Date()]
            })
            await client.query("COMMIT")
            return balance
          } catch (error) {
            await client.query("ROLLBACK")
            if ((error as { code?: string }).code !== "23505" || attempt >= 200) throw error
            retries++
          } finally {
            client.release()
          }
          await sleep(Math.min(2 ** attempt, 20) * (0.8 + Math.random() * 0.4))
        }
      }
      try {
        await Promise.all(
          Array.from({ length: sizes.fibers }, async () => {
            while (next < commands.length) await one(commands[next++]!)
          })
        )
      } finally {
        await pool.end()
      }
      return retries
    }

    const executorCase = async (label: string, id: string, title: string, commands: ReadonlyArray<Deposit>, options: Executor.Options) => {
      let retriesBefore = 0
      const fresh = freshEventfold(options)
      return compare(label, {
        id,
        title,
        warmup: false,
        backend: "postgres",
        unit: "commands",
        repeats,
        eventfold: {
          prepare: async () => {
            await fresh.prepare()
            retriesBefore = counterValue(Executor.retries)
          },
          cleanup: fresh.cleanup,
          run: async (): Promise<Run> => {
            let failed = 0
            const run = await timed(async () => {
              const outcomes = await runtime!.runPromise(
                Effect.forEach(commands, (command) => Effect.either(Executor.execute(account, command)), { concurrency: sizes.fibers })
              )
              failed = outcomes.filter((o) => o._tag === "Left").length
              return commands.length - failed
            })
            return { ...run, extra: { retries: counterValue(Executor.retries) - retriesBefore, failed } }
          }
        },
        baseline: {
          ...freshRaw,
          run: async () => {
            let retries = 0
            const run = await timed(async () => {
              retries = await rawCommands(commands)
              return commands.length
            })
            return { ...run, extra: { retries, failed: 0 } }
          }
        },
        extra: (best) => ({
          eventfoldRetriesPerCommand: (best.eventfold.extra?.["retries"] ?? 0) / commands.length,
          eventfoldFailed: best.eventfold.extra?.["failed"] ?? 0,
          baselineRetriesPerCommand: (best.baseline.extra?.["retries"] ?? 0) / commands.length
        }),
        note: `${sizes.fibers} fibers (eventfold) / ${sizes.fibers} async workers (baseline) over a pool of ${sizes.fibers} connections; ` +
          "baseline: read + fold + INSERT in one transaction, retried on a unique violation"
      })
    }

    results.push(
      await executorCase(
        "postgres (5) executor, distinct streams",
        "executorDistinct",
        `executor: ${sizes.commands} commands on ${sizes.commandStreams} streams, ${sizes.fibers} fibers`,
        distinct,
        {}
      )
    )
    results.push(
      await executorCase(
        "postgres (6) executor, one contended stream",
        "executorContended",
        `executor: ${sizes.contendedCommands} commands on one stream, ${sizes.fibers} fibers`,
        contended,
        { retry: contentionRetry }
      )
    )
  } finally {
    await raw.end().catch(() => undefined)
  }
  return results
}
