import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { Effect, Option, Schema } from "effect"
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
  it.effect("a top-level append sends BEGIN IMMEDIATE, one head lookup per stream, one INSERT and COMMIT: nothing else", () =>
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
        "SELECT max(version) FROM",
        "INSERT INTO eventfold_events",
        "COMMIT"
      ])
      expect(sent.some((text) => text.includes("WHERE 0"))).toBe(false)
    }).pipe(Effect.provide(clientLayer)))

  it.effect("an append inside the caller's transaction takes the write lock with one UPDATE, then checks and inserts", () =>
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
        "SELECT max(version) FROM",
        "INSERT INTO eventfold_events"
      ])
    }).pipe(Effect.provide(clientLayer)))
})

