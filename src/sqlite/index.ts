/**
 * `eventfold/sqlite`: the SQLite event store (`@effect/sql-sqlite-node`).
 *
 * @since 0.1.0
 */
// Loaded first so that, without the driver, Node's ERR_MODULE_NOT_FOUND names "@effect/sql-sqlite-node"
// (an optional peer dependency: npm i @effect/sql-sqlite-node), not "@effect/sql" (adr/0010).
import "@effect/sql-sqlite-node"
export * as SqliteEventStore from "./SqliteEventStore.ts"
export * as SqliteSnapshotStore from "./SqliteSnapshotStore.ts"
