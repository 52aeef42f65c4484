import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Stream from "effect/Stream"
import type { RecordedEvent, StoredEvent } from "../Event.ts"
import type { EventCodec } from "../EventCodec.ts"
import { EventDecodeError } from "../StoreError.ts"
import type { PayloadDecoder } from "./codecJson.ts"
import { hasPayloadDecoder, PayloadDecoderTypeId } from "./codecJson.ts"

/**
 * Decodes a stream of stored rows with a codec, one page (chunk) at a time, in
 * one channel that reads a page, decodes it in a loop and writes the decoded
 * page: no stream is started per page (a `Stream.flatMap` per page was the
 * larger part of a typed read's overhead). The rows of a page before a bad one
 * are written, then the channel fails with the codec's `EventDecodeError`.
 *
 * @internal
 */
export const decodeStream = <E, Err, R>(
  self: Stream.Stream<StoredEvent, Err, R>,
  codec: EventCodec<E>
): Stream.Stream<RecordedEvent<E>, Err | EventDecodeError, R> => {
  const decodePayload = hasPayloadDecoder<E>(codec) ? codec[PayloadDecoderTypeId] : undefined
  // a row without metadata decodes through the codec's payload decoder: no Either per row
  const decodeRow = (row: StoredEvent): RecordedEvent<E> | EventDecodeError => {
    if (decodePayload !== undefined && row.metadata === "{}") return recorded(row, decodePayload)
    const decoded = codec.decode(row)
    return Either.isLeft(decoded) ? decoded.left : decoded.right
  }
  const loop: Channel.Channel<
    Chunk.Chunk<RecordedEvent<E>>,
    Chunk.Chunk<StoredEvent>,
    Err | EventDecodeError,
    Err,
    unknown,
    unknown
  > = Channel.readWithCause({
    onInput: (page: Chunk.Chunk<StoredEvent>) => {
      const out: Array<RecordedEvent<E>> = []
      for (const row of page) {
        const event = decodeRow(row)
        if (event instanceof EventDecodeError) {
          return out.length === 0
            ? Channel.fail(event)
            : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), Channel.fail(event))
        }
        out.push(event)
      }
      return out.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
    },
    onFailure: Channel.failCause,
    onDone: () => Channel.void
  })
  return Stream.pipeThroughChannel(self, loop)
}

const emptyMetadata = Object.freeze({})

/**
 * A row with empty metadata decoded by a codec's payload decoder: the event, or
 * the error `codec.decode` would fail with.
 */
const recorded = <E>(
  row: StoredEvent,
  decodePayload: PayloadDecoder<E>[typeof PayloadDecoderTypeId]
): RecordedEvent<E> | EventDecodeError => {
  const data = decodePayload(row.type, row.data)
  if (data instanceof ParseResult.ParseError) {
    return new EventDecodeError({ streamId: row.streamId, version: row.version, position: row.position, type: row.type, cause: data })
  }
  return {
    streamId: row.streamId,
    version: row.version,
    position: row.position,
    cursor: row.cursor,
    eventId: row.eventId,
    type: row.type,
    data,
    metadata: emptyMetadata,
    recordedAt: row.recordedAt
  }
}
