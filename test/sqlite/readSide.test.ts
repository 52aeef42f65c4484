import { afterAll } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { SqliteEventStore } from "eventfold/sqlite"
import { readSideCases } from "../readSide.shared.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eventfold-sqlite-read-side-"))
let counter = 0
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

readSideCases("SqliteEventStore", Effect.sync(() => {
  const filename = path.join(dir, `db-${++counter}.db`)
  return () => SqliteEventStore.layerFromClient().pipe(Layer.provideMerge(SqliteEventStore.layerClient({ filename })))
}), {
  // the runner's process "dies": its lease row is given to a ghost whose lease expires soon
  killRunner: (name) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.map(
        sql`UPDATE eventfold_projections SET runner = 'ghost', lease_expires_at = ${Date.now() + 300} WHERE name = ${name} RETURNING name`,
        (rows) => rows.length
      ))
})
