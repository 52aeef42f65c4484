/**
 * The bytes of the log file (see adr/0013-file-store.md):
 *
 * ```
 * file    = header record*
 * header  = "EVFLOG" 0x00 0x01             8 bytes: magic and format version 1
 * record  = length:u32le crc:u32le payload  crc = CRC-32 of payload; length = payload bytes (> 0)
 * payload = UTF-8 JSON [firstPosition, recordedAtMillis, [[streamId, firstVersion, [[eventId, type, data, metadata], ...]], ...]]
 * ```
 *
 * One record holds one append: every stream it wrote, in the order of the
 * writes, and only writes with events.
 */
import type { EventData, EventId, StoredEvent } from "../../Event.ts"
import type { StreamId } from "../../StreamId.ts"
import { ofPosition } from "../../internal/cursor.ts"
import { crc32 } from "./crc32.ts"

/** The first 8 bytes of every log file. */
export const fileHeader: Uint8Array = new Uint8Array([0x45, 0x56, 0x46, 0x4c, 0x4f, 0x47, 0x00, 0x01])

/** Bytes before a record's payload: length and checksum. */
export const frameHeaderSize = 8

/** The largest payload a record may declare (1 GiB): anything larger is a damaged length. */
export const maxPayload = 1 << 30

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

/** One stream's events in a record. */
export interface RecordWrite {
  readonly streamId: StreamId
  readonly firstVersion: number
  readonly events: ReadonlyArray<EventData>
}

/** Frames one append as a record, ready to be written with one write. */
export const encodeRecord = (firstPosition: number, recordedAt: number, writes: ReadonlyArray<RecordWrite>): Uint8Array => {
  const json = JSON.stringify([
    firstPosition,
    recordedAt,
    writes.map((w) => [w.streamId, w.firstVersion, w.events.map((e) => [e.eventId, e.type, e.data, e.metadata])])
  ])
  const payload = encoder.encode(json)
  const out = new Uint8Array(frameHeaderSize + payload.length)
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  view.setUint32(0, payload.length, true)
  view.setUint32(4, crc32(payload), true)
  out.set(payload, frameHeaderSize)
  return out
}

/** A frame's declared payload length and checksum, read from `bytes` at `at`. */
export const readFrameHeader = (bytes: Uint8Array, at: number): { readonly length: number; readonly crc: number } => {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, frameHeaderSize)
  return { length: view.getUint32(0, true), crc: view.getUint32(4, true) }
}

const isString = (u: unknown): u is string => typeof u === "string"
const isCount = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 1

/**
 * Decodes a payload whose checksum matched into the events it holds, or
 * undefined when it is not a record of this format (then the log is damaged
 * from here on). Checked by hand, not by Schema: the open scan decodes every
 * record of the log.
 */
export const decodePayload = (bytes: Uint8Array, from: number, to: number): Array<StoredEvent> | undefined => {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes.subarray(from, to)))
  } catch {
    return undefined
  }
  if (!Array.isArray(value) || value.length !== 3) return undefined
  const [firstPosition, recordedAtMillis, writes] = value as [unknown, unknown, unknown]
  if (!isCount(firstPosition) || typeof recordedAtMillis !== "number" || !Array.isArray(writes) || writes.length === 0) {
    return undefined
  }
  const recordedAt = new Date(recordedAtMillis)
  const out: Array<StoredEvent> = []
  let position = firstPosition
  for (const write of writes as Array<unknown>) {
    if (!Array.isArray(write) || write.length !== 3) return undefined
    const [streamId, firstVersion, events] = write as [unknown, unknown, unknown]
    if (!isString(streamId) || !isCount(firstVersion) || !Array.isArray(events) || events.length === 0) return undefined
    let version = firstVersion
    for (const event of events as Array<unknown>) {
      if (!Array.isArray(event) || event.length !== 4) return undefined
      const [eventId, type, data, metadata] = event as [unknown, unknown, unknown, unknown]
      if (!isString(eventId) || !isString(type) || !isString(data) || !isString(metadata)) return undefined
      out.push({
        streamId: streamId as StreamId,
        version: version++,
        cursor: ofPosition(position),
        position: position++,
        eventId: eventId as EventId,
        type,
        data,
        metadata,
        recordedAt
      })
    }
  }
  return out
}

/** Whether `bytes` (the start of a file) is a prefix of the header: a log whose creation was cut short. */
export const isHeaderPrefix = (bytes: Uint8Array): boolean => {
  if (bytes.length >= fileHeader.length) return false
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== fileHeader[i]) return false
  return true
}

/** Whether `bytes` starts with the header. */
export const hasHeader = (bytes: Uint8Array): boolean => {
  if (bytes.length < fileHeader.length) return false
  for (let i = 0; i < fileHeader.length; i++) if (bytes[i] !== fileHeader[i]) return false
  return true
}

/** A 53-bit hash of an event id (two 32-bit FNV-1a variants), the key of the duplicate-id index. */
export const eventIdHash = (id: string): number => {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  return (a >>> 11) * 0x100000000 + (b >>> 0)
}
