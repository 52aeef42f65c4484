import { StoreContract } from "eventfold/testing/vitest"
import { databaseForFile, freshStore } from "./support.ts"

// One database for this file; every test gets its own empty schema in it.
const db = databaseForFile("pg_contract")

StoreContract.suite("PgEventStore", {
  makeStore: () => freshStore(db().url, { maxConnections: 4 })
})
