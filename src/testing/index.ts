/**
 * `eventfold/testing`: the tools for testing stores and domains. Importing it
 * loads no test runner, so it works in plain node as well as under vitest. The
 * store contract suite, which registers tests with `@effect/vitest`, is in
 * `eventfold/testing/vitest`.
 *
 * @since 0.1.0
 */
export * as TrackingEventStore from "./TrackingEventStore.ts"
export * as ChaosEventStore from "./ChaosEventStore.ts"
export * as Arbitraries from "./Arbitraries.ts"
export * as Scenario from "./Scenario.ts"
export * as Property from "./Property.ts"
export * as ProjectionScenario from "./ProjectionScenario.ts"
