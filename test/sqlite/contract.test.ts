import { afterAll } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { SqliteEventStore } from "eventfold/sqlite"
import { StoreContract } from "eventfold/testing/vitest"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eventfold-sqlite-contract-"))
let counter = 0

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

StoreContract.suite("SqliteEventStore", {
  makeStore: () => SqliteEventStore.layer({ filename: path.join(dir, `store-${++counter}.db`) })
})
