import { MemoryEventStore } from "eventfold/memory"
import { StoreContract } from "eventfold/testing"

StoreContract.suite("MemoryEventStore", { makeStore: () => MemoryEventStore.layer })
