/**
 * The journal mode the SQLite store requires (internal).
 */

/**
 * Whether `filename` names a database that lives in memory (`":memory:"`, or
 * `""`: an anonymous temporary database). better-sqlite3 does not read URI
 * file names, so these two are the only ones.
 */
export const isInMemory = (filename: string): boolean => filename === ":memory:" || filename === ""

/**
 * Why the store cannot run on a database whose `PRAGMA journal_mode` reads back
 * as `mode`, or undefined when it can. A file database must be in WAL mode
 * (readers never block the writer, and the store's locking assumes it); an
 * in-memory one has a single connection and cannot be in WAL mode.
 */
export const journalModeProblem = (filename: string, mode: string): string | undefined =>
  isInMemory(filename) || mode.toLowerCase() === "wal"
    ? undefined
    : `the database ${JSON.stringify(filename)} is in journal mode ${JSON.stringify(mode)}, not "wal": ` +
      "SQLite refused WAL mode (does the file system support shared memory?)"
