import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import type { RecordedEvent, StoredEvent } from "../Event.ts"
import type { EventCodec } from "../EventCodec.ts"
import type { EventDecodeError } from "../StoreError.ts"

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
        const decoded = codec.decode(row)
        if (Either.isLeft(decoded)) {
          return out.length === 0
            ? Channel.fail(decoded.left)
            : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), Channel.fail(decoded.left))
        }
        out.push(decoded.right)
      }
      return out.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
    },
    onFailure: Channel.failCause,
    onDone: () => Channel.void
  })
  return Stream.pipeThroughChannel(self, loop)
}
