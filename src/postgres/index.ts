/**
 * `eventfold/postgres`: the PostgreSQL event store (`@effect/sql-pg`).
 *
 * @since 0.1.0
 */
export * as PgEventStore from "./PgEventStore.ts"
