/**
 * Stress proof of the PostgreSQL global order (adr/0012): writers append in
 * parallel, some inside transactions that roll back, while a reader resumes
 * from its cursor every round. Every committed event must be seen exactly
 * once, nothing rolled back ever, and every append's events together.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Fiber, Layer, Redacted, Ref, Stream } from "effect"
import { Cursor as EventCursor, EventStore, ExpectedVersion, StreamId } from "eventfold"
import type { Event } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { databaseForFile, freshSchemaUrl } from "./support.ts"

const db = databaseForFile("global_order")

const event = (writer: number, n: number): Event.EventData => ({
  eventId: crypto.randomUUID() as Event.EventId,
  type: "Tick",
  data: JSON.stringify({ writer, n }),
  metadata: "{}"
})

describe("PostgreSQL global order under concurrent writers", () => {
  it.live("8 writers for 5 s against a reader resuming from its cursor: each committed event seen exactly once, nothing rolled back seen", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const context = yield* Layer.build(
        PgEventStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 12 })))
      )
      const store = Context.get(context, EventStore.EventStore)
      const sql = Context.get(context, SqlClient.SqlClient)
      const committed = new Set<string>()
      const rolledBack = new Set<string>()
      const stop = yield* Ref.make(false)

      const writer = (w: number) =>
        Effect.gen(function*() {
          let version = 0
          for (let n = 0; !(yield* Ref.get(stop)); n++) {
            const events = [event(w, n), event(w, n)]
            if (n % 7 === 3) {
              // an append inside a transaction that then rolls back
              yield* Effect.exit(sql.withTransaction(Effect.zipRight(
                store.append({ streamId: StreamId.unsafeMake(`w-${w}`), expected: ExpectedVersion.unsafeExact(version), events }),
                Effect.fail("roll back" as const)
              )))
              for (const e of events) rolledBack.add(e.eventId)
            } else if (n % 5 === 1) {
              // an append held open a moment inside the caller's transaction
              yield* sql.withTransaction(Effect.zipRight(
                store.append({ streamId: StreamId.unsafeMake(`w-${w}`), expected: ExpectedVersion.unsafeExact(version), events }),
                Effect.sleep("3 millis")
              ))
              for (const e of events) committed.add(e.eventId)
              version += 2
            } else {
              yield* store.append({ streamId: StreamId.unsafeMake(`w-${w}`), expected: ExpectedVersion.unsafeExact(version), events })
              for (const e of events) committed.add(e.eventId)
              version += 2
            }
          }
          return version
        })

      const seen: Array<Event.StoredEvent> = []
      let cursor = EventCursor.start
      let rounds = 0
      const readRound = Effect.gen(function*() {
        const page = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ after: cursor, pageSize: 50 })))
        for (const e of page) seen.push(e)
        if (page.length > 0) cursor = page[page.length - 1]!.cursor
        rounds++
      })

      const writers = yield* Effect.fork(Effect.all(Array.from({ length: 8 }, (_, w) => writer(w)), { concurrency: "unbounded" }))
      const reader = yield* Effect.fork(Effect.forever(readRound))
      yield* Effect.sleep("5 seconds")
      yield* Ref.set(stop, true)
      const versions = yield* Fiber.join(writers)
      yield* Fiber.interrupt(reader)
      yield* readRound // the tail, after every writer stopped

      const ids = seen.map((e) => e.eventId)
      expect(new Set(ids).size).toBe(ids.length) // exactly once
      expect(ids.filter((id) => rolledBack.has(id))).toEqual([]) // nothing rolled back
      expect(new Set(ids)).toEqual(committed) // every committed event
      expect(seen.length).toBe(versions.reduce((a, b) => a + b, 0))
      expect(rounds).toBeGreaterThan(10)
      // an append's two events are adjacent, and each stream's versions ascend
      for (let i = 0; i < seen.length; i += 2) {
        expect(seen[i + 1]!.data).toBe(seen[i]!.data)
        expect(seen[i + 1]!.version).toBe(seen[i]!.version + 1)
      }
      const last = new Map<string, number>()
      for (const e of seen) {
        expect(e.version).toBe((last.get(e.streamId) ?? 0) + 1)
        last.set(e.streamId, e.version)
      }
      // the reader resumed from cursors: reading the whole log in one go gives the same order
      const whole = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll({ pageSize: 1000 })))
      expect(whole.map((e) => e.eventId)).toEqual(ids)
    })), 60_000)
})
