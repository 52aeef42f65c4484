/**
 * Table names shared by the SQL backends (internal). Both keep their events
 * and the Migrator's records under the same names.
 */

/** Name of the events table. */
export const eventsTable = "eventfold_events"

/** Name of the table the Migrator records applied migrations in. */
export const migrationsTable = "eventfold_migrations"
