/** Proves the PostgreSQL test harness: server, fresh databases, both drivers. */
import { SqlClient } from "@effect/sql"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { withPgClient } from "./pgDriver.ts"
import { databaseExists, freshDatabase, freshDatabaseLayer, pgClientLayer } from "./postgres.ts"

describe("postgres harness", () => {
  it("pg: a fresh database answers queries", async () => {
    const db = await freshDatabase("harness pg")
    try {
      expect(db.name).toMatch(/^ef_harness_pg_[0-9a-f]{8}$/)
      const { rows } = await withPgClient(db.url, (client) =>
        client.query<{ n: number; db: string }>("select 1 + 1 as n, current_database() as db")
      )
      expect(rows).toEqual([{ n: 2, db: db.name }])
    } finally {
      await db.drop()
    }
  })

  it("drop removes the database, even with an open connection", async () => {
    const db = await freshDatabase("harness_drop")
    expect(await databaseExists(db.name)).toBe(true)
    await withPgClient(db.url, async (client) => {
      await client.query("select 1")
      await db.drop() // WITH (FORCE) terminates `client`
    })
    expect(await databaseExists(db.name)).toBe(false)
    await db.drop() // idempotent
  })

  it.scoped("@effect/sql-pg: pgClientLayer on a fresh database", () =>
    Effect.gen(function*() {
      const db = yield* Effect.acquireRelease(
        Effect.promise(() => freshDatabase("harness_effect")),
        (db) => Effect.promise(() => db.drop())
      )
      const rows = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ n: number }>`select 1 + 1 as n`
      }).pipe(Effect.provide(pgClientLayer(db.url)))
      expect(rows).toEqual([{ n: 2 }])
    })
  )
})

layer(freshDatabaseLayer("harness_layer"))("postgres harness: freshDatabaseLayer", (it) => {
  it.effect("select 1 + 1 through SqlClient", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: number; db: string }>`select 1 + 1 as n, current_database() as db`
      expect(rows[0]?.n).toBe(2)
      expect(rows[0]?.db).toMatch(/^ef_harness_layer_/)
    })
  )
})
