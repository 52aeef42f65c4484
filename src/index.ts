/**
 * `eventfold`: the core modules, each as a namespace.
 *
 * @since 0.1.0
 */
export * as Cursor from "./Cursor.ts"
export * as Event from "./Event.ts"
export * as EventCodec from "./EventCodec.ts"
export * as EventStore from "./EventStore.ts"
export * as ExpectedVersion from "./ExpectedVersion.ts"
export * as StoreError from "./StoreError.ts"
export * as StreamId from "./StreamId.ts"
export * as Decider from "./Decider.ts"
export * as Pipeline from "./Pipeline.ts"
export * as Executor from "./Executor.ts"
export * as InstrumentedEventStore from "./InstrumentedEventStore.ts"
export * as Snapshot from "./Snapshot.ts"
export * as Subscription from "./Subscription.ts"
export * as Projection from "./Projection.ts"
