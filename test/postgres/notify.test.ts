/**
 * Notifications of live subscriptions on PostgreSQL (migration 5, adr/0012):
 * an append sent on its own commits without notifying in its transaction (a
 * notifying transaction holds a cluster-wide lock through its commit flush) and
 * the store notifies right after the commit; an append inside a caller's
 * transaction, and any other insert, still notify from the trigger at commit.
 *
 * Order is how it is checked: PostgreSQL delivers notifications in commit
 * order, so a marker notified after the append's commit arrives after any
 * notification of the append's own transaction.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { EventStore, ExpectedVersion, StreamId } from "eventfold"
import type { Event } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { connectPg } from "../support/pgDriver.ts"
import type { PgClient as RawClient } from "../support/pgDriver.ts"
import { databaseForFile, freshSchemaUrl } from "./support.ts"

const db = databaseForFile("notify")

const event = (n: number): Event.EventData => ({
  eventId: crypto.randomUUID() as Event.EventId,
  type: "Tick",
  data: JSON.stringify({ n }),
  metadata: "{}"
})

/** A connection listening on the store's channel, and the payloads it has received, in order. */
const listener = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = await connectPg(url)
      const received: Array<string> = []
      client.on("notification", (message) => {
        if (message.channel === "eventfold_events") received.push(message.payload ?? "")
      })
      await client.query("LISTEN eventfold_events")
      return { client, received }
    }),
    ({ client }) => Effect.promise(() => client.end())
  )

/** Notifies `marker` from its own transaction and waits until the listener has it; returns what came before it. */
const upToMarker = (sender: RawClient, received: Array<string>, marker: string) =>
  Effect.gen(function*() {
    yield* Effect.promise(() => sender.query("SELECT pg_notify('eventfold_events', $1)", [marker]))
    for (let i = 0; i < 1000 && !received.includes(marker); i++) yield* Effect.sleep("10 millis")
    expect(received).toContain(marker)
    const before = received.slice(0, received.indexOf(marker))
    received.splice(0, received.indexOf(marker) + 1)
    return before
  })

const setup = Effect.gen(function*() {
  const url = yield* freshSchemaUrl(db().url)
  const schema = new URL(url).searchParams.get("options")!.replace("-c search_path=", "")
  const context = yield* Layer.build(
    PgEventStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })))
  )
  const { client: sender, received } = yield* listener(url)
  return {
    url,
    schema,
    store: Context.get(context, EventStore.EventStore),
    sql: Context.get(context, SqlClient.SqlClient),
    sender,
    received
  }
})

describe("PostgreSQL notifications after appends", () => {
  it.live("an append on its own: no notification from its transaction, one from the store after its commit", () =>
    Effect.scoped(Effect.gen(function*() {
      const { received, schema, sender, store } = yield* setup
      // the append's own transaction notifies nothing (the raw call, notify_after_commit = true)
      yield* Effect.promise(() =>
        sender.query(
          "SELECT eventfold_append($1::text[], $2::text[], $3::int8[], $4::int4[], $5::int4[], $6::uuid[], $7::text[], $8::jsonb[], $9::jsonb[], now(), true)",
          [["raw-1"], ["NoStream"], [0], [1], [1], [crypto.randomUUID()], ["Tick"], ["{}"], ["{}"]]
        ))
      expect(yield* upToMarker(sender, received, "m1")).toEqual([])
      // the store's append notifies after its commit, with the events table's schema
      yield* store.append({ streamId: StreamId.unsafeMake("s-1"), expected: ExpectedVersion.noStream, events: [event(1)] })
      for (let i = 0; i < 1000 && received.length === 0; i++) yield* Effect.sleep("10 millis")
      expect(received[0]).toBe(schema)
      // a pure check writes nothing and notifies nothing
      received.splice(0)
      yield* store.append({ streamId: StreamId.unsafeMake("s-1"), expected: ExpectedVersion.unsafeExact(1), events: [] })
      expect(yield* upToMarker(sender, received, "m2")).toEqual([])
    })))

  it.live("an append inside the caller's transaction notifies at that transaction's commit, from the trigger", () =>
    Effect.scoped(Effect.gen(function*() {
      const { received, schema, sender, sql, store } = yield* setup
      yield* sql.withTransaction(
        store.append({ streamId: StreamId.unsafeMake("t-1"), expected: ExpectedVersion.noStream, events: [event(1), event(2)] })
      )
      expect(yield* upToMarker(sender, received, "m1")).toEqual([schema])
      // a plain INSERT by anything else notifies too
      yield* Effect.promise(() =>
        sender.query(
          "INSERT INTO eventfold_events (stream_id, version, event_id, type, data, metadata, recorded_at) VALUES ('x', 1, $1, 'Tick', '{}', '{}', now())",
          [crypto.randomUUID()]
        ))
      expect(yield* upToMarker(sender, received, "m2")).toEqual([schema])
      // and a rolled-back append notifies nothing
      yield* Effect.exit(sql.withTransaction(Effect.zipRight(
        store.append({ streamId: StreamId.unsafeMake("t-2"), expected: ExpectedVersion.noStream, events: [event(3)] }),
        Effect.fail("roll back" as const)
      )))
      expect(yield* upToMarker(sender, received, "m3")).toEqual([])
    })))

  it.live("the append and read functions run with generic plans (cached per session)", () =>
    Effect.scoped(Effect.gen(function*() {
      const { sender } = yield* setup
      const { rows } = yield* Effect.promise(() =>
        sender.query<{ name: string; config: Array<string> | null }>(
          `SELECT p.proname AS name, p.proconfig AS config FROM pg_proc p
           WHERE p.proname IN ('eventfold_append', 'eventfold_read_forward') AND p.pronamespace = current_schema()::regnamespace
           ORDER BY p.proname, p.pronargs`
        ))
      expect(rows).toEqual([
        { name: "eventfold_append", config: ["plan_cache_mode=force_generic_plan"] },
        { name: "eventfold_append", config: ["plan_cache_mode=force_generic_plan"] },
        { name: "eventfold_read_forward", config: ["plan_cache_mode=force_generic_plan"] }
      ])
    })))
})
