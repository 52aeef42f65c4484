import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { PgEventStore } from "eventfold/postgres"
import { readSideCases } from "../readSide.shared.ts"
import { databaseForFile, freshSchemaUrl } from "./support.ts"

const db = databaseForFile("pg_read_side")

readSideCases("PgEventStore", Effect.map(Effect.suspend(() => freshSchemaUrl(db().url)), (url) => () =>
  PgEventStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url: Redacted.make(url), maxConnections: 6 })))), {
  // the runner's process "dies": the server ends the connection holding its advisory lock
  killRunner: () =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.map(
        sql`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x65766670} AND granted`,
        (rows) => rows.length
      ))
})
