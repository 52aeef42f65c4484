/**
 * Argument checks of every snapshot store (internal), so that all backends
 * reject the same bad input with the same `InvalidArgument`.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Key, SnapshotStore, StoredSnapshot } from "../Snapshot.ts"
import { InvalidArgument } from "../StoreError.ts"
import type { StoreUnavailable } from "../StoreError.ts"
import type { StreamId } from "../StreamId.ts"

const isPositiveInt = (n: number) => Number.isSafeInteger(n) && n >= 1
const isInt32 = (n: number) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647

const invalid = (operation: string, reason: string) => Either.left(new InvalidArgument({ operation, reason }))

/** Text a SQL backend can store as it is: PostgreSQL refuses NUL characters in `text`. */
const hasNul = (text: string) => text.includes("\u0000")

/** Checks a key: a non-empty decider name, a stream id, a 32-bit integer schema version. */
export const checkKey = (operation: string, key: Key): Either.Either<Key, InvalidArgument> => {
  if (typeof key.decider !== "string" || key.decider.length === 0 || hasNul(key.decider)) {
    return invalid(operation, "decider must be a non-empty string without NUL characters")
  }
  if (typeof key.streamId !== "string" || key.streamId.length === 0 || hasNul(key.streamId)) {
    return invalid(operation, "streamId must be a non-empty string without NUL characters")
  }
  if (!isInt32(key.schemaVersion)) {
    return invalid(operation, `schemaVersion must be a 32-bit integer, got ${key.schemaVersion}`)
  }
  return Either.right(key)
}

/** Checks a snapshot before it is saved. */
export const checkSnapshot = (snapshot: StoredSnapshot): Either.Either<StoredSnapshot, InvalidArgument> =>
  Either.flatMap(checkKey("saveSnapshot", snapshot), () => {
    if (!isPositiveInt(snapshot.version) || snapshot.version > 2147483647) {
      return invalid("saveSnapshot", `version must be a positive 32-bit integer, got ${snapshot.version}`)
    }
    if (!isPositiveInt(snapshot.position)) {
      return invalid("saveSnapshot", `position must be a positive integer, got ${snapshot.position}`)
    }
    if (typeof snapshot.state !== "string" || hasNul(snapshot.state)) {
      return invalid("saveSnapshot", "state must be text without NUL characters (JSON escapes them)")
    }
    if (!(snapshot.takenAt instanceof Date) || Number.isNaN(snapshot.takenAt.getTime())) {
      return invalid("saveSnapshot", "takenAt must be a valid Date")
    }
    return Either.right(snapshot)
  })

/** Checks the arguments of `prune`. */
export const checkPrune = (key: Key, keep: number): Either.Either<Key, InvalidArgument> =>
  Either.flatMap(checkKey("pruneSnapshots", key), (checked) =>
    isPositiveInt(keep) ? Either.right(checked) : invalid("pruneSnapshots", `keep must be a positive integer, got ${keep}`))

/**
 * A SQL backend's snapshot row (`version, position, state, taken_at` as epoch
 * milliseconds, in that order) as the snapshot of `key`.
 */
export const snapshotOfRow = (key: Key, row: ReadonlyArray<unknown>): StoredSnapshot => ({
  decider: key.decider,
  streamId: key.streamId as StreamId,
  schemaVersion: key.schemaVersion,
  version: Number(row[0]),
  position: Number(row[1]),
  state: String(row[2]),
  takenAt: new Date(Number(row[3]))
})

/**
 * `load` and `save` of a SQL snapshot store, over its two statements: `loadRows`
 * runs the load query with (decider, stream id, schema version) and returns its
 * rows as values; `saveRow` runs the save with (decider, stream id, schema
 * version, version, position, state, taken at in epoch ms). Both SQL backends
 * bind the same parameters in the same order.
 */
export const sqlLoadAndSave = (
  loadRows: (params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, StoreUnavailable | InvalidArgument>,
  saveRow: (params: ReadonlyArray<unknown>) => Effect.Effect<unknown, StoreUnavailable | InvalidArgument>
): Pick<SnapshotStore.Service, "load" | "save"> => ({
  load: (key) =>
    Either.match(checkKey("loadSnapshot", key), {
      onLeft: Effect.fail,
      onRight: () =>
        Effect.map(
          loadRows([key.decider, key.streamId, key.schemaVersion]),
          (rows) => Option.map(Option.fromNullable(rows[0]), (row) => snapshotOfRow(key, row))
        )
    }),
  save: (snapshot) =>
    Either.match(checkSnapshot(snapshot), {
      onLeft: Effect.fail,
      onRight: (s) => Effect.asVoid(saveRow([s.decider, s.streamId, s.schemaVersion, s.version, s.position, s.state, s.takenAt.getTime()]))
    })
})
