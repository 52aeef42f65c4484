/**
 * The content of cursors (internal: only backends look inside a `Cursor`).
 *
 * - `0`: the start of the log.
 * - `<position>`: after the event at that global position (memory, SQLite,
 *   file: the log is ordered by position).
 * - `<xid>:<position>`: after the event at that position written by that
 *   transaction (PostgreSQL: the log is ordered by (transaction id, position)).
 */
import * as Either from "effect/Either"
import type { Cursor } from "../Cursor.ts"
import { isCursor } from "../Cursor.ts"
import { InvalidArgument } from "../StoreError.ts"

/** A cursor taken apart. `transaction` is the decimal text of an `xid8`. */
export type Parsed =
  | { readonly _tag: "Position"; readonly position: number }
  | { readonly _tag: "Transaction"; readonly transaction: string; readonly position: number }

/** The cursor after the event at `position` (backends ordered by position). */
export const ofPosition = (position: number): Cursor => String(position) as Cursor

/** The cursor after the event at `position` of transaction `transaction` (PostgreSQL). */
export const ofTransaction = (transaction: string, position: number): Cursor => `${transaction}:${position}` as Cursor

/** Parses a cursor a caller passed (it may be a cast string): `InvalidArgument` when it is not one. */
export const parse = (operation: string, cursor: unknown): Either.Either<Parsed, InvalidArgument> => {
  if (!isCursor(cursor)) {
    return Either.left(
      new InvalidArgument({ operation, reason: `after must be a Cursor (from an event or Cursor.decode), got ${JSON.stringify(cursor)}` })
    )
  }
  const colon = cursor.indexOf(":")
  return Either.right(
    colon < 0
      ? { _tag: "Position", position: Number(cursor) }
      : { _tag: "Transaction", transaction: cursor.slice(0, colon), position: Number(cursor.slice(colon + 1)) }
  )
}

/**
 * The position after which a position-ordered backend resumes, or
 * `InvalidArgument` for a cursor another kind of backend made.
 */
export const positionOf = (operation: string, cursor: unknown): Either.Either<number, InvalidArgument> =>
  Either.flatMap(parse(operation, cursor), (parsed) =>
    parsed._tag === "Position"
      ? Either.right(parsed.position)
      : Either.left(
        new InvalidArgument({
          operation,
          reason: `the cursor ${JSON.stringify(cursor)} was made by a PostgreSQL store; this store orders its log by position only`
        })
      ))
