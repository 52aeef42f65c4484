import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema } from "effect"
import type { Event } from "eventfold"
import { EventCodec, Projection, StreamId } from "eventfold"
import { SqliteEventStore } from "eventfold/sqlite"
import { ProjectionScenario } from "eventfold/testing"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
const AccountEvent = Schema.Union(Deposited, Withdrawn)
type AccountEvent = typeof AccountEvent.Type
const codec = EventCodec.make(AccountEvent)
const a = StreamId.unsafeMake("account-a")
const b = StreamId.unsafeMake("account-b")

const delta = (event: Event.RecordedEvent<AccountEvent>) => event.data._tag === "Deposited" ? event.data.amount : -event.data.amount

/** A read model in a SQL table. */
const balances = Projection.make({
  name: "balances",
  codec,
  handle: (events) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.forEach(events, (event) =>
        sql`INSERT INTO balances (id, balance) VALUES (${event.streamId}, ${delta(event)})
          ON CONFLICT (id) DO UPDATE SET balance = balances.balance + excluded.balance`, { discard: true }))
})

const sqliteWithTable = SqliteEventStore.layerFromClient().pipe(
  Layer.provideMerge(SqliteEventStore.layerClient({ filename: ":memory:" })),
  Layer.tap((context) =>
    Effect.flatMap(Effect.provide(SqlClient.SqlClient, context), (sql) =>
      sql`CREATE TABLE balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)`))
)

const query = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT id, balance FROM balances ORDER BY id`)

describe("ProjectionScenario", () => {
  it.effect("given events, the SQL read model reads back as expected", () =>
    Effect.gen(function*() {
      const rows = yield* ProjectionScenario.make(balances, { layer: sqliteWithTable, batchSize: 2 })
        .given([
          { streamId: a, event: new Deposited({ amount: 10 }) },
          { streamId: b, event: new Deposited({ amount: 3 }) },
          { streamId: a, event: new Withdrawn({ amount: 4 }) }
        ])
        .then(query, [{ id: "account-a", balance: 6 }, { id: "account-b", balance: 3 }])
      expect(rows).toEqual([{ id: "account-a", balance: 6 }, { id: "account-b", balance: 3 }])
    }))

  it.effect("a read model that differs fails with ProjectionScenarioFailure showing expected and actual", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        ProjectionScenario.make(balances, { layer: sqliteWithTable })
          .given([{ streamId: a, event: new Deposited({ amount: 10 }) }])
          .then(query, [{ id: "account-a", balance: 11 }])
      )
      expect(error).toBeInstanceOf(ProjectionScenario.ProjectionScenarioFailure)
      expect(error).toMatchObject({ projection: "balances", actual: [{ id: "account-a", balance: 10 }] })
      expect(error.message).toContain("Expected: [ { id: 'account-a', balance: 11 } ]")
    }))

  it.effect("on the memory store (the default), with a read model in a Ref", () =>
    Effect.gen(function*() {
      const total = yield* Ref.make(0)
      const totals = Projection.make({
        name: "total",
        codec,
        handle: (events: ReadonlyArray<Event.RecordedEvent<AccountEvent>>) =>
          Ref.update(total, (n) => events.reduce((sum, event) => sum + delta(event), n))
      })
      yield* ProjectionScenario.make(totals)
        .given([{ streamId: a, event: new Deposited({ amount: 7 }) }, { streamId: b, event: new Withdrawn({ amount: 2 }) }])
        .then(Ref.get(total), 5)
    }))

  it.effect("a handler that fails fails the scenario with ProjectionFailed", () =>
    Effect.gen(function*() {
      const refusing = Projection.make({ name: "refusing", codec, handle: () => Effect.fail("no") })
      const error = yield* Effect.flip(
        ProjectionScenario.make(refusing).given([{ streamId: a, event: new Deposited({ amount: 1 }) }]).then(Effect.void, undefined)
      )
      expect(error).toMatchObject({ _tag: "ProjectionFailed", projection: "refusing", streamId: "account-a", cause: "no" })
    }))
})
