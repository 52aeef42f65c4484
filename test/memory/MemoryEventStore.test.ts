import { MemoryEventStore } from "eventfold/memory"
import { StoreContract } from "eventfold/testing/vitest"

StoreContract.suite("MemoryEventStore", { makeStore: () => MemoryEventStore.layer() })
