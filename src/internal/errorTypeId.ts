/**
 * The type id every store error carries (internal; re-exported by
 * `StoreError.ts`). It lives apart so that `StreamId.ts` can mark
 * `InvalidStreamId` without importing `StoreError.ts`, which imports it.
 */

/** The symbol that marks a store error. */
export const StoreErrorTypeId: unique symbol = Symbol.for("eventfold/StoreError")

/** The type of {@link StoreErrorTypeId}. */
export type StoreErrorTypeId = typeof StoreErrorTypeId
