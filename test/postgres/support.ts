/**
 * Helpers of the PostgreSQL store tests: a database per test file, and a fresh
 * schema (selected through the connection's `search_path`) per store, so every
 * store starts empty without creating a database per test.
 */
import { afterAll, beforeAll } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import type { EventStore } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { withPgClient } from "../support/pgDriver.ts"
import type { FreshDatabase } from "../support/postgres.ts"
import { freshDatabase } from "../support/postgres.ts"

/**
 * `url` whose connections start with `search_path` set to `schema`, and with any
 * further server settings given (`{ default_transaction_isolation: "serializable" }`).
 */
export const withSearchPath = (url: string, schema: string, settings: Record<string, string> = {}): string => {
  const parsed = new URL(url)
  const all = { search_path: schema, ...settings }
  parsed.searchParams.set("options", Object.entries(all).map(([key, value]) => `-c ${key}=${value}`).join(" "))
  return parsed.toString()
}

/**
 * Creates a database for the current test file (dropped after it) and returns
 * an accessor for it, valid inside tests.
 */
export const databaseForFile = (label: string): () => FreshDatabase => {
  let db: FreshDatabase | undefined
  beforeAll(async () => {
    db = await freshDatabase(label)
  })
  afterAll(async () => {
    await db?.drop()
  })
  return () => {
    if (db === undefined) throw new Error("the test database is created in beforeAll")
    return db
  }
}

let schemas = 0

/** Creates a new, empty schema in the database at `url` and returns its name. */
export const freshSchema = (url: string): Promise<string> => {
  const schema = `store_${++schemas}_${Math.random().toString(36).slice(2, 8)}`
  return withPgClient(url, (client) => client.query(`CREATE SCHEMA ${schema}`)).then(() => schema)
}

/** The connection URL of a fresh, empty schema in the database at `url`. */
export const freshSchemaUrl = (url: string, settings?: Record<string, string>): Effect.Effect<string> =>
  Effect.map(Effect.promise(() => freshSchema(url)), (schema) => withSearchPath(url, schema, settings))

/** A `PgEventStore` layer on a fresh, empty schema of the database at `url`. */
export const freshStore = (
  url: string,
  options: Omit<PgEventStore.Options, "url"> = {}
): Layer.Layer<EventStore.EventStore, unknown> =>
  Layer.unwrapEffect(
    Effect.map(freshSchemaUrl(url), (schemaUrl) => PgEventStore.layer({ ...options, url: Redacted.make(schemaUrl) }))
  )
