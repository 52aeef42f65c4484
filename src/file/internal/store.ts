/**
 * The file store's machinery: opening (lock, scan, cut back a torn tail), the
 * in-memory index, paged reads by offset and appends of one framed record.
 */
import { withReadSide } from "../../internal/inProcessReadSide.ts"
import type { FileSystem } from "@effect/platform"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Scope from "effect/Scope"
import type { StoredEvent } from "../../Event.ts"
import { EventStore, rowsFetched } from "../../EventStore.ts"
import type { AppendResult, StreamAppendResult, StreamWrite } from "../../EventStore.ts"
import * as ExpectedVersion from "../../ExpectedVersion.ts"
import { DuplicateEventId, StoreUnavailable, WrongExpectedVersion } from "../../StoreError.ts"
import type { AppendError } from "../../StoreError.ts"
import { checkWrites, resolveRead, resolveReadAllByPosition } from "../../internal/validate.ts"
import { crc32 } from "./crc32.ts"
import {
  decodePayload,
  encodeRecord,
  eventIdHash,
  fileHeader,
  frameHeaderSize,
  hasHeader,
  isHeaderPrefix,
  maxPayload,
  readFrameHeader
} from "./format.ts"
import type { RecordWrite } from "./format.ts"
import * as Lock from "./lock.ts"

/** Options with defaults applied. */
export interface Settings {
  readonly directory: string
  readonly pageSize: number
  readonly durability: "fsync" | "none"
}

/** The log file in the store directory. */
export const logFileName = "events.log"

/** The lock file in the store directory. */
export const lockFileName = "eventfold.lock"

/** Bytes read at a time by the open scan. */
const scanChunk = 1 << 20

const damaged = (operation: string, file: string, offset: number, what: string) =>
  new StoreUnavailable({ operation, cause: new Error(`${file}: ${what} at byte ${offset}`) })

/**
 * What the index keeps, per record and per event (see the ADR for the memory
 * it takes): record `i` starts at byte `offsets[i]`, its payload has
 * `lengths[i]` bytes and its first event is at position `firsts[i]`; version
 * `v` of a stream is in record `streams.get(id)[v - 1]`; an event id hashes to
 * the record that holds it.
 */
interface Index {
  readonly offsets: Array<number>
  readonly lengths: Array<number>
  readonly firsts: Array<number>
  readonly streams: Map<string, Array<number>>
  readonly ids: Map<number, number>
  readonly idCollisions: Map<number, Array<number>>
  /** Position of the next event appended. */
  nextPosition: number
  /** Bytes of the log covered by valid records: where the next record goes. */
  end: number
}

const addId = (index: Index, hash: number, record: number): void => {
  const first = index.ids.get(hash)
  if (first === undefined) {
    index.ids.set(hash, record)
    return
  }
  const more = index.idCollisions.get(hash)
  if (more === undefined) index.idCollisions.set(hash, [record])
  else more.push(record)
}

const addRecord = (
  index: Index,
  offset: number,
  length: number,
  events: ReadonlyArray<{ readonly streamId: string; readonly eventId: string }>
): void => {
  const record = index.offsets.length
  index.offsets.push(offset)
  index.lengths.push(length)
  index.firsts.push(index.nextPosition)
  for (const event of events) {
    let versions = index.streams.get(event.streamId)
    if (versions === undefined) {
      versions = []
      index.streams.set(event.streamId, versions)
    }
    versions.push(record)
    addId(index, eventIdHash(event.eventId), record)
  }
  index.nextPosition += events.length
  index.end = offset + frameHeaderSize + length
}

/** Whether a decoded record continues the log: positions and every stream's versions follow on. */
const continues = (index: Index, events: ReadonlyArray<StoredEvent>): boolean => {
  const seen = new Map<string, number>()
  let position = index.nextPosition
  for (const event of events) {
    if (event.position !== position++) return false
    const next = (seen.get(event.streamId) ?? index.streams.get(event.streamId)?.length ?? 0) + 1
    if (event.version !== next) return false
    seen.set(event.streamId, next)
  }
  return true
}

/** Opens the store in `settings.directory`; the lock and the files are released with the scope. */
export const open = (
  fs: FileSystem.FileSystem,
  settings: Settings
): Effect.Effect<EventStore.Service, StoreUnavailable, Scope.Scope> =>
  Effect.gen(function*() {
    const unavailable = (operation: string) => (cause: unknown) => new StoreUnavailable({ operation, cause })
    const opening = unavailable("open")
    yield* Effect.mapError(fs.makeDirectory(settings.directory, { recursive: true }), opening)
    const directory = yield* Effect.mapError(fs.realPath(settings.directory), opening)
    const logFile = `${directory}/${logFileName}`
    yield* Lock.acquire(fs, `${directory}/${lockFileName}`)
    const writer = yield* Effect.mapError(fs.open(logFile, { flag: "a" }), opening)
    const reader = yield* Effect.mapError(fs.open(logFile, { flag: "r" }), opening)

    // One seek-and-read at a time on the shared read handle.
    const io = yield* Effect.makeSemaphore(1)
    const readAt = (operation: string, offset: number, length: number): Effect.Effect<Uint8Array, StoreUnavailable> =>
      io.withPermits(1)(Effect.gen(function*() {
        yield* reader.seek(offset, "start")
        const buffer = new Uint8Array(length)
        let filled = 0
        while (filled < length) {
          const n = Number(yield* reader.read(buffer.subarray(filled)))
          if (n === 0) return yield* Effect.fail(damaged(operation, logFile, offset + filled, "unexpected end of file"))
          filled += n
        }
        return buffer
      })).pipe(
        Effect.mapError((error) => error instanceof StoreUnavailable ? error : unavailable(operation)(error)),
        Effect.catchAllDefect((defect) => Effect.fail(unavailable(operation)(defect)))
      )

    const durable = (effect: Effect.Effect<void, unknown>) =>
      settings.durability === "fsync" ? Effect.zipRight(effect, writer.sync) : effect

    // --- the header ------------------------------------------------------------
    const size = Number((yield* Effect.mapError(reader.stat, opening)).size)
    if (size < fileHeader.length) {
      const start = yield* readAt("open", 0, size)
      if (!isHeaderPrefix(start)) return yield* damaged("open", logFile, 0, "not an eventfold log (bad header)")
      yield* Effect.mapError(durable(Effect.zipRight(writer.truncate(0), writer.writeAll(fileHeader))), opening)
    } else if (!hasHeader(yield* readAt("open", 0, fileHeader.length))) {
      return yield* damaged("open", logFile, 0, "not an eventfold log (bad header)")
    }

    // --- the scan: rebuild the index, find where the valid records end ---------
    const index: Index = {
      offsets: [],
      lengths: [],
      firsts: [],
      streams: new Map(),
      ids: new Map(),
      idCollisions: new Map(),
      nextPosition: 1,
      end: fileHeader.length
    }
    let buffer: Uint8Array = new Uint8Array(0)
    let bufferStart = 0
    const load = (offset: number, length: number) =>
      offset >= bufferStart && offset + length <= bufferStart + buffer.length
        ? Effect.void
        : Effect.map(readAt("open", offset, Math.min(size - offset, Math.max(scanChunk, length))), (bytes) => {
          buffer = bytes
          bufferStart = offset
        })
    let offset = fileHeader.length
    while (size - offset >= frameHeaderSize) {
      yield* load(offset, frameHeaderSize)
      const { crc, length } = readFrameHeader(buffer, offset - bufferStart)
      if (length === 0 || length > maxPayload || offset + frameHeaderSize + length > size) break
      yield* load(offset, frameHeaderSize + length)
      const from = offset - bufferStart + frameHeaderSize
      if (crc32(buffer, from, from + length) !== crc) break
      const events = decodePayload(buffer, from, from + length)
      if (events === undefined || events.length === 0 || !continues(index, events)) break
      addRecord(index, offset, length, events)
      offset += frameHeaderSize + length
    }
    buffer = new Uint8Array(0)
    if (index.end < size) {
      // A torn tail (or damage): keep a copy of the cut bytes, then cut the log back.
      const cutFile = `${logFile}.cut-${index.end}-${yield* Clock.currentTimeMillis}`
      yield* Effect.mapError(Stream.run(fs.stream(logFile, { offset: index.end }), fs.sink(cutFile)), opening)
      yield* Effect.mapError(durable(writer.truncate(index.end)), opening)
      yield* Effect.logWarning(
        `eventfold file store: cut ${size - index.end} bytes of an incomplete or damaged record from the end of ${logFile}; saved to ${cutFile}`
      )
    }

    // --- reads ---------------------------------------------------------------
    /** Decodes records `indices` (ascending), reading runs of neighbours with one read each. */
    const readRecords = (
      operation: string,
      indices: ReadonlyArray<number>
    ): Effect.Effect<Map<number, Array<StoredEvent>>, StoreUnavailable> =>
      Effect.gen(function*() {
        const out = new Map<number, Array<StoredEvent>>()
        let i = 0
        while (i < indices.length) {
          let j = i
          while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++
          const first = indices[i]!
          const last = indices[j]!
          const start = index.offsets[first]!
          const bytes = yield* readAt(operation, start, index.offsets[last]! + frameHeaderSize + index.lengths[last]! - start)
          for (let k = i; k <= j; k++) {
            const record = indices[k]!
            const from = index.offsets[record]! - start + frameHeaderSize
            const events = decodePayload(bytes, from, from + index.lengths[record]!)
            if (events === undefined) return yield* damaged(operation, logFile, index.offsets[record]!, "damaged record")
            out.set(record, events)
          }
          i = j + 1
        }
        return out
      })

    /** Records of `cached` that `needed` keeps, plus the others read from the file. */
    const recordsFor = (operation: string, needed: ReadonlyArray<number>, cached: Map<number, Array<StoredEvent>>) => {
      const missing = needed.filter((r) => !cached.has(r))
      return Effect.map(readRecords(operation, missing), (loaded) => {
        const out = new Map<number, Array<StoredEvent>>()
        for (const r of needed) out.set(r, cached.get(r) ?? loaded.get(r)!)
        return out
      })
    }

    const fetched = <A>(events: Array<A>) => Effect.as(Metric.incrementBy(rowsFetched, events.length), events)

    type StreamCursor = readonly [next: number, cache: Map<number, Array<StoredEvent>>]

    const read: EventStore.Service["read"] = (streamId, options) =>
      Either.match(resolveRead(streamId, options, settings.pageSize), {
        onLeft: (error) => Stream.fail(error),
        onRight: ({ direction, from, pageSize }) =>
          Stream.suspend(() => {
            const versions = index.streams.get(streamId) ?? []
            const length = versions.length // the snapshot: streams only grow
            const backward = direction === "backward"
            const start = backward ? Math.min(from ?? length, length) : Math.max(from ?? 1, 1)
            if (backward ? start < 1 : start > length) return Stream.empty
            return Stream.paginateChunkEffect<StreamCursor, StoredEvent, StoreUnavailable, never>(
              [start, new Map()],
              ([next, cache]) => {
                const lo = backward ? Math.max(next - pageSize + 1, 1) : next
                const hi = backward ? next : Math.min(next + pageSize - 1, length)
                const needed: Array<number> = []
                for (let v = lo; v <= hi; v++) {
                  const r = versions[v - 1]!
                  if (needed.length === 0 || needed[needed.length - 1] !== r) needed.push(r)
                }
                return Effect.flatMap(recordsFor("read", needed, cache), (records) => {
                  const events: Array<StoredEvent> = []
                  for (const r of needed) {
                    for (const event of records.get(r)!) {
                      if (event.streamId === streamId && event.version >= lo && event.version <= hi) events.push(event)
                    }
                  }
                  if (backward) events.reverse()
                  const more = backward ? lo > 1 : hi < length
                  return Effect.map(fetched(events), (page) =>
                    [
                      Chunk.unsafeFromArray(page),
                      more ? Option.some<StreamCursor>([backward ? lo - 1 : hi + 1, records]) : Option.none<StreamCursor>()
                    ] as const)
                })
              }
            )
          })
      })

    /** The record holding position `position` (1 <= position < nextPosition). */
    const recordOf = (position: number, records: number): number => {
      let lo = 0
      let hi = records - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1
        if (index.firsts[mid]! <= position) lo = mid
        else hi = mid - 1
      }
      return lo
    }

    const readAll: EventStore.Service["readAll"] = (options) =>
      Either.match(resolveReadAllByPosition(options, settings.pageSize), {
        onLeft: (error) => Stream.fail(error),
        onRight: ({ after, pageSize }) =>
          Stream.suspend(() => {
            const records = index.offsets.length // the snapshot
            const end = index.nextPosition
            const start = Math.max(after + 1, 1)
            if (start >= end) return Stream.empty
            return Stream.paginateChunkEffect<StreamCursor, StoredEvent, StoreUnavailable, never>(
              [start, new Map()],
              ([next, cache]) => {
                const last = Math.min(next + pageSize, end) // exclusive
                const needed: Array<number> = []
                for (let r = recordOf(next, records); r < records && index.firsts[r]! < last; r++) needed.push(r)
                return Effect.flatMap(recordsFor("readAll", needed, cache), (loaded) => {
                  const events: Array<StoredEvent> = []
                  for (const r of needed) {
                    for (const event of loaded.get(r)!) {
                      if (event.position >= next && event.position < last) events.push(event)
                    }
                  }
                  return Effect.map(fetched(events), (page) =>
                    [
                      Chunk.unsafeFromArray(page),
                      last < end ? Option.some<StreamCursor>([last, loaded]) : Option.none<StreamCursor>()
                    ] as const)
                })
              }
            )
          })
      })

    // --- appends ---------------------------------------------------------------
    const appendLock = yield* Effect.makeSemaphore(1)
    /** Set when a failed append could not be cut back: the log's tail is unknown until reopened. */
    let broken: StoreUnavailable | undefined

    /** The first event of `writes` whose id is already stored, if any. */
    const findDuplicate = (writes: ReadonlyArray<StreamWrite>): Effect.Effect<DuplicateEventId | undefined, StoreUnavailable> => {
      const candidates = new Set<number>()
      for (const write of writes) {
        for (const event of write.events) {
          const hash = eventIdHash(event.eventId)
          const first = index.ids.get(hash)
          if (first === undefined) continue
          candidates.add(first)
          for (const r of index.idCollisions.get(hash) ?? []) candidates.add(r)
        }
      }
      if (candidates.size === 0) return Effect.succeed(undefined)
      return Effect.map(readRecords("append", [...candidates].sort((a, b) => a - b)), (records) => {
        const stored = new Set<string>()
        for (const events of records.values()) for (const event of events) stored.add(event.eventId)
        for (const write of writes) {
          for (const event of write.events) {
            if (stored.has(event.eventId)) return new DuplicateEventId({ eventId: event.eventId, streamId: write.streamId })
          }
        }
        return undefined
      })
    }

    const appendChecked = (writes: ReadonlyArray<StreamWrite>): Effect.Effect<AppendResult, AppendError> =>
      Effect.gen(function*() {
        if (broken !== undefined) return yield* Effect.fail(broken)
        const streams: Array<StreamAppendResult> = []
        const recordWrites: Array<RecordWrite> = []
        let count = 0
        for (const write of writes) {
          const current = index.streams.get(write.streamId)?.length ?? 0
          if (!ExpectedVersion.matches(write.expected, current)) {
            return yield* new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual: current })
          }
          streams.push({ streamId: write.streamId, version: current + write.events.length })
          if (write.events.length > 0) {
            recordWrites.push({ streamId: write.streamId, firstVersion: current + 1, events: write.events })
            count += write.events.length
          }
        }
        const duplicate = yield* findDuplicate(writes)
        if (duplicate !== undefined) return yield* duplicate
        if (count === 0) return { streams, positions: [] }

        const first = index.nextPosition
        const bytes = encodeRecord(first, yield* Clock.currentTimeMillis, recordWrites)
        const offset = index.end
        const payloadLength = bytes.length - frameHeaderSize
        if (payloadLength > maxPayload) {
          return yield* new StoreUnavailable({
            operation: "append",
            cause: new Error(`an append of ${payloadLength} bytes is larger than a record may be (${maxPayload} bytes)`)
          })
        }
        const ids: Array<{ readonly streamId: string; readonly eventId: string }> = []
        for (const write of recordWrites) for (const event of write.events) ids.push({ streamId: write.streamId, eventId: event.eventId })
        // Written, synced and indexed in one uninterruptible step: the index never lags the file.
        yield* durable(writer.writeAll(bytes)).pipe(
          Effect.catchAllDefect((defect) => Effect.fail(defect)),
          Effect.catchAll((cause) => {
            const failure = new StoreUnavailable({ operation: "append", cause })
            // Cut back whatever part of the record reached the file, so the next append follows valid records.
            return writer.truncate(offset).pipe(
              Effect.catchAllDefect((defect) => Effect.fail(defect)),
              Effect.catchAll((truncateCause) =>
                Effect.sync(() => {
                  broken = new StoreUnavailable({ operation: "append", cause: truncateCause })
                })
              ),
              Effect.zipRight(Effect.fail(failure))
            )
          }),
          Effect.zipRight(Effect.sync(() => addRecord(index, offset, payloadLength, ids))),
          Effect.uninterruptible
        )
        return { streams, positions: Array.from({ length: count }, (_, i) => first + i) }
      })

    const append: EventStore.Service["append"] = (input) =>
      Effect.suspend(() => {
        const checked = checkWrites(input)
        if (Either.isLeft(checked)) return Effect.fail(checked.left)
        return appendLock.withPermits(1)(appendChecked(checked.right))
      })

    // subscriptions wake up on this process's appends (the only writer: the lock
    // file); projection checkpoints are kept in memory, for the life of the store
    return yield* withReadSide(EventStore.of({ read, readAll, append }), () => index.nextPosition - 1)
  })
