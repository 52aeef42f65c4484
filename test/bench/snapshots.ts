/**
 * Snapshot cases (issue #18), on SQLite and PostgreSQL:
 *
 * - (7) commands on a long stream (`BENCH_SNAPSHOT_EVENTS`, default 1,000,000
 *   events, inserted with raw SQL) with snapshots every 1,000 events, against the
 *   same commands on a 1,000-event stream without snapshots. Goal: a ratio of at
 *   least 0.5 (within 2x).
 * - (7b) the cost of saving a snapshot: commands that save one after every
 *   command in the background (the default: the command does not wait for it)
 *   against the same commands saving it inline (the command waits), on short
 *   streams; and, measured alone, what one save costs (encode, insert, prune).
 *
 * Commands run one after another (`BENCH_SNAPSHOT_COMMANDS`, default 200 a run).
 */
import { randomUUID } from "node:crypto"
import { join } from "node:path"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import type { Decider } from "eventfold"
import { Executor, Snapshot } from "eventfold"
import { PgEventStore, PgSnapshotStore } from "eventfold/postgres"
import { SqliteEventStore, SqliteSnapshotStore } from "eventfold/sqlite"
import type { AccountEvent } from "./domain.ts"
import { account, accountStream, Deposit, expectedSum } from "./domain.ts"
import type { CaseResult, Run, Sizes } from "./harness.ts"
import { compare, envInt, progress, timed } from "./harness.ts"
import { createDatabase, fillStream, openRaw } from "./sqlite.ts"
import { createBenchDatabase, startPgServer, withClient } from "./pgServer.ts"

const longEvents = () => envInt("BENCH_SNAPSHOT_EVENTS", 1_000_000)
const commandsPerRun = () => envInt("BENCH_SNAPSHOT_COMMANDS", 200)
const shortEvents = 1_000

const snapshotted = (every: number) => Snapshot.enable(account, { schema: Schema.Number, version: 1, every })

type Runtime = ManagedRuntime.ManagedRuntime<Executor.Executor | Snapshot.SnapshotStore, unknown>

/** Runs `n` deposits one after another on `streamKey`; checks the last state against `expected` when given. */
const runCommands = (
  runtime: Runtime,
  decider: Decider.Decider<Deposit, number, AccountEvent, never>,
  streamKey: string,
  n: number
): Promise<Run> =>
  timed(async () => {
    await runtime.runPromise(
      Effect.forEach(Array.from({ length: n }, () => 0), () => Executor.execute(decider, new Deposit({ account: streamKey, amount: 0 })), {
        discard: true
      })
    )
    return n
  })

/** The two cases on one backend, given runtimes built by `runtimeFor(snapshotOptions)`. */
const cases = async (
  backend: CaseResult["backend"],
  runtimeFor: (options: Executor.Options) => Runtime,
  sizes: Sizes
): Promise<Array<CaseResult>> => {
  const n = commandsPerRun()
  const results: Array<CaseResult> = []
  const background = runtimeFor({ snapshots: { writes: "background" } })
  const inline = runtimeFor({ snapshots: { writes: "inline" } })
  try {
    const every1000 = snapshotted(1_000)
    // the first command on the long stream folds all of it and saves the first snapshot
    const first = await timed(async () => {
      const result = await inline.runPromise(Executor.execute(every1000, new Deposit({ account: "long", amount: 0 })))
      if (result.state !== expectedSum(longEvents())) throw new Error(`long stream folded to ${result.state}`)
      return 1
    })
    progress(`${backend} (7): first command on the ${longEvents()}-event stream (no snapshot yet): ${(first.ms / 1000).toFixed(2)} s`)
    results.push(
      await compare(`${backend} (7) command on a long stream with snapshots`, {
        id: "snapshotLong",
        title: `command on a ${longEvents()}-event stream with snapshots every 1,000 vs a ${shortEvents}-event stream without`,
        backend,
        unit: "commands",
        repeats: sizes.repeats,
        warmup: false,
        eventfold: { run: () => runCommands(background, every1000, "long", n) },
        baseline: { run: () => runCommands(background, account, "short", n) },
        extra: () => ({ firstCommandMs: first.ms, longStreamEvents: longEvents() }),
        note: "ratio = long with snapshots / short without"
      })
    )
    const every1 = snapshotted(1)
    const save = await timed(() =>
      inline.runPromise(Effect.flatMap(Snapshot.SnapshotStore, (store) =>
        Effect.forEach(Array.from({ length: n }, (_, i) => i + 1), (version) =>
          Snapshot.save(
            store,
            every1.snapshots,
            Snapshot.keyOf(every1, every1.snapshots, accountStream("saved")),
            { version, position: version, state: version * 7, takenAt: new Date() }
          ), { discard: true })).pipe(Effect.as(n))))
    progress(`${backend} (7b): one snapshot save (encode, insert, prune): ${(save.ms / n).toFixed(3)} ms`)
    results.push(
      await compare(`${backend} (7b) snapshot write cost`, {
        id: "snapshotWrite",
        title: "command saving a snapshot every time, in the background vs inline",
        backend,
        unit: "commands",
        repeats: sizes.repeats,
        warmup: false,
        eventfold: { run: () => runCommands(background, every1, "written", n) },
        baseline: { run: () => runCommands(inline, every1, "unwritten", n) },
        extra: () => ({ snapshotWriteMsPerCommand: save.ms / n })
      })
    )
  } finally {
    await background.dispose()
    await inline.dispose()
  }
  return results
}

/** SQLite: one file, the long and short streams filled with raw SQL. */
export const runSnapshotsSqlite = async (dir: string, sizes: Sizes): Promise<Array<CaseResult>> => {
  const filename = join(dir, `snapshots-${randomUUID()}.db`)
  await createDatabase(filename)
  const db = openRaw(filename)
  progress(`sqlite (7): filling ${longEvents()} + ${shortEvents * 3} events`)
  fillStream(db, accountStream("long"), longEvents())
  for (const key of ["short", "written", "unwritten"]) fillShortStream(db, accountStream(key), shortEvents)
  db.close()
  const runtimeFor = (options: Executor.Options): Runtime =>
    ManagedRuntime.make(
      Executor.layer(options).pipe(
        Layer.provideMerge(Layer.merge(SqliteEventStore.layerFromClient(), SqliteSnapshotStore.layerFromClient())),
        Layer.provide(SqliteEventStore.layerClient({ filename }))
      )
    )
  return cases("sqlite", runtimeFor, sizes)
}

/** A stream of `n` deposits with random event ids (`fillStream`'s ids are the same in every stream). */
const fillShortStream = (db: ReturnType<typeof openRaw>, streamId: string, n: number): void => {
  const insert = db.prepare(
    "INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, 'Deposited', ?, '{}', ?)"
  )
  const fill = db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(streamId, i + 1, randomUUID(), JSON.stringify({ amount: i % 100 }), Date.now())
  })
  fill()
}

/** PostgreSQL: the embedded server (or `EVENTFOLD_TEST_PG_URL`), a fresh database, streams filled with raw SQL. */
export const runSnapshotsPostgres = async (sizes: Sizes): Promise<Array<CaseResult>> => {
  progress("postgres (7): starting the server")
  const server = await startPgServer()
  try {
    const database = await createBenchDatabase(server.url)
    try {
      const runtimeFor = (options: Executor.Options): Runtime =>
        ManagedRuntime.make(
          Executor.layer(options).pipe(
            Layer.provideMerge(Layer.merge(PgEventStore.layerFromClient(), PgSnapshotStore.layerFromClient())),
            Layer.provide(PgClient.layer({ url: Redacted.make(database.url), maxConnections: 4 }))
          )
        )
      const setup = runtimeFor({})
      await setup.runPromise(Effect.void) // migrations
      await setup.dispose()
      progress(`postgres (7): filling ${longEvents()} + ${shortEvents * 3} events`)
      await withClient(database.url, async (client) => {
        const fill = (streamId: string, n: number) =>
          client.query(
            `INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at)
             SELECT $1, i + 1, gen_random_uuid(),
                    CASE WHEN i % 5 = 4 THEN 'Withdrawn' ELSE 'Deposited' END,
                    jsonb_build_object('amount', CASE WHEN i % 5 = 4 THEN i % 7 ELSE i % 100 END),
                    '{}'::jsonb, now()
             FROM generate_series(0, $2::int - 1) AS i`,
            [streamId, n]
          )
        await fill(accountStream("long"), longEvents())
        for (const key of ["short", "written", "unwritten"]) await fill(accountStream(key), shortEvents)
        await client.query("VACUUM ANALYZE eventfold_events")
      })
      return await cases("postgres", runtimeFor, sizes)
    } finally {
      await database.drop().catch(() => undefined)
    }
  } finally {
    await server.stop()
  }
}
