/**
 * The type id carried by the errors of command execution (the executor's and the
 * pipeline's). A module of its own so that the pure `Pipeline` can mark its errors
 * without importing the `Executor` shell.
 */

/** @internal */
export const TypeId: unique symbol = Symbol.for("eventfold/ExecuteError")

/** @internal */
export type TypeId = typeof TypeId
