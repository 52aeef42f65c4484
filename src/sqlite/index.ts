/**
 * `eventfold/sqlite`: the SQLite event store (`@effect/sql-sqlite-node`).
 *
 * @since 0.1.0
 */
export * as SqliteEventStore from "./SqliteEventStore.ts"
