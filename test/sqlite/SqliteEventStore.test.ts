import { afterAll, describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import Database from "better-sqlite3"
import { Array as Arr, Chunk, Config, ConfigProvider, Effect, Either, Fiber, Layer, Metric, Option, Schema, Stream } from "effect"
import { Cursor, EventCodec, EventStore, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { journalModeProblem } from "../../src/sqlite/internal/journalMode.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eventfold-sqlite-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let counter = 0
const freshFile = (label: string) => path.join(dir, `${label}-${++counter}.db`)

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
const codec = EventCodec.make(Schema.Union(Deposited, Withdrawn))
const sid = StreamId.unsafeMake

const deposit = (amount: number) => Effect.orDie(EventCodec.toEventData(codec, new Deposited({ amount })))
const deposits = (n: number, first = 1) => Effect.forEach(Arr.range(first, first + n - 1), deposit)

/** A store and the SqlClient it runs on, sharing one connection. */
const storeWithClient = (filename: string, options?: SqliteEventStore.StoreOptions) =>
  SqliteEventStore.layerFromClient(options).pipe(Layer.provideMerge(SqliteEventStore.layerClient({ filename })))

const readAmounts = (streamId: StreamId.StreamId) =>
  Effect.flatMap(EventStore.EventStore, (store) => Stream.runCollect(store.read(streamId))).pipe(
    Effect.map((events) => Chunk.toReadonlyArray(events).map((e) => [e.version, JSON.parse(e.data).amount as number] as const))
  )

const here = path.dirname(fileURLToPath(import.meta.url))
const tsx = path.resolve(here, "../../node_modules/.bin/tsx")

/** Runs test/sqlite/fixtures/appender.ts in its own OS process. */
const appenderProcess = (filename: string, stream: string, label: string, count: number) =>
  Effect.async<{ won: Array<number>; conflicts: number }, Error>((resume) => {
    const child = execFile(tsx, [path.join(here, "fixtures/appender.ts"), filename, stream, label, String(count)], (error, stdout, stderr) => {
      resume(error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.sync(() => JSON.parse(stdout)))
    })
    return Effect.sync(() => child.kill())
  })

const fetched = Effect.map(Metric.value(EventStore.rowsFetched), (state) => state.count)

/**
 * Appends `times` single events to `streamId`, each with the exact version it last
 * read, retrying after every WrongExpectedVersion. Returns the versions it won and
 * how many conflicts it saw.
 */
const optimisticWriter = (store: EventStore.EventStore.Service, streamId: StreamId.StreamId, label: number, times: number) =>
  Effect.gen(function*() {
    const won: Array<number> = []
    let conflicts = 0
    while (won.length < times) {
      const last = yield* Stream.runHead(store.read(streamId, { direction: "backward", pageSize: 1 }))
      const version = Option.match(last, { onNone: () => 0, onSome: (e) => e.version })
      const result = yield* Effect.either(
        store.append({ streamId, expected: ExpectedVersion.unsafeExact(version), events: [yield* deposit(label * 1000 + won.length)] })
      )
      if (Either.isRight(result)) {
        won.push(result.right.streams[0]!.version)
      } else if (result.left._tag === "WrongExpectedVersion") {
        conflicts++
        yield* Effect.yieldNow()
      } else {
        return yield* Effect.die(result.left)
      }
    }
    return { won, conflicts }
  })

describe("SqliteEventStore", () => {
  it.live("two connections on one file appending to the same stream: exactly one wins each version, nothing is lost", () =>
    Effect.gen(function*() {
      const filename = freshFile("race")
      const stream = sid("contested")
      const [a, b] = yield* Effect.all([
        Layer.build(SqliteEventStore.layer({ filename })),
        Layer.build(SqliteEventStore.layer({ filename }))
      ], { concurrency: "unbounded" })
      const storeA = yield* Effect.provide(EventStore.EventStore, a)
      const storeB = yield* Effect.provide(EventStore.EventStore, b)
      // Each connection checks against the other's commits: a stale expected version fails.
      const handoff = sid("handoff")
      yield* storeA.append({ streamId: handoff, expected: ExpectedVersion.noStream, events: yield* deposits(1) })
      expect(yield* Effect.flip(storeB.append({ streamId: handoff, expected: ExpectedVersion.noStream, events: yield* deposits(1) })))
        .toMatchObject({ _tag: "WrongExpectedVersion", streamId: "handoff", actual: 1 })
      yield* storeB.append({ streamId: handoff, expected: ExpectedVersion.unsafeExact(1), events: yield* deposits(1) })
      expect(yield* Effect.flip(storeA.append({ streamId: handoff, expected: ExpectedVersion.unsafeExact(1), events: yield* deposits(1) })))
        .toMatchObject({ _tag: "WrongExpectedVersion", streamId: "handoff", actual: 2 })

      const writers = 6
      const each = 15
      const results = yield* Effect.all(
        Arr.range(1, writers).map((i) => optimisticWriter(i % 2 === 0 ? storeA : storeB, stream, i, each)),
        { concurrency: "unbounded" }
      )
      const won = results.flatMap((r) => r.won).sort((x, y) => x - y)
      expect(won).toEqual(Arr.range(1, writers * each))
      expect(results.map((r) => r.won.length)).toEqual(Arr.replicate(each, writers))
      const stored = Chunk.toReadonlyArray(yield* Stream.runCollect(storeB.read(stream)))
      expect(stored.map((e) => e.version)).toEqual(Arr.range(1, writers * each))
      const amounts = new Set(stored.map((e) => JSON.parse(e.data).amount as number))
      const expected = new Set(Arr.range(1, writers).flatMap((i) => Arr.range(0, each - 1).map((n) => i * 1000 + n)))
      expect(amounts).toEqual(expected)
      // Both connections see the same log.
      const viaA = Chunk.toReadonlyArray(yield* Stream.runCollect(storeA.readAll())).filter((e) => e.streamId === stream).map((e) => e.eventId)
      expect(viaA).toEqual(stored.map((e) => e.eventId))
    }).pipe(Effect.scoped))

  it.live("two OS processes and this one appending to the same stream of one file: every version won once, nothing lost", () => {
    const filename = freshFile("processes")
    return Effect.gen(function*() {
      const stream = sid("shared")
      const store = yield* EventStore.EventStore
      const [first, second, local] = yield* Effect.all([
        appenderProcess(filename, stream, "p1", 40),
        appenderProcess(filename, stream, "p2", 40),
        optimisticWriter(store, stream, 3, 40)
      ], { concurrency: "unbounded" })
      const won = [...first.won, ...second.won, ...local.won].sort((x, y) => x - y)
      expect(won).toEqual(Arr.range(1, 120))
      const stored = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(stream)))
      expect(stored.map((e) => e.version)).toEqual(Arr.range(1, 120))
      const amounts = stored.map((e) => String(JSON.parse(e.data).amount))
      expect(amounts.filter((a) => a.startsWith("p1-")).sort()).toEqual(Arr.range(0, 39).map((n) => `p1-${n}`).sort())
      expect(amounts.filter((a) => a.startsWith("p2-")).sort()).toEqual(Arr.range(0, 39).map((n) => `p2-${n}`).sort())
      expect(amounts.filter((a) => /^3\d{3}$/.test(a))).toHaveLength(40)
    }).pipe(Effect.provide(SqliteEventStore.layer({ filename })))
  })

  it.live("two connections racing NoStream appends on one file: one succeeds, every other gets WrongExpectedVersion", () =>
    Effect.gen(function*() {
      const filename = freshFile("nostream")
      const [a, b] = yield* Effect.all([
        Layer.build(SqliteEventStore.layer({ filename })),
        Layer.build(SqliteEventStore.layer({ filename }))
      ])
      const stores = [Effect.provide(EventStore.EventStore, a), Effect.provide(EventStore.EventStore, b)]
      for (let round = 1; round <= 5; round++) {
        const stream = sid(`first-${round}`)
        const outcomes = yield* Effect.all(
          Arr.range(1, 10).map((i) =>
            Effect.flatMap(stores[i % 2]!, (store) =>
              Effect.flatMap(deposit(i), (event) =>
                Effect.either(store.append({ streamId: stream, expected: ExpectedVersion.noStream, events: [event] }))))
          ),
          { concurrency: "unbounded" }
        )
        expect(outcomes.filter(Either.isRight)).toHaveLength(1)
        for (const loser of outcomes.filter(Either.isLeft)) {
          expect(loser.left).toBeInstanceOf(StoreError.WrongExpectedVersion)
          expect(loser.left).toMatchObject({ streamId: stream, actual: 1 })
        }
        const [winnerVersion] = yield* Effect.flatMap(stores[0]!, (store) => Stream.runCollect(store.read(stream)))
        expect(winnerVersion?.version).toBe(1)
      }
    }).pipe(Effect.scoped))

  it.live("a row corrupted by hand with raw SQL fails the typed read with EventDecodeError naming its stream, version and type", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore.EventStore
      const appended = yield* store.append({ streamId: sid("ledger"), expected: ExpectedVersion.noStream, events: yield* deposits(4) })
      yield* sql`UPDATE eventfold_events SET data = ${"{\"amount\": \"ten\""} WHERE stream_id = ${"ledger"} AND version = ${3}`
      const typed = yield* EventStore.typed(codec)
      const seen: Array<number> = []
      const error = yield* typed.read(sid("ledger")).pipe(
        Stream.runForEach((e) => Effect.sync(() => seen.push(e.data.amount))),
        Effect.flip
      )
      expect(seen).toEqual([1, 2])
      expect(error).toBeInstanceOf(StoreError.EventDecodeError)
      expect(error).toMatchObject({ streamId: "ledger", version: 3, type: "Deposited", position: appended.positions[2] })
      yield* sql`UPDATE eventfold_events SET type = ${"Renamed"}, data = ${"{\"amount\":3}"} WHERE stream_id = ${"ledger"} AND version = ${3}`
      const renamed = yield* Effect.flip(Stream.runDrain(typed.readAll()))
      expect(renamed).toMatchObject({ _tag: "EventDecodeError", streamId: "ledger", version: 3, type: "Renamed" })
      // The raw store still yields the row as stored.
      const raw = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(sid("ledger"), { from: 3 })))
      expect(raw.map((e) => [e.version, e.type, e.data])).toEqual([[3, "Renamed", "{\"amount\":3}"], [4, "Deposited", "{\"amount\":4}"]])
    }).pipe(Effect.provide(storeWithClient(freshFile("corrupt")))))

  it.live("reopening the file after writes reads every event back and appends continue where they stopped", () =>
    Effect.gen(function*() {
      const filename = freshFile("reopen")
      const written = yield* Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        yield* store.append({ streamId: sid("a"), expected: ExpectedVersion.noStream, events: yield* deposits(700) })
        yield* store.append([
          { streamId: sid("a"), expected: ExpectedVersion.unsafeExact(700), events: yield* deposits(2, 701) },
          { streamId: sid("b"), expected: ExpectedVersion.noStream, events: [yield* deposit(-1)] }
        ])
        return Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll()))
      }).pipe(Effect.provide(SqliteEventStore.layer({ filename })))
      expect(written).toHaveLength(703)

      const reopened = yield* Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ pageSize: 100 })))
        const a = yield* readAmounts(sid("a"))
        const b = yield* readAmounts(sid("b"))
        const stale = yield* Effect.flip(store.append({ streamId: sid("a"), expected: ExpectedVersion.unsafeExact(700), events: [yield* deposit(0)] }))
        const next = yield* store.append({ streamId: sid("a"), expected: ExpectedVersion.unsafeExact(702), events: [yield* deposit(703)] })
        return { all, a, b, stale, next }
      }).pipe(Effect.provide(SqliteEventStore.layer({ filename })))

      expect(reopened.all).toEqual(written)
      expect(reopened.a).toEqual(Arr.range(1, 702).map((n) => [n, n]))
      expect(reopened.b).toEqual([[1, -1]])
      expect(reopened.stale).toMatchObject({ _tag: "WrongExpectedVersion", streamId: "a", actual: 702 })
      expect(reopened.next.streams).toEqual([{ streamId: "a", version: 703 }])
      expect(reopened.next.positions).toEqual([written[written.length - 1]!.position + 1])
    }))

  it.live("an append of more rows than one INSERT statement holds gets dense versions and consecutive positions", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({ streamId: sid("pre"), expected: ExpectedVersion.noStream, events: yield* deposits(3) })
      const result = yield* store.append([
        { streamId: sid("bulk-1"), expected: ExpectedVersion.noStream, events: yield* deposits(777) },
        { streamId: sid("bulk-2"), expected: ExpectedVersion.noStream, events: yield* deposits(555, 1000) }
      ])
      expect(result.streams).toEqual([{ streamId: "bulk-1", version: 777 }, { streamId: "bulk-2", version: 555 }])
      expect(result.positions).toEqual(Arr.range(4, 3 + 777 + 555))
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ after: Cursor.Cursor.make("3") })))
      expect(all.map((e) => e.position)).toEqual(result.positions)
      expect(all.slice(777).map((e) => [e.version, JSON.parse(e.data).amount])).toEqual(Arr.range(1, 555).map((v) => [v, v + 999]))
    }).pipe(Effect.provide(SqliteEventStore.layer({ filename: freshFile("bulk") }))))

  it.live("a writer that slips a row in after the version check surfaces as WrongExpectedVersion and nothing is written", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore.EventStore
      yield* store.append({ streamId: sid("victim"), expected: ExpectedVersion.noStream, events: yield* deposits(1) })
      // The trigger runs between the check and the insert, as a racing writer would.
      yield* sql.unsafe(`CREATE TRIGGER slip BEFORE INSERT ON eventfold_events WHEN NEW.type = 'Deposited' AND NEW.stream_id = 'victim'
        BEGIN INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at)
          VALUES (NEW.stream_id, NEW.version, NEW.event_id || '-intruder', 'Intruder', '{}', '{}', 0); END`)
      const error = yield* Effect.flip(store.append({ streamId: sid("victim"), expected: ExpectedVersion.unsafeExact(1), events: yield* deposits(2, 10) }))
      expect(error).toBeInstanceOf(StoreError.WrongExpectedVersion)
      // The failed INSERT takes the trigger's row with it, so the head seen afterwards is still 1.
      expect(error).toMatchObject({ streamId: "victim", expected: { _tag: "Exact", version: 1 }, actual: 1 })
      yield* sql.unsafe("DROP TRIGGER slip")
      expect(yield* readAmounts(sid("victim"))).toEqual([[1, 1]])
    }).pipe(Effect.provide(storeWithClient(freshFile("slip")))))

  it.live("an event id stored earlier is reported as DuplicateEventId with that id, not as an SQL error", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const [first] = yield* deposits(1)
      yield* store.append({ streamId: sid("one"), expected: ExpectedVersion.noStream, events: [first!] })
      const error = yield* Effect.flip(store.append([
        { streamId: sid("two"), expected: ExpectedVersion.noStream, events: yield* deposits(600) },
        { streamId: sid("three"), expected: ExpectedVersion.noStream, events: [...(yield* deposits(2)), first!] }
      ]))
      expect(error).toBeInstanceOf(StoreError.DuplicateEventId)
      expect(error).toMatchObject({ eventId: first!.eventId, streamId: "three" })
      expect(yield* readAmounts(sid("two"))).toEqual([])
      expect(yield* Stream.runCount((yield* EventStore.EventStore).readAll())).toBe(1)
    }).pipe(Effect.provide(SqliteEventStore.layer({ filename: freshFile("dup") }))))

  it.live("a reader that takes 3 events of a 2-row-page readAll fetches exactly two pages", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({ streamId: sid("pages"), expected: ExpectedVersion.noStream, events: yield* deposits(50) })
      const before = yield* fetched
      const taken = yield* Stream.runCollect(Stream.take(store.readAll({ pageSize: 2 }), 3))
      const afterAll = yield* fetched
      const backward = yield* Stream.runCollect(Stream.take(store.read(sid("pages"), { direction: "backward", pageSize: 4 }), 5))
      const afterBackward = yield* fetched
      expect(Chunk.toReadonlyArray(taken).map((e) => e.version)).toEqual([1, 2, 3])
      expect(afterAll - before).toBe(4)
      expect(Chunk.toReadonlyArray(backward).map((e) => e.version)).toEqual([50, 49, 48, 47, 46])
      expect(afterBackward - afterAll).toBe(8)
    }).pipe(Effect.provide(SqliteEventStore.layer({ filename: freshFile("pages") }))))

  it.live("an append waits while another connection holds the write lock and commits once it is released", () => {
    const filename = freshFile("locked")
    return Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const foreign = new Database(filename, { timeout: 0 })
      yield* Effect.addFinalizer(() => Effect.sync(() => foreign.close()))
      foreign.exec("BEGIN IMMEDIATE")
      const pending = yield* Effect.fork(store.append({ streamId: sid("waits"), expected: ExpectedVersion.noStream, events: yield* deposits(2) }))
      yield* Effect.sleep("100 millis")
      // The append cannot have committed while the lock is held.
      expect(foreign.prepare("SELECT count(*) AS n FROM eventfold_events").get()).toEqual({ n: 0 })
      foreign.exec("COMMIT")
      const result = yield* Fiber.join(pending)
      expect(result.streams).toEqual([{ streamId: "waits", version: 2 }])
      expect(yield* readAmounts(sid("waits"))).toEqual([[1, 1], [2, 2]])
    }).pipe(Effect.scoped, Effect.provide(SqliteEventStore.layer({ filename })))
  })

  it.live("an append that cannot get the write lock within busyTimeout fails with StoreUnavailable and writes nothing", () =>
    Effect.gen(function*() {
      const filename = freshFile("stuck")
      const failure = yield* Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const foreign = new Database(filename, { timeout: 0 })
        foreign.exec("BEGIN IMMEDIATE")
        const result = yield* Effect.either(store.append({ streamId: sid("stuck"), expected: ExpectedVersion.any, events: yield* deposits(1) }))
        foreign.exec("ROLLBACK")
        foreign.close()
        return yield* Effect.flip(result)
      }).pipe(Effect.provide(SqliteEventStore.layer({ filename, busyTimeout: "200 millis" })))
      expect(failure).toBeInstanceOf(StoreError.StoreUnavailable)
      expect(failure).toMatchObject({ operation: "append" })
      const count = yield* Effect.provide(Stream.runCount(Stream.unwrap(Effect.map(EventStore.EventStore, (s) => s.readAll()))), SqliteEventStore.layer({ filename }))
      expect(count).toBe(0)
    }))

  describe("migrations", () => {
    it.live("with runMigrations false nothing is created and the store fails with StoreUnavailable", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const store = yield* EventStore.EventStore
        expect(yield* sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'eventfold%'`).toEqual([])
        const error = yield* Effect.flip(store.append({ streamId: sid("early"), expected: ExpectedVersion.any, events: yield* deposits(1) }))
        expect(error).toBeInstanceOf(StoreError.StoreUnavailable)
        expect(error.message).toContain("append")
        const readError = yield* Effect.flip(Stream.runDrain(store.read(sid("early"))))
        expect(readError._tag).toBe("StoreUnavailable")
      }).pipe(Effect.provide(storeWithClient(freshFile("nomigrate"), { runMigrations: false }))))

    it.live("with runMigrations false, migrate creates the schema once, records it, and the store works", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        expect(yield* SqliteEventStore.migrate).toEqual([[1, "create_events"], [2, "read_side"], [3, "create_snapshots"]])
        expect(yield* SqliteEventStore.migrate).toEqual([])
        const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'eventfold%' ORDER BY name`
        expect(tables.map((t) => t.name)).toEqual(["eventfold_events", "eventfold_migrations", "eventfold_projections", "eventfold_snapshots"])
        const applied = yield* sql<{ migration_id: number; name: string }>`SELECT migration_id, name FROM eventfold_migrations`
        expect(applied).toEqual([{ migration_id: 1, name: "create_events" }, { migration_id: 2, name: "read_side" }, { migration_id: 3, name: "create_snapshots" }])
        const store = yield* EventStore.EventStore
        const ok = yield* store.append({ streamId: sid("late"), expected: ExpectedVersion.noStream, events: yield* deposits(1) })
        expect(ok.streams).toEqual([{ streamId: "late", version: 1 }])
      }).pipe(Effect.provide(storeWithClient(freshFile("migrate-later"), { runMigrations: false }))))

    it.live("several layers opening a new file at once migrate it once and all work", () =>
      Effect.gen(function*() {
        const filename = freshFile("concurrent-open")
        const contexts = yield* Effect.all(Arr.range(1, 4).map(() => Layer.build(storeWithClient(filename))), { concurrency: "unbounded" })
        yield* Effect.forEach(contexts, (context, i) =>
          Effect.flatMap(Effect.provide(EventStore.EventStore, context), (store) =>
            Effect.flatMap(deposit(i), (event) => store.append({ streamId: sid(`opener-${i}`), expected: ExpectedVersion.noStream, events: [event] }))),
          { concurrency: "unbounded", discard: true })
        const sql = yield* Effect.provide(SqlClient.SqlClient, contexts[0]!)
        expect(yield* sql`SELECT migration_id FROM eventfold_migrations`).toEqual([{ migration_id: 1 }, { migration_id: 2 }, { migration_id: 3 }])
        expect(yield* sql`SELECT count(*) AS n FROM eventfold_events`).toEqual([{ n: 4 }])
      }).pipe(Effect.scoped))
  })

  describe("layerConfig", () => {
    it.live("reads the file name from EVENTFOLD_SQLITE_FILE", () =>
      Effect.gen(function*() {
        const filename = freshFile("config")
        const provider = ConfigProvider.fromMap(new Map([["EVENTFOLD_SQLITE_FILE", filename]]))
        yield* Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          yield* store.append({ streamId: sid("configured"), expected: ExpectedVersion.noStream, events: yield* deposits(2) })
        }).pipe(Effect.provide(SqliteEventStore.layerConfig()), Effect.withConfigProvider(provider))
        expect(fs.existsSync(filename)).toBe(true)
        const back = yield* readAmounts(sid("configured")).pipe(Effect.provide(SqliteEventStore.layer({ filename })))
        expect(back).toEqual([[1, 1], [2, 2]])
      }))

    it.live("takes its options as Config values and fails with a ConfigError when the file name is missing", () =>
      Effect.gen(function*() {
        const filename = freshFile("config-custom")
        const provider = ConfigProvider.fromMap(new Map([["EVENTS_DB", filename]]))
        const custom = SqliteEventStore.layerConfig({ filename: Config.string("EVENTS_DB"), runMigrations: Config.succeed(true) })
        const version = yield* Effect.gen(function*() {
          const store = yield* EventStore.EventStore
          const result = yield* store.append({ streamId: sid("custom"), expected: ExpectedVersion.noStream, events: yield* deposits(1) })
          return result.streams[0]!.version
        }).pipe(Effect.provide(custom), Effect.withConfigProvider(provider))
        expect(version).toBe(1)
        const missing = yield* Effect.flip(
          Effect.provide(EventStore.EventStore, SqliteEventStore.layerConfig()).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
        )
        expect(missing._tag).toBe("ConfigError")
        expect(String(missing)).toContain("EVENTFOLD_SQLITE_FILE")
      }))
  })

  describe("opening", () => {
    it.live("a file store runs in WAL mode, and the mode stays with the file", () =>
      Effect.gen(function*() {
        const filename = freshFile("wal")
        yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const store = yield* EventStore.EventStore
          expect(yield* sql`PRAGMA journal_mode`).toEqual([{ journal_mode: "wal" }])
          yield* store.append({ streamId: sid("w"), expected: ExpectedVersion.noStream, events: yield* deposits(1) })
          expect(fs.existsSync(`${filename}-wal`)).toBe(true)
        }).pipe(Effect.provide(storeWithClient(filename)))
        const foreign = new Database(filename, { readonly: true })
        expect(foreign.pragma("journal_mode", { simple: true })).toBe("wal")
        foreign.close()
      }))

    it("the journal mode check accepts WAL for files and anything for in-memory databases, and explains a refusal", () => {
      expect(journalModeProblem("/data/events.db", "wal")).toBeUndefined()
      expect(journalModeProblem("/data/events.db", "WAL")).toBeUndefined()
      expect(journalModeProblem(":memory:", "memory")).toBeUndefined()
      expect(journalModeProblem("", "delete")).toBeUndefined()
      expect(journalModeProblem("/data/events.db", "delete")).toBe(
        "the database \"/data/events.db\" is in journal mode \"delete\", not \"wal\": SQLite refused WAL mode (does the file system support shared memory?)"
      )
    })

    it.live("a file in a missing directory, or one that is not a database, fails the layer with StoreUnavailable (open), not a defect", () =>
      Effect.gen(function*() {
        const missing = yield* Effect.flip(Effect.provide(EventStore.EventStore, SqliteEventStore.layer({ filename: path.join(dir, "missing", "x", "y.db") })))
        expect(missing).toBeInstanceOf(StoreError.StoreUnavailable)
        expect(missing).toMatchObject({ operation: "open" })
        expect(missing.cause).toBeInstanceOf(TypeError)
        expect(missing.message).toContain("directory does not exist")

        const garbage = freshFile("garbage")
        fs.writeFileSync(garbage, "this is not a SQLite database, not even close to one: ".repeat(100))
        const notADatabase = yield* Effect.flip(Effect.provide(EventStore.EventStore, SqliteEventStore.layer({ filename: garbage })))
        expect(notADatabase).toMatchObject({ _tag: "StoreUnavailable", operation: "open", cause: { code: "SQLITE_NOTADB" } })
      }))
  })

  it.live("an append whose COMMIT fails (a deferred foreign key) fails with StoreUnavailable, is rolled back, and frees the connection and the write lock", () => {
    const filename = freshFile("commit")
    return Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore.EventStore
      // Every event posts to its stream's account; the foreign key is checked at COMMIT.
      yield* sql.unsafe("PRAGMA foreign_keys = ON")
      yield* sql.unsafe("CREATE TABLE accounts (id TEXT PRIMARY KEY)")
      yield* sql.unsafe("CREATE TABLE postings (account TEXT REFERENCES accounts (id) DEFERRABLE INITIALLY DEFERRED)")
      yield* sql.unsafe("CREATE TRIGGER post AFTER INSERT ON eventfold_events BEGIN INSERT INTO postings VALUES (NEW.stream_id); END")
      yield* sql`INSERT INTO accounts VALUES ('known')`
      const writes = [
        { streamId: sid("known"), expected: ExpectedVersion.noStream, events: yield* deposits(1) },
        { streamId: sid("unknown"), expected: ExpectedVersion.noStream, events: yield* deposits(2, 10) }
      ] as const
      const error = yield* Effect.flip(store.append(writes))
      expect(error).toBeInstanceOf(StoreError.StoreUnavailable)
      expect(error).toMatchObject({ operation: "append", cause: { _tag: "SqlError", cause: { code: "SQLITE_CONSTRAINT_FOREIGNKEY" } } })
      expect(yield* Stream.runCount(store.readAll())).toBe(0)
      expect(yield* sql`SELECT count(*) AS n FROM postings`).toEqual([{ n: 0 }])

      // Rolled back, not left open: another connection gets the write lock at once...
      const foreign = new Database(filename, { timeout: 0 })
      foreign.exec("BEGIN IMMEDIATE")
      foreign.exec("ROLLBACK")
      foreign.close()
      // ...and this one starts new transactions.
      const next = yield* store.append({ streamId: sid("known"), expected: ExpectedVersion.noStream, events: yield* deposits(1, 5) })
      expect(next.streams).toEqual([{ streamId: "known", version: 1 }])

      // Once the account exists, the same events (same ids) commit.
      yield* sql`INSERT INTO accounts VALUES ('unknown')`
      const retried = yield* store.append(writes[1])
      expect(retried.streams).toEqual([{ streamId: "unknown", version: 2 }])
      const duplicate = yield* Effect.flip(store.append({ ...writes[1], expected: ExpectedVersion.any }))
      expect(duplicate).toMatchObject({ _tag: "DuplicateEventId", streamId: "unknown" })
      expect(writes[1].events.map((e) => e.eventId)).toContain((duplicate as StoreError.DuplicateEventId).eventId)
      expect(yield* readAmounts(sid("unknown"))).toEqual([[1, 10], [2, 11]])
    }).pipe(Effect.provide(storeWithClient(filename)))
  })

  it.live("an append inside the caller's transaction commits with it, or not at all", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* EventStore.EventStore
      yield* sql`CREATE TABLE notes (body TEXT)`
      const joined = (body: string, fail: boolean) =>
        sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO notes VALUES (${body})`
          const result = yield* store.append({ streamId: sid(`with-${body}`), expected: ExpectedVersion.noStream, events: yield* deposits(1) })
          if (fail) return yield* Effect.fail("changed my mind" as const)
          return result
        }))
      expect((yield* joined("kept", false)).streams).toEqual([{ streamId: "with-kept", version: 1 }])
      expect(yield* Effect.flip(joined("dropped", true))).toBe("changed my mind")
      expect(yield* sql`SELECT body FROM notes`).toEqual([{ body: "kept" }])
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll())).map((e) => e.streamId)).toEqual(["with-kept"])
    }).pipe(Effect.provide(storeWithClient(freshFile("joined")))))
})
