/**
 * `eventfold/testing`: the tools for testing stores and domains.
 *
 * @since 0.1.0
 */
export * as StoreContract from "./StoreContract.ts"
export * as TrackingEventStore from "./TrackingEventStore.ts"
export * as ChaosEventStore from "./ChaosEventStore.ts"
export * as Arbitraries from "./Arbitraries.ts"
export * as Scenario from "./Scenario.ts"
export * as Property from "./Property.ts"
