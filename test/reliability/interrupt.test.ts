/**
 * Reliability: commands interrupted at random points (a seeded schedule), 100
 * times, while other commands run and wait for connections. Afterwards nothing is
 * left behind: on PostgreSQL no pooled connection is checked out, no session is
 * idle in a transaction and no advisory lock is held; on SQLite no write lock is
 * held. Every stream still counts 1, 2, 3, ... with no gap and no repeat, and the
 * next command succeeds.
 */
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Context, Effect, Either, Exit, Fiber, Layer, Schema } from "effect"
import { Decider, EventCodec, Executor, StreamId } from "eventfold"
import { EventStore } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"
import pg from "pg"
import { databaseForFile, freshSchemaUrl } from "../postgres/support.ts"
import { withPgClient } from "../support/pgDriver.ts"
import { readStream, seeded, tempSqliteFile } from "./support.ts"

const db = databaseForFile("rel_interrupt")

const Incremented = Schema.TaggedStruct("Incremented", { n: Schema.Number })
class Increment extends Schema.TaggedClass<Increment>()("Increment", { counter: Schema.String }) {}
const counters = ["c0", "c1", "c2"].map(StreamId.unsafeMake)

/** A counter: each command appends the next number to its stream. */
const counter = Decider.make({
  name: "Counter",
  codec: EventCodec.make(Incremented),
  initialState: 0,
  evolve: (_: number, event) => event.n,
  streams: (command: Increment) => StreamId.unsafeMake(command.counter),
  decide: (_command, n: number) => Either.right([Incremented.make({ n: n + 1 })])
})

const interruptions = 100

/**
 * A pause of 0-7 scheduler turns: a SQLite command runs on one thread and
 * would finish within any sleep, so the victim is interrupted after a random
 * number of steps of the running fibers instead (see `stepwise`).
 */
const yields = (r: number): Effect.Effect<void> => Effect.repeatN(Effect.yieldNow(), Math.floor(r * 8))

/**
 * The commands yield to the scheduler every 32 operations (Effect's default is
 * 2,048): a SQLite command has no asynchronous step, so with the default a short
 * one runs to its end within one scheduler turn and no pause lands inside it.
 */
const stepwise = <A, E, R>(command: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.withMaxOpsBeforeYield(command, 32)

/**
 * Rounds of three concurrent commands on random counters; in each round one of
 * them is interrupted after a random pause, until 100 were interrupted while
 * still running. Returns how many rounds that took.
 */
const interruptCommands = (
  executor: Executor.Executor.Service,
  seed: number,
  pause: (random: number) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const random = seeded(seed)
    let interrupted = 0
    let rounds = 0
    while (interrupted < interruptions) {
      rounds++
      const fibers = yield* Effect.forEach([0, 1, 2], () =>
        Effect.fork(stepwise(executor.execute(counter, new Increment({ counter: counters[Math.floor(random() * counters.length)]! })))))
      yield* pause(random())
      const victim = fibers[Math.floor(random() * fibers.length)]!
      const exit = yield* Fiber.interrupt(victim)
      if (Exit.isInterrupted(exit)) interrupted++
      for (const fiber of fibers) if (fiber !== victim) yield* Fiber.join(fiber)
    }
    return rounds
  })

/** Each counter's stream holds 1, 2, ..., n at versions 1..n. */
const expectCountersIntact = (store: EventStore.EventStore.Service) =>
  Effect.forEach(counters, (streamId) =>
    Effect.map(readStream(store, streamId), (events) => {
      expect(events.map((e) => JSON.parse(e.data).n)).toEqual(events.map((_, i) => i + 1))
      expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1))
      return events.length
    }))

/** Polls `check` until it holds or `attempts` × 20 ms passed; returns its last value. */
const settled = <A>(read: () => Promise<A>, done: (a: A) => boolean, attempts = 250) =>
  Effect.promise(async () => {
    let value = await read()
    for (let i = 0; i < attempts && !done(value); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      value = await read()
    }
    return value
  })

describe("commands interrupted at random points, 100 times", () => {
  it.live("on PostgreSQL: no pooled connection checked out, no session idle in transaction, no advisory lock held, counters intact", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const pool = new pg.Pool({ connectionString: url, max: 2, application_name: "rel_interrupt" })
      pool.on("error", () => undefined)
      const client = PgClient.layerFromPool({
        acquire: Effect.acquireRelease(Effect.succeed(pool), (p) => Effect.promise(() => p.end()))
      })
      const context = yield* Layer.build(Executor.layerOn(PgEventStore.layerFromClient().pipe(Layer.provide(client))))
      const executor = Context.get(context, Executor.Executor)
      const store = Context.get(context, EventStore.EventStore)

      const rounds = yield* interruptCommands(executor, 14_8_100, (r) => Effect.sleep(Math.floor(r * 15)))
      expect(rounds).toBeGreaterThanOrEqual(interruptions)

      const pool_ = yield* settled(
        () => Promise.resolve({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
        (p) => p.idle === p.total && p.waiting === 0
      )
      expect(pool_.idle).toBe(pool_.total)
      expect(pool_.waiting).toBe(0)
      const sessions = yield* Effect.promise(() =>
        withPgClient(url, async (monitor) =>
          (await monitor.query<{ state: string }>(
            "SELECT state FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rel_interrupt'"
          )).rows.map((r) => r.state))
      )
      expect(sessions.filter((state) => state !== "idle")).toEqual([])
      const advisory = yield* Effect.promise(() =>
        withPgClient(url, async (monitor) =>
          (await monitor.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = current_database() AND l.locktype = 'advisory'"
          )).rows[0]!.n)
      )
      expect(advisory).toBe(0)

      const before = yield* expectCountersIntact(store)
      const next = yield* executor.execute(counter, new Increment({ counter: "c0" }))
      expect(next.state).toBe(before[0]! + 1)
    })), 60_000)

  it.live("on SQLite: no write lock held, counters intact, and the next command succeeds", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = tempSqliteFile("interrupt")
      const context = yield* Layer.build(Executor.layerOn(SqliteEventStore.layer({ filename })))
      const executor = Context.get(context, Executor.Executor)
      const store = Context.get(context, EventStore.EventStore)

      const rounds = yield* interruptCommands(executor, 14_8_200, yields)
      expect(rounds).toBeGreaterThanOrEqual(interruptions)

      // Another connection can take the write lock at once: nothing was left open.
      const raw = new Database(filename, { timeout: 0 })
      try {
        raw.exec("BEGIN IMMEDIATE")
        raw.exec("ROLLBACK")
      } finally {
        raw.close()
      }
      const before = yield* expectCountersIntact(store)
      const next = yield* executor.execute(counter, new Increment({ counter: "c1" }))
      expect(next.state).toBe(before[1]! + 1)
    })), 60_000)
})
