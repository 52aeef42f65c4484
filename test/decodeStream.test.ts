import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Stream } from "effect"
import type { Event } from "eventfold"
import { EventStore } from "eventfold"
import { codec } from "./bench/domain.ts"

const row = (version: number, data: string): Event.StoredEvent =>
  ({
    position: version,
    streamId: "s",
    version,
    eventId: `00000000-0000-7000-8000-${version.toString(16).padStart(12, "0")}`,
    type: "Deposited",
    data,
    metadata: "{}",
    recordedAt: new Date(0)
  }) as unknown as Event.StoredEvent

/** Rows 1..n in pages of `size`, row `bad` (if any) not JSON. */
const pages = (n: number, size: number, bad?: number) => {
  const rows = Array.from({ length: n }, (_, i) => row(i + 1, i + 1 === bad ? "{not json" : JSON.stringify({ amount: i + 1 })))
  const chunks: Array<Chunk.Chunk<Event.StoredEvent>> = []
  for (let from = 0; from < n; from += size) chunks.push(Chunk.unsafeFromArray(rows.slice(from, from + size)))
  return Stream.fromIterable(chunks).pipe(Stream.flattenChunks)
}

describe("typed decoding of pages", () => {
  it.effect("decodes every row of every page, in order, keeping the page boundaries", () =>
    Effect.gen(function*() {
      const decoded = pages(10, 4).pipe(EventStore.decode(codec))
      const chunks = yield* Stream.runCollect(Stream.chunks(decoded))
      expect(Chunk.toReadonlyArray(chunks).map((c) => c.length)).toEqual([4, 4, 2])
      const events = Chunk.toReadonlyArray(Chunk.flatten(chunks))
      expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(events.map((e) => e.data)).toEqual(Array.from({ length: 10 }, (_, i) => ({ _tag: "Deposited", amount: i + 1 })))
    }))

  it.effect("emits the rows before a bad one (also those of its own page), then fails with EventDecodeError naming it", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const exit = yield* pages(10, 4, 7).pipe(
        EventStore.decode(codec),
        Stream.runForEach((e) => Effect.sync(() => seen.push(e.version))),
        Effect.exit
      )
      expect(seen).toEqual([1, 2, 3, 4, 5, 6])
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(pages(10, 4, 7).pipe(EventStore.decode(codec), Stream.runDrain))
      expect(error).toMatchObject({ _tag: "EventDecodeError", version: 7, type: "Deposited" })
    }))

  it.effect("a bad first row of a page fails after the earlier pages; an upstream failure passes through", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const error = yield* pages(8, 4, 5).pipe(
        EventStore.decode(codec),
        Stream.runForEach((e) => Effect.sync(() => seen.push(e.version))),
        Effect.flip
      )
      expect(seen).toEqual([1, 2, 3, 4])
      expect(error).toMatchObject({ _tag: "EventDecodeError", version: 5 })
      const upstream = yield* Stream.concat(pages(3, 2), Stream.fail("boom" as const)).pipe(
        EventStore.decode(codec),
        Stream.runCollect,
        Effect.flip
      )
      expect(upstream).toBe("boom")
    }))

  it.effect("an empty stream decodes to nothing", () =>
    Effect.gen(function*() {
      expect(Chunk.size(yield* Stream.runCollect(Stream.empty.pipe(EventStore.decode(codec))))).toBe(0)
    }))
})
