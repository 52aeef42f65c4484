/**
 * `eventfold/postgres`: the PostgreSQL event store (`@effect/sql-pg`).
 *
 * @since 0.1.0
 */
// Loaded first so that, without the driver, Node's ERR_MODULE_NOT_FOUND names "@effect/sql-pg"
// (an optional peer dependency: npm i @effect/sql-pg), not "@effect/sql" (adr/0010).
import "@effect/sql-pg"
export * as PgEventStore from "./PgEventStore.ts"
export * as PgSnapshotStore from "./PgSnapshotStore.ts"
