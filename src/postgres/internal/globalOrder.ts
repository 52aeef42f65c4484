/**
 * The global-order page query of the PostgreSQL store (internal), shared by
 * the store's `readAll` and the read side's filtered reads, so that both cut
 * the log at the same place (adr/0012).
 *
 * One page of the global log: the rows after the cursor `($1, $2)` in
 * `(transaction_id, position)` order, written by transactions older than every
 * transaction still running (`pg_snapshot_xmin` of this statement's snapshot).
 * Every transaction id below that bound belongs to a transaction that has
 * ended, and every transaction that starts later gets a larger id, so no row
 * can ever appear below the bound after this read: a reader never passes an
 * event that commits later. Rows of aborted transactions are never visible.
 * Served by the `(transaction_id, position)` index. The ORDER BY names the
 * table's columns: a bare `transaction_id` would sort by the output column of
 * that name, the id as text ('1001' < '997').
 */

const eventsTable = "eventfold_events"

/** The row of the shared row mapping (`toLogEvents`): the transaction id goes last, for `<xid>:<position>` cursors. */
const logColumns =
  "position, stream_id, version, event_id, type, data::text, metadata::text, floor(extract(epoch FROM recorded_at) * 1000)::float8, transaction_id::text"

/**
 * The page query: parameters `$1` (the cursor's transaction id, `xid8` as
 * text), `$2` (its position) and `$3` (the page size). `filters` are more
 * conditions ANDed into the WHERE; their parameters are numbered from `$4`.
 */
export const globalOrderPageSql = (filters: ReadonlyArray<string> = []): string =>
  `SELECT ${logColumns}
FROM ${eventsTable}
WHERE (transaction_id, position) > ($1::xid8, $2::int8) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())${
    filters.map((filter) => `\n  AND ${filter}`).join("")
  }
ORDER BY ${eventsTable}.transaction_id, ${eventsTable}.position LIMIT $3`

/**
 * The last event below the same bound (`transaction_id::text`, `position`):
 * the cursor of the end of the log as `readAll` sees it now (events above the
 * bound come after it, in the order `readAll` yields them).
 */
export const globalOrderEndSql = `SELECT transaction_id::text, position::float8 FROM ${eventsTable}
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY ${eventsTable}.transaction_id DESC, ${eventsTable}.position DESC LIMIT 1`
