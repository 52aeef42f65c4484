/**
 * Read-side cases that need a SQL database: the handler's writes and the
 * checkpoint in one transaction, two store instances on one database (one
 * runner, takeover, exactly-once writes), a projection taken over from a dead
 * runner. Run by test/sqlite/readSide.test.ts and test/postgres/readSide.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Chunk, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Schema, Scope, Stream } from "effect"
import type { Event} from "eventfold";
import { EventCodec, EventStore, ExpectedVersion, Projection, StreamId, Subscription } from "eventfold"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
const AccountEvent = Schema.Union(Deposited, Withdrawn)
type AccountEvent = typeof AccountEvent.Type
const codec = EventCodec.make(AccountEvent)

/** One store instance (its own client and connections) on the test's database. */
export type Instance = Layer.Layer<EventStore.EventStore | SqlClient.SqlClient, unknown>

/** A fresh database, and a way to open instances on it. */
export type Database = Effect.Effect<() => Instance, unknown, Scope.Scope>

const appendTo = (stream: string, events: ReadonlyArray<AccountEvent>) =>
  Effect.flatMap(EventStore.typed(codec), (store) =>
    Effect.orDie(store.append({ streamId: StreamId.unsafeMake(stream), expected: ExpectedVersion.any, events })))

const createTables = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.zipRight(
    sql`CREATE TABLE proj_totals (stream_id TEXT PRIMARY KEY, total INTEGER NOT NULL)`,
    sql`CREATE TABLE proj_applied (event_id TEXT PRIMARY KEY)`
  ))

/**
 * Writes every event's amount into `proj_totals` and its id into
 * `proj_applied` (a primary key: an event applied twice fails the handler).
 * An amount of 666 is refused after its writes were made.
 */
const totals = (name: string) =>
  Projection.make({
    name,
    codec,
    handle: (events: ReadonlyArray<Event.RecordedEvent<AccountEvent>>) =>
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.forEach(events, (event) => {
          const delta = event.data._tag === "Deposited" ? event.data.amount : -event.data.amount
          return sql`INSERT INTO proj_totals (stream_id, total) VALUES (${event.streamId}, ${delta})
            ON CONFLICT (stream_id) DO UPDATE SET total = proj_totals.total + excluded.total`.pipe(
            Effect.zipRight(sql`INSERT INTO proj_applied (event_id) VALUES (${event.eventId})`),
            Effect.zipRight(event.data.amount === 666 ? Effect.fail("666 refused" as const) : Effect.void)
          )
        }, { discard: true }))
  })

const tableTotals = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(
    sql<{ stream_id: string; total: number }>`SELECT stream_id, total FROM proj_totals ORDER BY stream_id`,
    (rows) => Object.fromEntries(rows.map((r) => [r.stream_id, Number(r.total)]))
  ))

const appliedCount = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.map(sql<{ n: number }>`SELECT count(*) AS n FROM proj_applied`, (rows) => Number(rows[0]!.n)))

/** The balances folded from the streams themselves. */
const foldedTotals = Effect.flatMap(EventStore.EventStore, (store) =>
  Stream.runFold(store.readAll(), {} as Record<string, number>, (acc, raw) => {
    const data = JSON.parse(raw.data) as { amount: number }
    return { ...acc, [raw.streamId]: (acc[raw.streamId] ?? 0) + (raw.type === "Deposited" ? data.amount : -data.amount) }
  })).pipe(Effect.orDie)

const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean): Effect.Effect<A, E, R> =>
  Effect.flatMap(effect, (a) => done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep(Duration.millis(20)), eventually(effect, done)))

const statusOf = (name: string) =>
  Effect.map(Effect.orDie(Projection.status), (all) => Option.fromNullable(all.find((s) => s.name === name)))

const caughtUp = (name: string, runner?: string) =>
  eventually(
    statusOf(name),
    (s) => Option.isSome(s) && s.value.head > 0 && s.value.lag === 0 && (runner === undefined || s.value.runner === runner)
  )

const fast = { pollInterval: Duration.millis(50), leaseDuration: Duration.millis(600) } as const

export const readSideCases = (label: string, database: Database, options: { readonly killRunner: (projection: string) => Effect.Effect<number, unknown, SqlClient.SqlClient> }) =>
  describe(`${label} read side`, () => {
    it.live("the handler's SQL writes and the checkpoint commit together; a failed handler leaves neither", () =>
      Effect.gen(function*() {
        const open = yield* database
        const ctx = yield* Layer.build(open())
        const inCtx = <A, E>(effect: Effect.Effect<A, E, EventStore.EventStore | SqlClient.SqlClient>) => Effect.provide(effect, ctx)
        yield* inCtx(createTables)
        yield* inCtx(appendTo("s-1", [new Deposited({ amount: 1 }), new Deposited({ amount: 2 }), new Withdrawn({ amount: 666 })]))
        yield* inCtx(appendTo("s-2", [new Deposited({ amount: 4 })]))
        const error = yield* Effect.flip(inCtx(Projection.run(totals("tx"), { ...fast, batchSize: 10 })))
        expect(error).toMatchObject({ _tag: "ProjectionFailed", streamId: "s-1", version: 3, cause: "666 refused" })
        expect(yield* inCtx(tableTotals)).toEqual({ "s-1": 3 })
        expect(yield* inCtx(appliedCount)).toBe(2)
        const status = Option.getOrThrow(yield* inCtx(statusOf("tx")))
        const log = Chunk.toReadonlyArray(yield* inCtx(Stream.runCollect(Subscription.catchUp())))
        expect(status.checkpoint).toEqual({ cursor: log[1]!.cursor, position: log[1]!.position })
      }).pipe(Effect.scoped))

    it.live("executeEach runs one statement per event in the batch's transaction, statements of any shape, and a failing one stops the projection before its event", () =>
      Effect.gen(function*() {
        const open = yield* database
        const ctx = yield* Layer.build(open())
        const inCtx = <A, E>(effect: Effect.Effect<A, E, EventStore.EventStore | SqlClient.SqlClient>) => Effect.provide(effect, ctx)
        yield* inCtx(Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.all([
            sql`CREATE TABLE each_counts (stream_id TEXT PRIMARY KEY, n INTEGER NOT NULL, last_version INTEGER NOT NULL)`,
            sql`CREATE TABLE each_odd (event_id TEXT PRIMARY KEY, amount INTEGER NOT NULL CHECK (amount < 500))`,
            sql`CREATE TABLE each_even (event_id TEXT PRIMARY KEY, amount INTEGER NOT NULL)`
          ])))
        yield* inCtx(appendTo("e-1", [new Deposited({ amount: 1 }), new Deposited({ amount: 2 }), new Withdrawn({ amount: 3 })]))
        yield* inCtx(appendTo("e-2", [new Deposited({ amount: 4 }), new Deposited({ amount: 5 })]))
        const counting = Projection.make({
          name: "each",
          codec,
          handle: (events: ReadonlyArray<Event.RecordedEvent<AccountEvent>>) =>
            Effect.flatMap(SqlClient.SqlClient, (sql) =>
              Effect.zipRight(
                Projection.executeEach(events, (event) =>
                  sql`INSERT INTO each_counts (stream_id, n, last_version) VALUES (${event.streamId}, 1, ${event.version})
                    ON CONFLICT (stream_id) DO UPDATE SET n = each_counts.n + 1, last_version = excluded.last_version`),
                // two shapes in turn, and an identifier: each statement still writes where it says
                Projection.executeEach(events, (event) =>
                  event.data.amount % 2 === 1
                    ? sql`INSERT INTO ${sql("each_odd")} (event_id, amount) VALUES (${event.eventId}, ${event.data.amount})`
                    : sql`INSERT INTO each_even (amount, event_id) VALUES (${event.data.amount}, ${event.eventId})`)
              ))
        })
        yield* inCtx(Stream.runDrain(Projection.rebuild(counting, { ...fast, batchSize: 4, reset: Effect.void })))
        const rows = <A extends object>(query: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<A>, unknown>) =>
          inCtx(Effect.flatMap(SqlClient.SqlClient, query))
        expect(yield* rows((sql) => sql`SELECT stream_id, n, last_version FROM each_counts ORDER BY stream_id`)).toEqual([
          { stream_id: "e-1", n: 3, last_version: 3 },
          { stream_id: "e-2", n: 2, last_version: 2 }
        ])
        const amounts = (table: "each_odd" | "each_even") =>
          Effect.map(rows<{ amount: number }>((sql) => sql`SELECT amount FROM ${sql(table)} ORDER BY amount`), (r) => r.map((x) => Number(x.amount)))
        expect(yield* amounts("each_odd")).toEqual([1, 3, 5])
        expect(yield* amounts("each_even")).toEqual([2, 4])
        // outside a transaction each statement runs as an effect
        yield* inCtx(Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Projection.executeEach([7, 9], (n) => sql`INSERT INTO each_odd (event_id, amount) VALUES (${`x-${n}`}, ${n})`)))
        expect(yield* amounts("each_odd")).toEqual([1, 3, 5, 7, 9])
        // 777 breaks the CHECK: the batch fails, the events before it are committed, the checkpoint stops before it
        yield* inCtx(appendTo("e-3", [new Deposited({ amount: 11 }), new Deposited({ amount: 777 }), new Deposited({ amount: 13 })]))
        const error = yield* Effect.flip(inCtx(Projection.run(counting, { ...fast, batchSize: 10 })))
        expect(error).toMatchObject({ _tag: "ProjectionFailed", streamId: "e-3", version: 2 })
        expect(yield* amounts("each_odd")).toEqual([1, 3, 5, 7, 9, 11])
        const status = Option.getOrThrow(yield* inCtx(statusOf("each")))
        const log = Chunk.toReadonlyArray(yield* inCtx(Stream.runCollect(Subscription.catchUp())))
        expect(status.checkpoint).toEqual({ cursor: log[5]!.cursor, position: log[5]!.position })
      }).pipe(Effect.scoped))

    it.live("filters are applied in SQL: only matching rows are fetched", () =>
      Effect.gen(function*() {
        const open = yield* database
        const ctx = yield* Layer.build(open())
        const inCtx = <X, E>(effect: Effect.Effect<X, E, EventStore.EventStore | SqlClient.SqlClient>) => Effect.provide(effect, ctx)
        yield* inCtx(appendTo("noise-1", Array.from({ length: 60 }, (_, i) => new Deposited({ amount: i }))))
        yield* inCtx(appendTo("match-1", [new Withdrawn({ amount: 1 }), new Deposited({ amount: 2 })]))
        yield* inCtx(appendTo("noise-2", Array.from({ length: 60 }, (_, i) => new Withdrawn({ amount: i }))))
        yield* inCtx(appendTo("match-2", [new Withdrawn({ amount: 3 })]))
        const before = (yield* Metric.value(EventStore.rowsFetched)).count
        const seen = yield* inCtx(Stream.runCollect(Subscription.catchUp({ streamPrefix: "match-", types: ["Withdrawn"], pageSize: 10 })))
        const fetched = (yield* Metric.value(EventStore.rowsFetched)).count - before
        expect(Chunk.toReadonlyArray(seen).map((e) => [e.streamId, e.type])).toEqual([["match-1", "Withdrawn"], ["match-2", "Withdrawn"]])
        expect(fetched).toBe(2)
      }).pipe(Effect.scoped))

    it.live("two instances on one database: one runner at a time, exactly-once writes, takeover when the first stops", () =>
      Effect.gen(function*() {
        const open = yield* database
        const scopeA = yield* Scope.make()
        const a = yield* Layer.buildWithScope(open(), scopeA)
        const b = yield* Layer.build(open())
        const inA = <X, E>(effect: Effect.Effect<X, E, EventStore.EventStore | SqlClient.SqlClient>) => Effect.provide(effect, a)
        const inB = <X, E>(effect: Effect.Effect<X, E, EventStore.EventStore | SqlClient.SqlClient>) => Effect.provide(effect, b)
        yield* inA(createTables)
        yield* inA(appendTo("warm", [new Deposited({ amount: 1 })]))
        const runA = yield* Effect.fork(inA(Projection.run(totals("shared"), { ...fast, runner: "a", batchSize: 16 })))
        yield* inA(caughtUp("shared", "a"))
        const runB = yield* Effect.fork(inB(Projection.run(totals("shared"), { ...fast, runner: "b", batchSize: 16 })))
        // a burst of appends through both instances
        yield* Effect.all([
          Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) => inA(appendTo(`acct-${i % 5}`, [new Deposited({ amount: i + 1 })])), { discard: true }),
          Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) => inB(appendTo(`acct-${i % 7}`, [new Withdrawn({ amount: i })])), { discard: true })
        ], { concurrency: "unbounded" })
        const whileA = Option.getOrThrow(yield* inB(caughtUp("shared")))
        expect(whileA.runner).toBe("a")
        expect(yield* inB(tableTotals)).toEqual(yield* inB(foldedTotals))
        // A stops; B takes over
        yield* Fiber.interrupt(runA)
        yield* Scope.close(scopeA, Exit.void)
        yield* inB(appendTo("acct-late", [new Deposited({ amount: 42 })]))
        yield* inB(caughtUp("shared", "b"))
        expect(yield* inB(tableTotals)).toEqual(yield* inB(foldedTotals))
        expect(yield* inB(appliedCount)).toBe(62)
        expect(runB.unsafePoll()).toBe(null) // B is still running
        yield* Fiber.interrupt(runB)
      }).pipe(Effect.scoped))

    it.live("a runner that dies without releasing is taken over within the lease", () =>
      Effect.gen(function*() {
        const open = yield* database
        const a = yield* Layer.build(open())
        const b = yield* Layer.build(open())
        const inA = <X, E>(effect: Effect.Effect<X, E, EventStore.EventStore | SqlClient.SqlClient>) => Effect.provide(effect, a)
        const inB = <X, E>(effect: Effect.Effect<X, E, EventStore.EventStore | SqlClient.SqlClient>) => Effect.provide(effect, b)
        yield* inA(createTables)
        yield* inA(appendTo("d-1", [new Deposited({ amount: 5 })]))
        const runA = yield* Effect.fork(inA(Projection.run(totals("dead"), { ...fast, runner: "a" })))
        yield* inA(caughtUp("dead", "a"))
        const runB = yield* Effect.fork(inB(Projection.run(totals("dead"), { ...fast, runner: "b" })))
        // A "dies": its lead is taken away without its help
        expect(yield* inB(options.killRunner("dead"))).toBe(1)
        yield* inB(appendTo("d-1", [new Deposited({ amount: 7 })]))
        yield* inB(eventually(tableTotals, (t) => t["d-1"] === 12))
        expect(yield* inB(appliedCount)).toBe(2)
        yield* Fiber.interrupt(runA)
        yield* Fiber.interrupt(runB)
      }).pipe(Effect.scoped))
  })
