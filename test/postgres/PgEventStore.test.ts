/**
 * What the PostgreSQL store does beyond the contract suite (./contract.test.ts):
 * rows corrupted by raw SQL, connection release, gap-free global order, several
 * pools (application instances) on one database, migrations and configuration.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import {
  Array as Arr,
  Chunk,
  ConfigProvider,
  Context,
  Deferred,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Redacted,
  Schedule,
  Schema,
  Stream,
  TestClock
} from "effect"
import type { Duration } from "effect"
import { Event, EventCodec, EventStore, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import type { PgClient as RawPgClient } from "../support/pgDriver.ts"
import { connectPg } from "../support/pgDriver.ts"
import { databaseForFile, freshSchemaUrl } from "./support.ts"

const db = databaseForFile("pg_store")

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
const codec = EventCodec.make(Schema.Union(Deposited, Withdrawn))

const sid = StreamId.unsafeMake

const deposit = (amount: number): Effect.Effect<Event.EventData> =>
  Effect.orDie(EventCodec.toEventData(codec, new Deposited({ amount })))

const raw = (type: string, data: string, metadata = "{}"): Effect.Effect<Event.EventData> =>
  Effect.map(Event.makeEventId, (eventId) => ({ eventId, type, data, metadata }))

const write = (streamId: StreamId.StreamId, expected: ExpectedVersion.ExpectedVersion, events: ReadonlyArray<Event.EventData>) => ({
  streamId,
  expected,
  events
})

interface ClientOptions {
  readonly maxConnections?: number
  readonly idleTimeout?: Duration.DurationInput
}

/** A store on the schema of `url`, together with its `SqlClient` (for raw SQL in the test). */
const storeAndClientAt = (url: string, options: ClientOptions = {}) =>
  PgEventStore.layerFromClient().pipe(
    Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: options.maxConnections, idleTimeout: options.idleTimeout }))
  )

/** A store on a fresh schema, together with its `SqlClient` (for raw SQL in the test). */
const storeAndClient = (options: ClientOptions & { readonly settings?: Record<string, string> } = {}) =>
  Layer.unwrapEffect(Effect.map(freshSchemaUrl(db().url, options.settings), (url) => storeAndClientAt(url, options)))

/** A plain `pg` connection of the test's own, outside any pool, closed with the scope. */
const rawConnection = (url: string) =>
  Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end().catch(() => undefined)))

const query = <Row extends Record<string, unknown> = Record<string, unknown>>(
  client: RawPgClient,
  text: string,
  values: Array<unknown> = []
) => Effect.map(Effect.promise(() => client.query<Row>(text, values)), (result) => result.rows)

/** The store's append lock (see src/postgres/PgEventStore.ts) and its migration lock, taken by hand. */
const appendLock = `SELECT pg_advisory_xact_lock(${0x65766674}, 'eventfold_events'::regclass::oid::int4)`
const migrateLock = `SELECT pg_advisory_xact_lock(${0x65766674}, 0)`

/** The pid of the one session of this database waiting for an advisory lock (polls until there is one). */
const lockWaiter = (client: RawPgClient) =>
  query<{ pid: number }>(
    client,
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
  ).pipe(
    Effect.filterOrFail((rows) => rows.length > 0, () => "no session waits yet"),
    Effect.retry(Schedule.spaced("10 millis")),
    Effect.map((rows) => {
      expect(rows).toHaveLength(1)
      return rows[0]!.pid
    })
  )

/**
 * A raw transaction, left open, that inserted version `version` of `streamId`:
 * an append of that version waits for it (on the unique index) until it ends.
 */
const holdVersion = (url: string, streamId: string, version: number) =>
  Effect.gen(function*() {
    const holder = yield* rawConnection(url)
    yield* query(holder, "BEGIN")
    yield* query(
      holder,
      `INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at)
       VALUES ($1, $2, gen_random_uuid(), 'Held', '{}', '{}', now())`,
      [streamId, version]
    )
    return holder
  })

/** The pid of the one other session of this database waiting for a transaction to end (polls until there is one). */
const rowLockWaiter = (client: RawPgClient) =>
  query<{ pid: number }>(
    client,
    `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'transactionid' AND NOT l.granted AND a.datname = current_database()`
  ).pipe(
    Effect.filterOrFail((rows) => rows.length > 0, () => "no session waits yet"),
    Effect.retry(Schedule.spaced("10 millis")),
    Effect.map((rows) => {
      expect(rows).toHaveLength(1)
      return rows[0]!.pid
    })
  )

/** A store on its own pool, built in the current scope: one "application instance" on `url`. */
const instance = (url: string, maxConnections = 4) =>
  Effect.map(
    Layer.build(PgEventStore.layer({ url: Redacted.make(url), maxConnections })),
    (context) => Context.get(context, EventStore.EventStore)
  )

const collect = <A, E>(stream: Stream.Stream<A, E>) => Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

/** The events of `readAll` whose position is at least `position` (positions are unique, not the order). */
const collectFrom = (store: EventStore.EventStore.Service, position: number, pageSize?: number) =>
  Effect.map(collect(store.readAll({ pageSize })), (events) => events.filter((e) => e.position >= position))

describe("PgEventStore", () => {
  it.live("a row corrupted by raw SQL fails the typed read with EventDecodeError naming stream, version, position and type", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      const appended = yield* store.append([
        write(sid("acct-1"), ExpectedVersion.noStream, [yield* deposit(1), yield* deposit(2), yield* deposit(3)]),
        write(sid("acct-2"), ExpectedVersion.noStream, [yield* deposit(4)])
      ])
      yield* sql`UPDATE eventfold_events SET data = '{"amount":"oops"}' WHERE stream_id = 'acct-1' AND version = 2`
      yield* sql`UPDATE eventfold_events SET type = 'Teleported' WHERE stream_id = 'acct-2' AND version = 1`
      const typed = yield* EventStore.typed(codec)

      const seen: Array<number> = []
      const error = yield* typed.read(sid("acct-1")).pipe(
        Stream.runForEach((event) => Effect.sync(() => seen.push(event.version))),
        Effect.flip
      )
      expect(seen).toEqual([1])
      expect(error).toBeInstanceOf(StoreError.EventDecodeError)
      expect(error).toMatchObject({ streamId: "acct-1", version: 2, position: appended.positions[1], type: "Deposited" })
      expect(error.message).toContain("acct-1")

      const unknown = yield* Effect.flip(Stream.runDrain(typed.read(sid("acct-2"))))
      expect(unknown).toMatchObject({ _tag: "EventDecodeError", streamId: "acct-2", version: 1, type: "Teleported" })

      // The raw store still reads both rows: only decoding fails.
      const rows = yield* collect(store.read(sid("acct-1")))
      expect(rows.map((e) => JSON.parse(e.data))).toEqual([
        { amount: 1 },
        { amount: "oops" },
        { amount: 3 }
      ])
    }).pipe(Effect.provide(storeAndClient())))

  it.live("50 abandoned reads on a pool of 2 connections leave the pool serving reads and appends, with nothing left open", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      const events = yield* Effect.forEach(Arr.range(1, 40), deposit)
      yield* store.append(write(sid("long"), ExpectedVersion.noStream, events))
      for (let i = 0; i < 50; i++) {
        const [first] = yield* collect(Stream.take(store.read(sid("long"), { pageSize: 8 }), 1))
        expect(first!.version).toBe(1)
        yield* Stream.runDrain(Stream.take(store.readAll({ pageSize: 8 }), 1))
        yield* Stream.runDrain(Stream.take(store.read(sid("long"), { direction: "backward", pageSize: 8 }), 1))
      }
      const after = yield* store.append(write(sid("long"), ExpectedVersion.unsafeExact(40), [yield* deposit(41)]))
      expect(after.streams).toEqual([{ streamId: "long", version: 41 }])
      expect((yield* collect(store.read(sid("long")))).map((e) => e.version)).toEqual(Arr.range(1, 41))
      // Two statements at once make sure the pool has opened both its connections.
      yield* Effect.all([sql`SELECT pg_sleep(0.05)`, sql`SELECT pg_sleep(0.05)`], { concurrency: 2 })
      const sessions = yield* sql<{ mine: boolean; state: string }>`
        SELECT pid = pg_backend_pid() AS mine, state FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = '@effect/sql-pg'`
      // The filter matches the pool's sessions: this query's own, and the
      // pool's other connection, which is idle: no open transaction, no cursor.
      expect(sessions.filter((s) => s.mine)).toEqual([{ mine: true, state: "active" }])
      expect(sessions.filter((s) => !s.mine)).toEqual([{ mine: false, state: "idle" }])
    }).pipe(Effect.provide(storeAndClient({ maxConnections: 2, idleTimeout: "10 minutes" }))))

  it.live("readAll never passes an append whose transaction is still open, though later appends commit meanwhile; it appears in order once committed", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      yield* store.append(write(sid("earlier"), ExpectedVersion.noStream, [yield* deposit(1)]))
      const [checkpoint] = yield* collect(store.readAll())

      // An append whose transaction stays open: run inside an outer transaction
      // of the same client, it joins it, and its rows are inserted but not committed.
      const inserted = yield* Deferred.make<EventStore.AppendResult>()
      const commit = yield* Deferred.make<void>()
      const slow = yield* Effect.fork(sql.withTransaction(Effect.gen(function*() {
        const result = yield* store.append(write(sid("slow"), ExpectedVersion.noStream, [yield* deposit(2)]))
        yield* Deferred.succeed(inserted, result)
        yield* Deferred.await(commit)
        return result
      })))
      const slowPosition = (yield* Deferred.await(inserted)).positions[0]!

      // Later appends to other streams do not wait for it: they commit at once.
      const later = yield* store.append(write(sid("later"), ExpectedVersion.noStream, [yield* deposit(3)]))
      expect(later.positions[0]!).toBeGreaterThan(slowPosition)
      expect((yield* collect(store.read(sid("later")))).map((e) => e.version)).toEqual([1])

      // While the slow one is open, readAll stops before it, from the start and
      // from the checkpoint: the committed "later" is held back too.
      expect((yield* collect(store.readAll())).map((e) => e.streamId)).toEqual(["earlier"])
      expect(yield* collect(store.readAll({ after: checkpoint!.cursor }))).toEqual([])

      yield* Deferred.succeed(commit, undefined)
      yield* Fiber.join(slow)

      const after = yield* collect(store.readAll())
      expect(after.map((e) => e.streamId)).toEqual(["earlier", "slow", "later"])
      expect(after.map((e) => e.position)).toEqual([checkpoint!.position, slowPosition, later.positions[0]])
      // A subscriber that had reached the end before the commit resumes without a gap.
      const resumed = yield* collect(store.readAll({ after: checkpoint!.cursor, pageSize: 1 }))
      expect(resumed.map((e) => e.streamId)).toEqual(["slow", "later"])
    }).pipe(Effect.provide(storeAndClient({ maxConnections: 4 }))))

  it.live("a rolled-back append inside the caller's transaction is never seen by readAll, and readers resume past the hole", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      yield* store.append(write(sid("kept-1"), ExpectedVersion.noStream, [yield* deposit(1)]))
      const [checkpoint] = yield* collect(store.readAll())
      const rolledBack = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
        yield* store.append(write(sid("doomed"), ExpectedVersion.noStream, [yield* deposit(2), yield* deposit(3)]))
        return yield* Effect.fail("abort" as const)
      })))
      expect(rolledBack._tag).toBe("Failure")
      yield* store.append(write(sid("kept-2"), ExpectedVersion.noStream, [yield* deposit(4)]))
      const resumed = yield* collect(store.readAll({ after: checkpoint!.cursor }))
      expect(resumed.map((e) => e.streamId)).toEqual(["kept-2"])
      expect(yield* collect(store.read(sid("doomed")))).toEqual([])
    }).pipe(Effect.provide(storeAndClient({ maxConnections: 2 }))))

  it.live("two pools appending to one stream with exact expected versions: exactly one winner per version", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const a = yield* instance(url)
      const b = yield* instance(url)
      const rounds = 10
      const winners: Array<number> = []
      for (let version = 0; version < rounds; version++) {
        const attempts = yield* Effect.forEach(Arr.range(1, 8), (contender) =>
          Effect.flatMap(deposit(version * 100 + contender), (event) =>
            Effect.either((contender % 2 === 0 ? a : b).append(write(sid("contended"), ExpectedVersion.unsafeExact(version), [event])))), {
          concurrency: "unbounded"
        })
        const won = attempts.filter(Either.isRight)
        expect(won).toHaveLength(1)
        expect(won[0]!.right.streams).toEqual([{ streamId: "contended", version: version + 1 }])
        for (const lost of attempts.filter(Either.isLeft)) {
          expect(lost.left).toMatchObject({ _tag: "WrongExpectedVersion", actual: version + 1 })
        }
        winners.push(attempts.findIndex(Either.isRight) + 1 + version * 100)
      }
      const stored = yield* collect(b.read(sid("contended")))
      expect(stored.map((e) => e.version)).toEqual(Arr.range(1, rounds))
      expect(stored.map((e) => JSON.parse(e.data).amount)).toEqual(winners)
    })))

  it.live("two pools appending with Any from many fibers lose nothing, keep versions dense and each append contiguous in readAll", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const a = yield* instance(url)
      const b = yield* instance(url)
      yield* Effect.forEach(Arr.range(1, 20), (fiber) =>
        Effect.forEach(Arr.range(1, 5), (i) =>
          Effect.flatMap(Effect.all([deposit(fiber * 1000 + i * 2), deposit(fiber * 1000 + i * 2 + 1)]), (events) =>
            (fiber % 2 === 0 ? a : b).append(write(sid("crowd"), ExpectedVersion.any, events))), { discard: true }), {
        concurrency: "unbounded",
        discard: true
      })
      const events = yield* collect(a.read(sid("crowd"), { pageSize: 7 }))
      expect(events.map((e) => e.version)).toEqual(Arr.range(1, 200))
      expect(new Set(events.map((e) => JSON.parse(e.data).amount)).size).toBe(200)
      const all = yield* collect(b.readAll({ pageSize: 9 }))
      // positions are unique (a collision retried draws new ones, so not dense)
      expect(new Set(all.map((e) => e.position)).size).toBe(200)
      // Each append's two events are adjacent in the global order.
      for (let i = 0; i < 200; i += 2) expect(JSON.parse(all[i + 1]!.data).amount).toBe(JSON.parse(all[i]!.data).amount + 1)
    })))

  it.live("under default_transaction_isolation = serializable, concurrent appends still lose nothing", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const sql = yield* SqlClient.SqlClient
      const [isolation] = yield* sql<{ level: string }>`SELECT current_setting('transaction_isolation') AS level`
      expect(isolation!.level).toBe("serializable")
      yield* Effect.forEach(Arr.range(1, 12), (i) =>
        Effect.flatMap(deposit(i), (event) =>
          store.append([
            write(sid(`own-${i}`), ExpectedVersion.noStream, [event]),
            write(sid("shared"), ExpectedVersion.any, [Object.assign({}, event, { eventId: crypto.randomUUID() as Event.EventId })])
          ])), { concurrency: "unbounded", discard: true })
      expect((yield* collect(store.read(sid("shared")))).map((e) => e.version)).toEqual(Arr.range(1, 12))
      expect(yield* collect(store.readAll())).toHaveLength(24)
    }).pipe(Effect.provide(storeAndClient({ settings: { default_transaction_isolation: "serializable" } }))))

  it.live("metadata that is not JSON and an event id that is not a UUID are InvalidArgument, and nothing is written", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const badMetadata = yield* Effect.flip(store.append([
        write(sid("fine"), ExpectedVersion.noStream, [yield* deposit(1)]),
        write(sid("meta"), ExpectedVersion.noStream, [yield* raw("Deposited", "{\"amount\":1}", "{not json")])
      ]))
      expect(badMetadata).toBeInstanceOf(StoreError.InvalidArgument)
      expect(badMetadata).toMatchObject({ operation: "append" })
      expect(badMetadata.message).toContain("JSON")
      const badId = yield* Effect.flip(store.append(write(sid("id"), ExpectedVersion.any, [{
        eventId: "not-a-uuid" as Event.EventId,
        type: "Deposited",
        data: "{\"amount\":1}",
        metadata: "{}"
      }])))
      expect(badId._tag).toBe("InvalidArgument")
      expect(badId.message).toContain("UUID")
      expect(yield* collect(store.readAll())).toEqual([])
    }).pipe(Effect.provide(storeAndClient())))

  it.live("data comes back as equivalent JSON text: jsonb keeps values, unicode and escapes, not whitespace or key order", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const data = "{ \"z\" : 1,\n  \"a\": \"ü流🚀 \\\"quoted\\\" \\\\ back\\nline\", \"n\": [1.5, null, true, {}] }"
      yield* store.append(write(sid("json"), ExpectedVersion.noStream, [yield* raw("Deposited", data, "{\"k\": \"v\"}")]))
      const [stored] = yield* collect(store.read(sid("json")))
      expect(JSON.parse(stored!.data)).toEqual(JSON.parse(data))
      expect(stored!.data).toBe("{\"a\": \"ü流🚀 \\\"quoted\\\" \\\\ back\\nline\", \"n\": [1.5, null, true, {}], \"z\": 1}")
      expect(JSON.parse(stored!.metadata)).toEqual({ k: "v" })
    }).pipe(Effect.provide(storeAndClient())))

  it.effect("recordedAt is the Effect Clock's time at the append, to the millisecond", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const at = Date.UTC(2031, 4, 6, 7, 8, 9, 123)
      yield* TestClock.setTime(at)
      yield* store.append(write(sid("clock"), ExpectedVersion.noStream, [yield* deposit(1)]))
      yield* TestClock.adjust("1 second")
      yield* store.append(write(sid("clock"), ExpectedVersion.unsafeExact(1), [yield* deposit(2)]))
      const events = yield* collect(store.read(sid("clock")))
      expect(events.map((e) => e.recordedAt.getTime())).toEqual([at, at + 1000])
      expect(events[0]!.recordedAt.toISOString()).toBe("2031-05-06T07:08:09.123Z")
    }).pipe(Effect.provide(storeAndClient())))

  it.live("positions drawn by a failed append leave a gap that readAll steps over", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const [first] = yield* Effect.forEach([1], deposit)
      const one = yield* store.append(write(sid("g"), ExpectedVersion.noStream, [first!]))
      const duplicate = yield* Effect.flip(store.append(write(sid("h"), ExpectedVersion.any, [yield* deposit(2), yield* deposit(3), first!])))
      expect(duplicate).toMatchObject({ _tag: "DuplicateEventId", eventId: first!.eventId, streamId: "h" })
      const two = yield* store.append(write(sid("h"), ExpectedVersion.noStream, [yield* deposit(4)]))
      expect(two.positions[0]!).toBeGreaterThan(one.positions[0]! + 1)
      expect((yield* collect(store.readAll({ pageSize: 1 }))).map((e) => e.position)).toEqual([one.positions[0], two.positions[0]])
      expect((yield* collectFrom(store, one.positions[0]! + 1)).map((e) => e.streamId)).toEqual(["h"])
      expect((yield* collect(store.read(sid("h")))).map((e) => e.version)).toEqual([1])
    }).pipe(Effect.provide(storeAndClient())))

  it.live("reads from versions beyond the int4 range: forward is empty, backward starts at the head", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append(write(sid("far"), ExpectedVersion.noStream, yield* Effect.forEach(Arr.range(1, 5), deposit)))
      expect(yield* collect(store.read(sid("far"), { from: 2 ** 40 }))).toEqual([])
      const backward = yield* collect(store.read(sid("far"), { from: 2 ** 40, direction: "backward", pageSize: 2 }))
      expect(backward.map((e) => e.version)).toEqual([5, 4, 3, 2, 1])
      expect(yield* collectFrom(store, 2 ** 52)).toEqual([])
    }).pipe(Effect.provide(storeAndClient())))

  it.live("migrate run by three instances at once applies the schema once", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const client = () => PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })
      const results = yield* Effect.forEach(
        [1, 2, 3],
        () => Effect.provide(PgEventStore.migrate, client()),
        { concurrency: "unbounded" }
      )
      expect(results.filter((ran) => ran.length > 0)).toEqual([[[1, "create_events"], [2, "global_order_by_transaction"], [3, "read_side"], [4, "create_snapshots"], [5, "cached_plans_and_notify_after_commit"]]])
      const rows = yield* Effect.provide(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ id: number }>`SELECT migration_id AS id FROM eventfold_migrations`),
        client()
      )
      expect(rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }])
      const store = yield* instance(url)
      expect((yield* store.append(write(sid("m"), ExpectedVersion.noStream, [yield* deposit(1)]))).streams).toEqual([
        { streamId: "m", version: 1 }
      ])
    })))

  it.live("layerConfig reads DATABASE_URL through Config, and fails with a ConfigError without it", () =>
    Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const withUrl = ConfigProvider.fromMap(new Map([["DATABASE_URL", url]]))
      const result = yield* Effect.flatMap(EventStore.EventStore, (store) =>
        Effect.flatMap(deposit(1), (event) => store.append(write(sid("cfg"), ExpectedVersion.noStream, [event])))).pipe(
        Effect.provide(PgEventStore.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(withUrl))))
      )
      expect(result.streams).toEqual([{ streamId: "cfg", version: 1 }])
      const missing = yield* Effect.exit(Effect.provide(
        EventStore.EventStore,
        PgEventStore.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map()))))
      ))
      expect(Exit.isFailure(missing)).toBe(true)
      expect(String(Exit.isFailure(missing) ? missing.cause : "")).toContain("DATABASE_URL")
    }))

  it.live("an unreachable server fails the layer with StoreUnavailable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(
        EventStore.EventStore,
        PgEventStore.layer({ url: Redacted.make("postgres://nobody:nothing@127.0.0.1:1/none"), connectTimeout: "2 seconds" })
      ))
      expect(error).toBeInstanceOf(StoreError.StoreUnavailable)
      expect(error).toMatchObject({ operation: "connect" })
    }))

  describe("failures around the transaction", () => {
    it.live("an append whose COMMIT fails (a deferred constraint trigger) fails with StoreUnavailable, writes nothing, and a retry with the same ids commits once", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'P0001'; END $$`)
        yield* sql.unsafe(`CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON eventfold_events
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.stream_id = 'doomed') EXECUTE FUNCTION refuse_at_commit()`)
        const writes = [
          write(sid("fine"), ExpectedVersion.noStream, [yield* deposit(1)]),
          write(sid("doomed"), ExpectedVersion.noStream, [yield* deposit(2), yield* deposit(3)])
        ] as const
        const error = yield* Effect.flip(store.append(writes))
        expect(error).toBeInstanceOf(StoreError.StoreUnavailable)
        expect(error).toMatchObject({ operation: "append", cause: { _tag: "SqlError", cause: { code: "P0001", message: "refused at commit" } } })
        expect(yield* collect(store.readAll())).toEqual([])
        // The connection went back to the pool usable: the next append commits.
        const other = yield* store.append(write(sid("other"), ExpectedVersion.noStream, [yield* deposit(4)]))
        expect(other.streams).toEqual([{ streamId: "other", version: 1 }])

        // The retry of the same events (same ids) commits them once; a further
        // retry says they are already stored.
        yield* sql.unsafe("DROP TRIGGER refuse ON eventfold_events")
        const retried = yield* store.append(writes)
        expect(retried.streams).toEqual([{ streamId: "fine", version: 1 }, { streamId: "doomed", version: 2 }])
        const again = yield* Effect.flip(store.append(write(sid("doomed"), ExpectedVersion.any, writes[1]!.events)))
        expect(again).toMatchObject({ _tag: "DuplicateEventId", eventId: writes[1]!.events[0]!.eventId, streamId: "doomed" })
        expect((yield* collect(store.readAll())).map((e) => [e.streamId, e.version])).toEqual([["other", 1], ["fine", 1], ["doomed", 1], ["doomed", 2]])
      }).pipe(Effect.provide(storeAndClient())))

    it.live("an append whose connection is terminated while it waits for a concurrent writer fails with StoreUnavailable, writes nothing, and its pool of one serves on", () =>
      Effect.scoped(Effect.gen(function*() {
        const url = yield* freshSchemaUrl(db().url)
        const store = Context.get(yield* Layer.build(storeAndClientAt(url, { maxConnections: 1 })), EventStore.EventStore)
        const holder = yield* holdVersion(url, "cut", 1)
        const pending = yield* Effect.fork(store.append(write(sid("cut"), ExpectedVersion.noStream, [yield* deposit(1)])))
        const pid = yield* rowLockWaiter(holder)
        expect(yield* query(holder, "SELECT pg_terminate_backend($1) AS done", [pid])).toEqual([{ done: true }])
        const error = yield* Effect.flip(Fiber.join(pending))
        expect(error).toMatchObject({ _tag: "StoreUnavailable", operation: "append" })
        yield* query(holder, "ROLLBACK")
        // The dead connection left the pool: the next operations get a new one.
        expect(yield* collect(store.read(sid("cut")))).toEqual([])
        const next = yield* store.append(write(sid("cut"), ExpectedVersion.noStream, [yield* deposit(2)]))
        expect(next.streams).toEqual([{ streamId: "cut", version: 1 }])
        expect((yield* collect(store.read(sid("cut")))).map((e) => JSON.parse(e.data).amount)).toEqual([2])
      })))

    it.live("after pg_terminate_backend of every idle pooled connection, the next read and the next append succeed", () =>
      Effect.scoped(Effect.gen(function*() {
        const url = yield* freshSchemaUrl(db().url)
        const context = yield* Layer.build(storeAndClientAt(url, { maxConnections: 2, idleTimeout: "10 minutes" }))
        const store = Context.get(context, EventStore.EventStore)
        const admin = yield* rawConnection(url)
        for (let round = 1; round <= 3; round++) {
          // fill the pool with idle connections
          yield* Effect.forEach(Arr.range(1, 2), () => collect(store.read(sid("kill"))), { concurrency: 2, discard: true })
          const killed = yield* query<{ n: number }>(
            admin,
            `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`
          )
          expect(killed[0]!.n).toBeGreaterThanOrEqual(1)
          // the server's FATAL notice reaches the idle clients asynchronously; do not wait for it
          expect((yield* collect(store.read(sid("kill")))).map((e) => e.version)).toEqual(round === 1 ? [] : Arr.range(1, round - 1))
          const appended = yield* store.append(write(sid("kill"), ExpectedVersion.unsafeExact(round - 1), [yield* deposit(round)]))
          expect(appended.streams).toEqual([{ streamId: "kill", version: round }])
        }
      })))

    it.live("appends and reads interrupted while they wait for a pool connection do not leak it (maxConnections: 1)", () =>
      Effect.scoped(Effect.gen(function*() {
        const url = yield* freshSchemaUrl(db().url)
        const context = yield* Layer.build(storeAndClientAt(url, { maxConnections: 1 }))
        const store = Context.get(context, EventStore.EventStore)
        for (const round of [1, 2, 3]) {
          // A holds the one connection: its insert waits for a raw transaction's row
          const holder = yield* holdVersion(url, `busy-${round}`, 1)
          const a = yield* Effect.fork(store.append(write(sid(`busy-${round}`), ExpectedVersion.any, [yield* deposit(1)])))
          yield* rowLockWaiter(holder)
          // B and R wait for the connection, and are interrupted
          const b = yield* Effect.fork(store.append(write(sid(`other-${round}`), ExpectedVersion.noStream, [yield* deposit(2)])))
          const r = yield* Effect.fork(Stream.runDrain(store.readAll()))
          yield* Effect.sleep("50 millis")
          yield* Fiber.interrupt(b)
          yield* Fiber.interrupt(r)
          yield* query(holder, "ROLLBACK")
          expect((yield* Fiber.join(a)).streams).toEqual([{ streamId: `busy-${round}`, version: 1 }])
          // C gets the connection (a leak would make it hang: the guard turns that into a failure)
          const c = yield* store.append(write(sid(`after-${round}`), ExpectedVersion.noStream, [yield* deposit(3)])).pipe(
            Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => "the pool's only connection leaked" as const })
          )
          expect(c.streams).toEqual([{ streamId: `after-${round}`, version: 1 }])
          expect(yield* collect(store.read(sid(`other-${round}`)))).toEqual([])
        }
      })))

    it.live("migrate interrupted while it waits for a pool connection does not leak it (maxConnections: 1)", () =>
      Effect.scoped(Effect.gen(function*() {
        const url = yield* freshSchemaUrl(db().url)
        const context = yield* Layer.build(storeAndClientAt(url, { maxConnections: 1 }))
        const store = Context.get(context, EventStore.EventStore)
        const holder = yield* holdVersion(url, "busy", 1)
        const a = yield* Effect.fork(store.append(write(sid("busy"), ExpectedVersion.any, [yield* deposit(1)])))
        yield* rowLockWaiter(holder)
        const m = yield* Effect.fork(Effect.provide(PgEventStore.migrate, context))
        yield* Effect.sleep("50 millis")
        const interrupted = yield* Effect.fork(Fiber.interrupt(m))
        yield* query(holder, "ROLLBACK")
        yield* Fiber.join(a)
        yield* Fiber.join(interrupted)
        const c = yield* Effect.provide(PgEventStore.migrate, context).pipe(
          Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => "the pool's only connection leaked" as const })
        )
        expect(c).toEqual([])
        expect((yield* store.append(write(sid("busy"), ExpectedVersion.unsafeExact(1), [yield* deposit(2)]))).streams)
          .toEqual([{ streamId: "busy", version: 2 }])
      })))

    it.live("migrate whose connection is terminated while it waits for the migration lock fails with StoreUnavailable, and runs on retry", () =>
      Effect.scoped(Effect.gen(function*() {
        const url = yield* freshSchemaUrl(db().url)
        const client = yield* Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))
        const holder = yield* rawConnection(url)
        yield* query(holder, "BEGIN")
        yield* query(holder, migrateLock)
        const pending = yield* Effect.fork(Effect.provide(PgEventStore.migrate, client))
        yield* query(holder, "SELECT pg_terminate_backend($1)", [yield* lockWaiter(holder)])
        const error = yield* Effect.flip(Fiber.join(pending))
        expect(error).toBeInstanceOf(StoreError.StoreUnavailable)
        expect(error).toMatchObject({ operation: "migrate" })
        yield* query(holder, "COMMIT")
        expect(yield* Effect.provide(PgEventStore.migrate, client)).toEqual([[1, "create_events"], [2, "global_order_by_transaction"], [3, "read_side"], [4, "create_snapshots"], [5, "cached_plans_and_notify_after_commit"]])
      })))
  })

  describe("errors of the driver", () => {
    it.live("a writer that slips a row in after the version check surfaces as WrongExpectedVersion naming its stream, and nothing is written", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* EventStore.EventStore
        yield* store.append(write(sid("victim"), ExpectedVersion.noStream, [yield* deposit(1)]))
        // The trigger runs between the check and the insert, as a racing writer would.
        yield* sql.unsafe(`CREATE FUNCTION slip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
          INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at)
          VALUES (NEW.stream_id, NEW.version, gen_random_uuid(), 'Intruder', '{}', '{}', now());
          RETURN NEW; END $$`)
        yield* sql.unsafe(`CREATE TRIGGER slip BEFORE INSERT ON eventfold_events
          FOR EACH ROW WHEN (NEW.type = 'Deposited' AND NEW.stream_id = 'victim') EXECUTE FUNCTION slip()`)
        const error = yield* Effect.flip(store.append([
          write(sid("bystander"), ExpectedVersion.noStream, [yield* deposit(5)]),
          write(sid("victim"), ExpectedVersion.unsafeExact(1), [yield* deposit(2), yield* deposit(3)])
        ]))
        expect(error).toBeInstanceOf(StoreError.WrongExpectedVersion)
        // The failed INSERT takes the trigger's row with it, so the head seen afterwards is still 1.
        expect(error).toMatchObject({ streamId: "victim", expected: { _tag: "Exact", version: 1 }, actual: 1 })
        yield* sql.unsafe("DROP TRIGGER slip ON eventfold_events")
        expect((yield* collect(store.readAll())).map((e) => [e.streamId, e.version, e.type])).toEqual([["victim", 1, "Deposited"]])
      }).pipe(Effect.provide(storeAndClient())))

    it.live("serialization failures and deadlocks are retried 10 times, then surface as WrongExpectedVersion; data exceptions are InvalidArgument at once", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* EventStore.EventStore
        yield* store.append(write(sid("flaky"), ExpectedVersion.noStream, [yield* deposit(1)]))
        // A sequence counts the attempts: nextval is not undone by a rollback.
        yield* sql.unsafe("CREATE SEQUENCE attempts")
        yield* sql.unsafe(`CREATE FUNCTION flaky() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
          PERFORM nextval('attempts');
          RAISE EXCEPTION 'simulated' USING ERRCODE = (SELECT code FROM failure);
          END $$`)
        yield* sql.unsafe("CREATE TABLE failure (code text)")
        yield* sql.unsafe(`CREATE TRIGGER flaky BEFORE INSERT ON eventfold_events
          FOR EACH ROW WHEN (NEW.stream_id = 'flaky') EXECUTE FUNCTION flaky()`)
        const attemptsWith = (code: string) =>
          Effect.gen(function*() {
            yield* sql`DELETE FROM failure`
            yield* sql`INSERT INTO failure VALUES (${code})`
            yield* sql`SELECT setval('attempts', 1, false)`
            const error = yield* Effect.flip(store.append(write(sid("flaky"), ExpectedVersion.any, [yield* deposit(2)])))
            const [counted] = yield* sql<{ n: number }>`SELECT CASE WHEN is_called THEN last_value ELSE 0 END::int AS n FROM attempts`
            return [error, counted!.n] as const
          })
        for (const code of ["40001", "40P01"]) {
          const [error, attempts] = yield* attemptsWith(code)
          expect(error).toBeInstanceOf(StoreError.WrongExpectedVersion)
          expect(error).toMatchObject({ streamId: "flaky", expected: { _tag: "Any" }, actual: 1 })
          expect(attempts).toBe(11)
        }
        const [invalid, attempts] = yield* attemptsWith("22023")
        expect(invalid).toBeInstanceOf(StoreError.InvalidArgument)
        expect(invalid.message).toContain("rejected by PostgreSQL: simulated")
        expect(attempts).toBe(1)
        const [unavailable] = yield* attemptsWith("XX000")
        expect(unavailable).toMatchObject({ _tag: "StoreUnavailable", operation: "append" })
        expect((yield* collect(store.read(sid("flaky")))).map((e) => e.version)).toEqual([1])
      }).pipe(Effect.provide(storeAndClient())))

    it.live("what PostgreSQL cannot store (a NUL in a type, a \\u0000 escape in jsonb) is InvalidArgument before any SQL, and nothing is written", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const nulType = yield* Effect.flip(store.append([
          write(sid("fine"), ExpectedVersion.noStream, [yield* deposit(1)]),
          write(sid("nul"), ExpectedVersion.noStream, [yield* raw("Dep\u0000osited", "{\"amount\":1}")])
        ]))
        expect(nulType).toMatchObject({ _tag: "InvalidArgument", operation: "append" })
        expect(nulType.message).toContain("without NUL characters")
        const nulJson = yield* Effect.flip(store.append(write(sid("nul"), ExpectedVersion.noStream, [yield* raw("Deposited", "{\"a\":\"\\u0000\"}")])))
        expect(nulJson).toMatchObject({ _tag: "InvalidArgument", operation: "append" })
        expect(nulJson.message).toContain("must not hold a NUL character")
        expect(yield* collect(store.readAll())).toEqual([])
      }).pipe(Effect.provide(storeAndClient())))
  })

  describe("appends inside the caller's transaction", () => {
    it.live("at READ COMMITTED the append joins the transaction: both commit, or neither", () =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE notes (body text)`
        const joined = (body: string, fail: boolean) =>
          sql.withTransaction(Effect.gen(function*() {
            yield* sql`INSERT INTO notes VALUES (${body})`
            const result = yield* store.append(write(sid(`with-${body}`), ExpectedVersion.noStream, [yield* deposit(1)]))
            if (fail) return yield* Effect.fail("changed my mind" as const)
            return result
          }))
        expect((yield* joined("kept", false)).streams).toEqual([{ streamId: "with-kept", version: 1 }])
        expect(yield* Effect.flip(joined("dropped", true))).toBe("changed my mind")
        expect(yield* sql`SELECT body FROM notes`).toEqual([{ body: "kept" }])
        expect((yield* collect(store.readAll())).map((e) => e.streamId)).toEqual(["with-kept"])
      }).pipe(Effect.provide(storeAndClient())))

    it.live("under REPEATABLE READ or SERIALIZABLE an append fails at once with InvalidArgument, without waiting for the append lock", () =>
      Effect.scoped(Effect.gen(function*() {
        const url = yield* freshSchemaUrl(db().url)
        const context = yield* Layer.build(storeAndClientAt(url))
        const store = Context.get(context, EventStore.EventStore)
        const sql = Context.get(context, SqlClient.SqlClient)
        // Another session holds the append lock: an append that took it would hang.
        const holder = yield* rawConnection(url)
        yield* query(holder, "BEGIN")
        yield* query(holder, appendLock)
        for (const level of ["REPEATABLE READ", "SERIALIZABLE"]) {
          const error = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql.unsafe(`SET TRANSACTION ISOLATION LEVEL ${level}`)
            return yield* Effect.flip(store.append(write(sid("snapshot"), ExpectedVersion.any, [yield* deposit(1)])))
          })).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error(`the append waited under ${level}`) }))
          expect(error).toBeInstanceOf(StoreError.InvalidArgument)
          expect(error).toMatchObject({ operation: "append" })
          expect(error.message).toContain(`at ${level}`)
          expect(error.message).toContain("READ COMMITTED")
        }
        yield* query(holder, "COMMIT")
        // A pure check (no events) draws no position and is allowed.
        const checked = yield* sql.withTransaction(Effect.zipRight(
          sql`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`,
          store.append(write(sid("snapshot"), ExpectedVersion.noStream, []))
        ))
        expect(checked).toEqual({ streams: [{ streamId: "snapshot", version: 0 }], positions: [] })
        expect(yield* collect(store.readAll())).toEqual([])
      })))
  })

  it.live("a multi-write append whose second write expects a stale version writes nothing, draws no position, and names that stream with its head", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append(write(sid("first"), ExpectedVersion.noStream, [yield* deposit(1)]))
      const setup = yield* store.append(write(sid("second"), ExpectedVersion.noStream, [yield* deposit(2), yield* deposit(3)]))
      const error = yield* Effect.flip(store.append([
        write(sid("first"), ExpectedVersion.unsafeExact(1), [yield* deposit(4)]),
        write(sid("second"), ExpectedVersion.unsafeExact(1), [yield* deposit(5), yield* deposit(6)]),
        // stale too, but the first mismatching write is the one named
        write(sid("third"), ExpectedVersion.streamExists, [yield* deposit(7)])
      ]))
      expect(error).toBeInstanceOf(StoreError.WrongExpectedVersion)
      expect(error).toMatchObject({ streamId: "second", expected: { _tag: "Exact", version: 1 }, actual: 2 })
      expect((yield* collect(store.readAll())).map((e) => [e.streamId, e.version])).toEqual([["first", 1], ["second", 1], ["second", 2]])
      // the insert did not run: the next append takes the next position
      const next = yield* store.append(write(sid("third"), ExpectedVersion.noStream, [yield* deposit(8)]))
      expect(next.positions).toEqual([setup.positions[1]! + 1])
    }).pipe(Effect.provide(storeAndClient())))

  it.live("one append mixing NoStream, StreamExists, Exact, Any and a pure check that all match writes every event at the next versions", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append([
        write(sid("exists"), ExpectedVersion.noStream, [yield* deposit(1), yield* deposit(2)]),
        write(sid("exact"), ExpectedVersion.noStream, [yield* deposit(3), yield* deposit(4), yield* deposit(5)]),
        write(sid("any"), ExpectedVersion.noStream, [yield* deposit(6)]),
        write(sid("guard"), ExpectedVersion.noStream, [yield* deposit(7)])
      ])
      const result = yield* store.append([
        write(sid("new"), ExpectedVersion.noStream, [yield* deposit(10), yield* deposit(11)]),
        write(sid("exists"), ExpectedVersion.streamExists, [yield* deposit(12)]),
        write(sid("exact"), ExpectedVersion.unsafeExact(3), [yield* deposit(13), yield* deposit(14)]),
        write(sid("any"), ExpectedVersion.any, [yield* deposit(15)]),
        write(sid("guard"), ExpectedVersion.unsafeExact(1), [])
      ])
      expect(result.streams).toEqual([
        { streamId: "new", version: 2 },
        { streamId: "exists", version: 3 },
        { streamId: "exact", version: 5 },
        { streamId: "any", version: 2 },
        { streamId: "guard", version: 1 }
      ])
      const first = result.positions[0]!
      expect(result.positions).toEqual(Arr.range(first, first + 5))
      const stored = yield* collectFrom(store, first)
      expect(stored.map((e) => [e.position, e.streamId, e.version, JSON.parse(e.data).amount])).toEqual([
        [first, "new", 1, 10],
        [first + 1, "new", 2, 11],
        [first + 2, "exists", 3, 12],
        [first + 3, "exact", 4, 13],
        [first + 4, "exact", 5, 14],
        [first + 5, "any", 2, 15]
      ])
    }).pipe(Effect.provide(storeAndClient())))

  it.live("positions within one multi-stream append of hundreds of events follow write order, then event order", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append(write(sid("s-b"), ExpectedVersion.noStream, yield* Effect.forEach(Arr.range(1, 3), deposit)))
      const sizes = [["s-c", 180], ["s-a", 1], ["s-b", 250], ["s-d", 97]] as const
      const writes = yield* Effect.forEach(sizes, ([stream, n]) =>
        Effect.map(Effect.forEach(Arr.range(1, n), deposit), (events) => write(sid(stream), ExpectedVersion.any, events)))
      const result = yield* store.append([writes[0]!, ...writes.slice(1)])
      const first = result.positions[0]!
      expect(result.positions).toEqual(Arr.range(first, first + 180 + 1 + 250 + 97 - 1))
      const stored = yield* collectFrom(store, first, 100)
      expect(stored.map((e) => e.position)).toEqual(result.positions)
      expect(stored.map((e) => [e.streamId, e.version, e.eventId])).toEqual(writes.flatMap((w) =>
        w.events.map((event, i) => [w.streamId, (w.streamId === "s-b" ? 3 : 0) + i + 1, event.eventId])))
    }).pipe(Effect.provide(storeAndClient())))
})
