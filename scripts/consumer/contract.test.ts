// Runs eventfold's store contract on the memory store, in the consumer project, under vitest.
import { StoreContract } from "eventfold/testing/vitest"
import { memoryStore } from "./app.js"

StoreContract.suite("MemoryEventStore (packed)", { makeStore: () => memoryStore })
