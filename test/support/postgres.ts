/**
 * PostgreSQL helpers for test files. The server comes from ./globalSetup.ts
 * (`inject("pgUrl")`); each test (or file) should work in its own database:
 *
 * ```ts
 * const db = await freshDatabase("append")     // plain pg / async tests
 * layer(freshDatabaseLayer("append"))(...)     // @effect/vitest
 * ```
 */
import { randomBytes } from "node:crypto"
import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { inject } from "vitest"
import { withPgClient } from "./pgDriver.ts"

/** A database created for one test (or test file). */
export interface FreshDatabase {
  /** Database name, `ef_<label>_<random>`. */
  readonly name: string
  /** Connection URL for the database (same server and credentials as the admin URL). */
  readonly url: string
  /** Drops the database, terminating open connections. Idempotent. */
  readonly drop: () => Promise<void>
}

/** Admin URL of the test server, provided by globalSetup. */
export const adminUrl = (): string => {
  const url = inject("pgUrl")
  if (typeof url !== "string" || url === "") {
    throw new Error("pgUrl was not provided: is test/support/globalSetup.ts configured as vitest globalSetup?")
  }
  return url
}

/** Identifier-safe, length-capped form of a test label. */
const sanitizeLabel = (label: string): string =>
  label.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40) || "db"

/** `url` with its database (path) replaced by `database`. */
export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${encodeURIComponent(database)}`
  return parsed.toString()
}

/** Whether a database called `name` exists on the test server. */
export const databaseExists = (name: string): Promise<boolean> =>
  withPgClient(adminUrl(), async (client) => {
    const result = await client.query("select 1 from pg_database where datname = $1", [name])
    return result.rows.length > 0
  })

/** Creates a new, uniquely named, empty database `ef_<label>_<random>`. */
export const freshDatabase = async (label: string): Promise<FreshDatabase> => {
  const admin = adminUrl()
  const name = `ef_${sanitizeLabel(label)}_${randomBytes(4).toString("hex")}`
  await withPgClient(admin, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`))
  return {
    name,
    url: withDatabase(admin, name),
    drop: () =>
      withPgClient(admin, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`)
      })
  }
}

/** `@effect/sql-pg` client (also provided as `SqlClient`) for `url`. */
export const pgClientLayer = (url: string): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  PgClient.layer({ url: Redacted.make(url) })

/**
 * A fresh database for the lifetime of the layer, with a `PgClient` /
 * `SqlClient` on it. The pool is closed before the database is dropped.
 */
export const freshDatabaseLayer = (label: string): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError> =>
  Layer.unwrapScoped(
    Effect.acquireRelease(
      Effect.promise(() => freshDatabase(label)),
      (db) => Effect.promise(() => db.drop())
    ).pipe(Effect.map((db) => pgClientLayer(db.url)))
  )
