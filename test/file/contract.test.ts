import { afterAll } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FileEventStore } from "eventfold/file"
import { StoreContract } from "eventfold/testing/vitest"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eventfold-file-contract-"))
let counter = 0

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

StoreContract.suite("FileEventStore", {
  makeStore: () => FileEventStore.layer({ directory: path.join(dir, `store-${++counter}`) })
})
