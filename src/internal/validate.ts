/**
 * Argument checks shared by every backend, so that all of them reject the same
 * bad input with the same typed errors.
 */
import * as Either from "effect/Either"
import type { NonEmptyReadonlyArray } from "effect/Array"
import type { EventData } from "../Event.ts"
import type { ReadAllOptions, ReadOptions, StreamWrite } from "../EventStore.ts"
import { defaultPageSize, writesOf } from "../EventStore.ts"
import { DuplicateEventId, InvalidArgument } from "../StoreError.ts"
import { start } from "../Cursor.ts"
import { parse } from "./cursor.ts"
import type { Parsed } from "./cursor.ts"
import { streamIdProblem } from "./streamIdRules.ts"

/** Read options with defaults applied. `from` is undefined for "from the end" on backward reads. */
export interface ResolvedRead {
  readonly from: number | undefined
  readonly direction: "forward" | "backward"
  readonly pageSize: number
}

const isPositiveInt = (n: number) => Number.isSafeInteger(n) && n >= 1
const isNonNegativeInt = (n: number) => Number.isSafeInteger(n) && n >= 0

const invalid = (operation: string, reason: string) => Either.left(new InvalidArgument({ operation, reason }))

/** Checks a stream read's stream id (see {@link checkStreamId}) and options, and applies the defaults. */
export const resolveRead = (
  streamId: unknown,
  options: ReadOptions | undefined,
  storePageSize: number = defaultPageSize
): Either.Either<ResolvedRead, InvalidArgument> => {
  const badId = checkStreamId("read", streamId)
  if (badId !== undefined) return Either.left(badId)
  const pageSize = options?.pageSize ?? storePageSize
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
  readonly after: Parsed
  readonly pageSize: number
}

export const resolveReadAll = (
  options: ReadAllOptions | undefined,
  storePageSize: number = defaultPageSize
): Either.Either<ResolvedReadAll, InvalidArgument> => {
  const pageSize = options?.pageSize ?? storePageSize
  if (!isPositiveInt(pageSize)) return invalid("readAll", `pageSize must be a positive integer, got ${pageSize}`)
  return Either.map(parse("readAll", options?.after ?? start), (after) => ({ after, pageSize }))
}

/**
 * `resolveReadAll` for a backend whose log is ordered by position: the position
 * to resume after, or `InvalidArgument` for another backend's cursor.
 */
export const resolveReadAllByPosition = (
  options: ReadAllOptions | undefined,
  storePageSize: number = defaultPageSize
): Either.Either<{ readonly after: number; readonly pageSize: number }, InvalidArgument> =>
  Either.flatMap(resolveReadAll(options, storePageSize), ({ after, pageSize }) =>
    after._tag === "Position"
      ? Either.right({ after: after.position, pageSize })
      : invalid(
        "readAll",
        `the cursor ${after.transaction}:${after.position} was made by a PostgreSQL store; this store orders its log by position only`
      ))

/**
 * Checks a stream id at a store's boundary: a `StreamId` made by a cast (empty,
 * too long, control characters, a lone surrogate) is refused with
 * `InvalidArgument`, before any SQL.
 */
export const checkStreamId = (operation: string, streamId: unknown): InvalidArgument | undefined => {
  const problem = streamIdProblem(streamId)
  return problem === undefined
    ? undefined
    : new InvalidArgument({ operation, reason: `invalid stream id ${quote(streamId)}: ${problem}` })
}

/** A short, printable form of a value for an error's reason. */
const quote = (value: unknown): string => {
  if (typeof value !== "string") return String(value)
  const text = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value)
  // JSON.stringify keeps lone surrogates as they are: escape them, so the reason is well-formed
  return text.replace(/[\uD800-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)
}

/**
 * Why an expected version is not one (an unknown `_tag`, an `Exact` version
 * that is not a non-negative safe integer), or undefined when it is one. The
 * type admits `{ _tag: "Exact", version: -1 }`; a store must not.
 */
const expectedProblem = (expected: unknown): string | undefined => {
  if (typeof expected !== "object" || expected === null || !("_tag" in expected)) {
    return `expected must be an ExpectedVersion, got ${quote(expected)}`
  }
  switch (expected._tag) {
    case "Any":
    case "NoStream":
    case "StreamExists":
      return undefined
    case "Exact": {
      const version = (expected as { readonly version?: unknown }).version
      return typeof version === "number" && isNonNegativeInt(version)
        ? undefined
        : `expected version must be a non-negative integer, got ${quote(version)}`
    }
    default:
      return `expected must be Any, NoStream, StreamExists or Exact, got _tag ${quote(expected._tag)}`
  }
}

/** A lowercase UUID, the form PostgreSQL's `uuid` reads back. */
const lowercaseUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

const isJsonObject = (text: string): boolean => {
  if (text === "{}") return true
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value)
  } catch {
    return false
  }
}

/**
 * A `\u0000` escape in JSON text (preceded by an even number of backslashes, so
 * not the text `\\u0000`). PostgreSQL's `jsonb` cannot hold a NUL character; it
 * is refused everywhere, so that every backend accepts the same events.
 */
const escapedNul = /(?<!\\)(?:\\\\)*\\u0000/

const hasEscapedNul = (text: string): boolean => text.includes("\\u0000") && escapedNul.test(text)

/** Why an event cannot be stored as given, or undefined when it can. */
const eventProblem = (event: EventData): string | undefined => {
  if (typeof event.eventId !== "string" || !lowercaseUuid.test(event.eventId)) {
    return `eventId must be a lowercase UUID, got ${JSON.stringify(event.eventId)}`
  }
  if (typeof event.type !== "string" || event.type.length === 0 || event.type.includes("\u0000")) {
    return `the type of event ${event.eventId} must be a non-empty string without NUL characters`
  }
  if (typeof event.data !== "string" || !isJson(event.data)) return `the data of event ${event.eventId} must be JSON text`
  if (typeof event.metadata !== "string" || !isJsonObject(event.metadata)) {
    return `the metadata of event ${event.eventId} must be the JSON text of an object`
  }
  // the regular expression only where the text holds `\u0000` at all (a plain substring search)
  if (hasEscapedNul(event.data) || hasEscapedNul(event.metadata)) {
    return `the data and metadata of event ${event.eventId} must not hold a NUL character (\\u0000)`
  }
  return undefined
}

/**
 * Checks an append's writes: at least one, each stream at most once, no event id
 * twice, and every event storable (a lowercase UUID id, a type, JSON data, JSON
 * object metadata), so that every backend refuses the same input and nothing is
 * stored that a typed read could never decode. Returns the writes as a list.
 */
export const checkWrites = (
  input: StreamWrite | NonEmptyReadonlyArray<StreamWrite>
): Either.Either<ReadonlyArray<StreamWrite>, InvalidArgument | DuplicateEventId> => {
  const writes = writesOf(input)
  if (writes.length === 0) return invalid("append", "at least one stream write is required")
  const streams = new Set<string>()
  const ids = new Set<string>()
  for (const write of writes) {
    const badId = checkStreamId("append", write.streamId)
    if (badId !== undefined) return Either.left(badId)
    const badExpected = expectedProblem(write.expected)
    if (badExpected !== undefined) {
      return invalid("append", `${badExpected} (stream ${JSON.stringify(write.streamId)})`)
    }
    if (!Array.isArray(write.events)) return invalid("append", `events must be an array (stream ${JSON.stringify(write.streamId)})`)
    if (streams.has(write.streamId)) {
      return invalid("append", `stream ${JSON.stringify(write.streamId)} appears in more than one write`)
    }
    streams.add(write.streamId)
    for (const event of write.events) {
      const problem = eventProblem(event)
      if (problem !== undefined) return invalid("append", `${problem} (stream ${JSON.stringify(write.streamId)})`)
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
