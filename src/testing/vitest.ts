/**
 * `eventfold/testing/vitest`: the parts of the testing toolkit that register
 * tests with `@effect/vitest` and so only load inside a vitest run. Everything
 * else (Scenario, Property, Chaos and Tracking stores, Arbitraries) is in
 * `eventfold/testing`, which loads in plain node.
 *
 * In a test file (not an `@example`: registering tests needs a vitest run):
 *
 * ```ts
 * import { StoreContract } from "eventfold/testing/vitest"
 * import { MemoryEventStore } from "eventfold/memory"
 *
 * StoreContract.suite("MemoryEventStore", { makeStore: () => MemoryEventStore.layer() })
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export * as StoreContract from "./StoreContract.ts"
/**
 * The subscription cases of the contract suite (run by `StoreContract.suite`).
 *
 * @since 0.2.0
 * @category testing
 */
export * as SubscriptionContract from "./SubscriptionContract.ts"
