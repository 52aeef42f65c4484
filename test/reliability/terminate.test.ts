/**
 * Reliability: PostgreSQL backends killed with `pg_terminate_backend` while the
 * store uses them, mid-read and mid-append, on a pool of one connection (so the
 * next operation must get a working connection, not the dead one back).
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Redacted } from "effect"
import { Event, EventStore, ExpectedVersion, StoreError, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { databaseForFile, freshSchemaUrl } from "../postgres/support.ts"
import type { PgClient } from "../support/pgDriver.ts"
import { connectPg } from "../support/pgDriver.ts"
import { readStream } from "./support.ts"

const db = databaseForFile("rel_terminate")
const sid = StreamId.unsafeMake("victim")

const event = (n: number) =>
  Effect.map(Event.makeEventId, (eventId): Event.EventData => ({ eventId, type: "Tick", data: JSON.stringify({ n }), metadata: "{}" }))

/** A raw connection of the test's own (outside the store's pool), closed with the scope. */
const rawConnection = (url: string) =>
  Effect.acquireRelease(Effect.promise(() => connectPg(url)), (client) => Effect.promise(() => client.end().catch(() => undefined)))

const query = (client: PgClient, text: string, values: Array<unknown> = []) =>
  Effect.map(Effect.promise(() => client.query(text, values)), (result) => result.rows as Array<Record<string, unknown>>)

/**
 * Waits for a backend waiting on a lock, and returns its pid. `monitor` must be
 * outside any transaction: pg_stat_activity is a snapshot taken once per transaction.
 */
const lockWaiter = (monitor: PgClient) =>
  Effect.promise(async () => {
    for (;;) {
      const { rows } = await monitor.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
      )
      if (rows[0] !== undefined) return rows[0].pid
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })

/** A store with a pool of one connection on a fresh schema (migrated), and a raw connection holding the events table. */
const setup = Effect.gen(function*() {
  const url = yield* freshSchemaUrl(db().url)
  const store = Context.get(
    yield* Layer.build(PgEventStore.layer({ url: Redacted.make(url), maxConnections: 1 })),
    EventStore.EventStore
  )
  yield* store.append({ streamId: sid, expected: ExpectedVersion.noStream, events: [yield* event(1), yield* event(2)] })
  const holder = yield* rawConnection(url)
  const monitor = yield* rawConnection(url)
  return { store, holder, monitor }
})

const lockTable = (holder: PgClient) =>
  Effect.zipRight(query(holder, "BEGIN"), query(holder, "LOCK TABLE eventfold_events IN ACCESS EXCLUSIVE MODE"))

describe("pg_terminate_backend of the store's connection", () => {
  it.live("mid-read, once: the read runs again on a fresh connection and returns every event", () =>
    Effect.scoped(Effect.gen(function*() {
      const { holder, monitor, store } = yield* setup
      yield* lockTable(holder)
      const reading = yield* Effect.fork(readStream(store, sid))
      const pid = yield* lockWaiter(monitor)
      expect(yield* query(holder, "SELECT pg_terminate_backend($1) AS done", [pid])).toEqual([{ done: true }])
      // The retried read waits on the lock again (a new backend); let it through.
      const retriedPid = yield* lockWaiter(monitor)
      expect(retriedPid).not.toBe(pid)
      yield* query(holder, "ROLLBACK")
      expect((yield* Fiber.join(reading)).map((e) => e.version)).toEqual([1, 2])
    })))

  it.live("mid-read, on every retry: the read fails with StoreUnavailable, and the next read and append succeed", () =>
    Effect.scoped(Effect.gen(function*() {
      const { holder, monitor, store } = yield* setup
      yield* lockTable(holder)
      const reading = yield* Effect.fork(Effect.either(readStream(store, sid)))
      const killed = new Set<number>()
      // Kill whatever backend the read waits on, until the read gives up.
      for (;;) {
        const pid = yield* Effect.race(lockWaiter(monitor), Effect.as(Fiber.await(reading), -1))
        if (pid === -1) break
        killed.add(pid)
        yield* query(monitor, "SELECT pg_terminate_backend($1, 5000)", [pid])
      }
      const result = yield* Fiber.join(reading)
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") {
        expect(result.left).toBeInstanceOf(StoreError.StoreUnavailable)
        expect(result.left).toMatchObject({ operation: "read" })
      }
      // One first attempt and its retries, each on a fresh backend.
      expect(killed.size).toBeGreaterThan(1)
      yield* query(holder, "ROLLBACK")
      expect((yield* readStream(store, sid)).map((e) => e.version)).toEqual([1, 2])
      const appended = yield* store.append({ streamId: sid, expected: ExpectedVersion.unsafeExact(2), events: [yield* event(3)] })
      expect(appended.streams).toEqual([{ streamId: "victim", version: 3 }])
    })))

  it.live("mid-append: the append fails with StoreUnavailable and writes nothing; the next append and read succeed", () =>
    Effect.scoped(Effect.gen(function*() {
      const { holder, monitor, store } = yield* setup
      yield* lockTable(holder)
      const appending = yield* Effect.fork(Effect.either(
        Effect.flatMap(event(99), (e) => store.append({ streamId: sid, expected: ExpectedVersion.unsafeExact(2), events: [e] }))
      ))
      const pid = yield* lockWaiter(monitor)
      yield* query(holder, "SELECT pg_terminate_backend($1)", [pid])
      const result = yield* Fiber.join(appending)
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") {
        expect(result.left).toBeInstanceOf(StoreError.StoreUnavailable)
        expect(result.left).toMatchObject({ operation: "append" })
      }
      yield* query(holder, "ROLLBACK")
      const appended = yield* store.append({ streamId: sid, expected: ExpectedVersion.unsafeExact(2), events: [yield* event(3)] })
      expect(appended.streams).toEqual([{ streamId: "victim", version: 3 }])
      expect((yield* readStream(store, sid)).map((e) => JSON.parse(e.data))).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    })))

  it.live("a pg_cancel_backend the store did not ask for (as @effect/sql-pg sends for an interrupted fiber, landing late) is run again: the read and the append succeed", () =>
    Effect.scoped(Effect.gen(function*() {
      const { holder, monitor, store } = yield* setup
      const cancelWaiter = Effect.flatMap(lockWaiter(monitor), (pid) => query(monitor, "SELECT pg_cancel_backend($1) AS done", [pid]))

      yield* lockTable(holder)
      const reading = yield* Effect.fork(readStream(store, sid))
      expect(yield* cancelWaiter).toEqual([{ done: true }])
      yield* Effect.sleep("100 millis")
      yield* query(holder, "ROLLBACK")
      expect((yield* Fiber.join(reading)).map((e) => e.version)).toEqual([1, 2])

      yield* lockTable(holder)
      const appending = yield* Effect.fork(
        Effect.flatMap(event(3), (e) => store.append({ streamId: sid, expected: ExpectedVersion.unsafeExact(2), events: [e] }))
      )
      expect(yield* cancelWaiter).toEqual([{ done: true }])
      yield* Effect.sleep("100 millis")
      yield* query(holder, "ROLLBACK")
      expect((yield* Fiber.join(appending)).streams).toEqual([{ streamId: "victim", version: 3 }])
      expect((yield* readStream(store, sid)).map((e) => JSON.parse(e.data))).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    })))
})
