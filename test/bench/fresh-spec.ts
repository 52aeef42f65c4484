/** What fresh.ts and fresh-child.ts share: the spec of a child run, table and stream names. */

/** What fresh.ts asks a child to do. */
export interface ChildSpec {
  readonly backend: "sqlite" | "postgres"
  readonly case: "read" | "append" | "command"
  readonly side: "eventfold" | "raw"
  /** SQLite file or PostgreSQL URL. */
  readonly target: string
  /** read: the stream's events; append: events appended; command: commands run. */
  readonly units: number
  /** append: events per call. */
  readonly batch?: number
  /** read: eventfold's page size (default: the store's). */
  readonly pageSize?: number
  /** append: `v4` gives every event a random v4 id (what eventfold generated before v7 ids). */
  readonly ids?: "v4"
}

/** The minimal table of the raw side, and its stream names. */
export const rawTable = "raw_events"
export const readStreamName = "account-read"
export const commandStream = (i: number): string => `account-cmd${i}`
export const appendStream = (i: number): string => `account-a${i % 100}`
/** Events each command's stream holds before the run. */
export const commandStreamEvents = 10

