/**
 * Argument checks shared by every backend, so that all of them reject the same
 * bad input with the same typed errors.
 */
import { Either } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import type { ReadAllOptions, ReadOptions, StreamWrite } from "../EventStore.ts"
import { defaultPageSize, writesOf } from "../EventStore.ts"
import { DuplicateEventId, InvalidArgument } from "../StoreError.ts"

/** Read options with defaults applied. `from` is undefined for "from the end" on backward reads. */
export interface ResolvedRead {
  readonly from: number | undefined
  readonly direction: "forward" | "backward"
  readonly pageSize: number
}

const isPositiveInt = (n: number) => Number.isSafeInteger(n) && n >= 1
const isNonNegativeInt = (n: number) => Number.isSafeInteger(n) && n >= 0

const invalid = (operation: string, reason: string) => Either.left(new InvalidArgument({ operation, reason }))

export const resolveRead = (options: ReadOptions | undefined): Either.Either<ResolvedRead, InvalidArgument> => {
  const pageSize = options?.pageSize ?? defaultPageSize
  const direction = options?.direction ?? "forward"
  if (!isPositiveInt(pageSize)) return invalid("read", `pageSize must be a positive integer, got ${pageSize}`)
  if (direction !== "forward" && direction !== "backward") {
    return invalid("read", `direction must be "forward" or "backward", got ${JSON.stringify(direction)}`)
  }
  const from = options?.from
  if (from !== undefined && !isNonNegativeInt(from)) {
    return invalid("read", `from must be a non-negative integer version, got ${from}`)
  }
  return Either.right({ from, direction, pageSize })
}

export interface ResolvedReadAll {
  readonly fromPosition: number
  readonly pageSize: number
}

export const resolveReadAll = (options: ReadAllOptions | undefined): Either.Either<ResolvedReadAll, InvalidArgument> => {
  const pageSize = options?.pageSize ?? defaultPageSize
  const fromPosition = options?.fromPosition ?? 0
  if (!isPositiveInt(pageSize)) return invalid("readAll", `pageSize must be a positive integer, got ${pageSize}`)
  if (!isNonNegativeInt(fromPosition)) {
    return invalid("readAll", `fromPosition must be a non-negative integer, got ${fromPosition}`)
  }
  return Either.right({ fromPosition, pageSize })
}

/**
 * Checks an append's writes: at least one, each stream at most once, no event id
 * twice. Returns them as a list.
 */
export const checkWrites = (
  input: StreamWrite | NonEmptyReadonlyArray<StreamWrite>
): Either.Either<ReadonlyArray<StreamWrite>, InvalidArgument | DuplicateEventId> => {
  const writes = writesOf(input)
  if (writes.length === 0) return invalid("append", "at least one stream write is required")
  const streams = new Set<string>()
  const ids = new Set<string>()
  for (const write of writes) {
    if (streams.has(write.streamId)) {
      return invalid("append", `stream ${JSON.stringify(write.streamId)} appears in more than one write`)
    }
    streams.add(write.streamId)
    for (const event of write.events) {
      if (ids.has(event.eventId)) {
        return Either.left(new DuplicateEventId({ eventId: event.eventId, streamId: write.streamId }))
      }
      ids.add(event.eventId)
    }
  }
  return Either.right(writes)
}

/** The number of events across all writes. */
export const eventCount = (writes: ReadonlyArray<StreamWrite>): number => {
  let n = 0
  for (const write of writes) n += write.events.length
  return n
}
