/**
 * `eventfold/memory`: the in-memory event store.
 *
 * @since 0.1.0
 */
export * as MemoryEventStore from "./MemoryEventStore.ts"
export * as MemorySnapshotStore from "./MemorySnapshotStore.ts"
