import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
const codec = EventCodec.make(Deposited)

/**
 * A SqlClient that records every statement sent on the connections it reserves
 * (the store's own transactions reserve one: BEGIN, the body's statements and
 * COMMIT all run on it), and every statement sent through `unsafe` otherwise.
 */
const recordConnection = (conn: Connection, sent: Array<string>): Connection =>
  new Proxy(conn, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (typeof value !== "function" || typeof prop !== "string" || !prop.startsWith("execute")) return value
      return (statement: string, ...rest: Array<unknown>) => {
        sent.push(statement)
        return (value as (...args: Array<unknown>) => unknown).call(target, statement, ...rest)
      }
    }
  })

const recording = (sql: SqlClient.SqlClient, sent: Array<string>): SqlClient.SqlClient =>
  new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === "reserve") return Effect.map(target.reserve, (conn) => recordConnection(conn, sent))
      return Reflect.get(target, prop, receiver)
    }
  })

const clientLayer = SqliteEventStore.layerClient({ filename: ":memory:" })

describe("SqliteEventStore statements", () => {
  it.effect("a top-level append that expects NoStream or Exact sends BEGIN IMMEDIATE, one INSERT (which checks the version) and COMMIT: nothing else", () =>
    Effect.gen(function*() {
      yield* SqliteEventStore.migrate
      const sql = yield* SqlClient.SqlClient
      const sent: Array<string> = []
      const store = yield* Effect.provideService(SqliteEventStore.make(), SqlClient.SqlClient, recording(sql, sent))
      const typed = EventStore.typedFrom(store, codec)
      yield* typed.append({
        streamId: StreamId.unsafeMake("account-1"),
        expected: ExpectedVersion.noStream,
        events: [new Deposited({ amount: 1 }), new Deposited({ amount: 2 })]
      })
      expect(sent.map((text) => text.split(" ").slice(0, 3).join(" "))).toEqual([
        "BEGIN IMMEDIATE",
        "INSERT INTO eventfold_events",
        "COMMIT"
      ])
      expect(sent.some((text) => text.includes("WHERE 0"))).toBe(false)
    }).pipe(Effect.provide(clientLayer)))

  it.effect("an append that expects Any or StreamExists, or writes no events, looks up each stream's head before the INSERT", () =>
    Effect.gen(function*() {
      yield* SqliteEventStore.migrate
      const sql = yield* SqlClient.SqlClient
      const sent: Array<string> = []
      const store = yield* Effect.provideService(SqliteEventStore.make(), SqlClient.SqlClient, recording(sql, sent))
      const typed = EventStore.typedFrom(store, codec)
      const result = yield* typed.append([
        { streamId: StreamId.unsafeMake("account-3"), expected: ExpectedVersion.any, events: [new Deposited({ amount: 1 })] },
        { streamId: StreamId.unsafeMake("account-4"), expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 2 })] }
      ])
      expect(result.streams.map((stream) => stream.version)).toEqual([1, 1])
      yield* typed.append({ streamId: StreamId.unsafeMake("account-3"), expected: ExpectedVersion.unsafeExact(1), events: [] })
      expect(sent.map((text) => text.split(" ").slice(0, 3).join(" "))).toEqual([
        "BEGIN IMMEDIATE",
        "SELECT max(version) FROM",
        "SELECT max(version) FROM",
        "INSERT INTO eventfold_events",
        "COMMIT",
        "BEGIN IMMEDIATE",
        "SELECT max(version) FROM",
        "COMMIT"
      ])
    }).pipe(Effect.provide(clientLayer)))

  it.effect("a guarded append of more rows than one INSERT holds writes every event at its version and returns consecutive positions", () =>
    Effect.gen(function*() {
      yield* SqliteEventStore.migrate
      const store = yield* SqliteEventStore.make()
      const typed = EventStore.typedFrom(store, codec)
      const a = StreamId.unsafeMake("account-7")
      const b = StreamId.unsafeMake("account-8")
      yield* typed.append({ streamId: b, expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 0 })] })
      const deposits = (n: number) => Array.from({ length: n }, (_, i) => new Deposited({ amount: i + 1 }))
      const result = yield* typed.append([
        { streamId: a, expected: ExpectedVersion.noStream, events: deposits(700) },
        { streamId: b, expected: ExpectedVersion.unsafeExact(1), events: deposits(503) }
      ])
      expect(result.streams).toEqual([{ streamId: a, version: 700 }, { streamId: b, version: 504 }])
      expect(result.positions).toEqual(Array.from({ length: 1203 }, (_, i) => i + 2))
      const read = Chunk.toReadonlyArray(yield* Stream.runCollect(typed.read(b)))
      expect(read.map((event) => [event.version, event.data.amount])).toEqual(
        [[1, 0], ...Array.from({ length: 503 }, (_, i) => [i + 2, i + 1])]
      )
    }).pipe(Effect.provide(clientLayer)))

  it.effect("a guarded INSERT that finds another head fails with WrongExpectedVersion naming the stream, and writes nothing", () =>
    Effect.gen(function*() {
      yield* SqliteEventStore.migrate
      const store = yield* SqliteEventStore.make()
      const typed = EventStore.typedFrom(store, codec)
      const a = StreamId.unsafeMake("account-5")
      const b = StreamId.unsafeMake("account-6")
      yield* typed.append({ streamId: b, expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 1 }), new Deposited({ amount: 2 })] })
      // behind (Exact(1) of a 2-event stream), ahead (Exact(3)), and NoStream of an existing stream
      for (const expected of [ExpectedVersion.unsafeExact(1), ExpectedVersion.unsafeExact(3), ExpectedVersion.noStream]) {
        const error = yield* Effect.flip(typed.append([
          { streamId: a, expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 3 })] },
          { streamId: b, expected, events: [new Deposited({ amount: 4 })] }
        ]))
        expect(error).toMatchObject({ _tag: "WrongExpectedVersion", streamId: b, expected, actual: 2 })
      }
      const all = yield* Stream.runCollect(store.readAll())
      expect(Chunk.toReadonlyArray(all).map((event) => [event.streamId, event.version])).toEqual([[b, 1], [b, 2]])
    }).pipe(Effect.provide(clientLayer)))

  it.effect("an append inside the caller's transaction takes the write lock with one UPDATE, then inserts (the INSERT checks the version)", () =>
    Effect.gen(function*() {
      yield* SqliteEventStore.migrate
      const sql = yield* SqlClient.SqlClient
      const store = yield* SqliteEventStore.make()
      const sent: Array<string> = []
      yield* sql.withTransaction(
        Effect.gen(function*() {
          const conn = Option.getOrThrow(yield* Effect.serviceOption(SqlClient.TransactionConnection))
          yield* Effect.provideService(
            EventStore.typedFrom(store, codec).append({
              streamId: StreamId.unsafeMake("account-2"),
              expected: ExpectedVersion.noStream,
              events: [new Deposited({ amount: 1 })]
            }),
            SqlClient.TransactionConnection,
            [recordConnection(conn[0], sent), conn[1]]
          )
        })
      )
      expect(sent.map((text) => text.split(" ").slice(0, 3).join(" "))).toEqual([
        "SAVEPOINT effect_sql_1",
        "UPDATE eventfold_events SET",
        "INSERT INTO eventfold_events"
      ])
    }).pipe(Effect.provide(clientLayer)))
})

