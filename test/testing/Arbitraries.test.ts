import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Schema, Stream } from "effect"
import { Cursor, EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { Arbitraries } from "eventfold/testing"

class Moved extends Schema.TaggedClass<Moved>()("Moved", { x: Schema.Int, y: Schema.Int }) {}
class Named extends Schema.TaggedClass<Named>()("Named", { name: Schema.String }) {}
const Shape = Schema.Union(Moved, Named)
const codec = EventCodec.make(Shape)
const shapes = fc.oneof(
  fc.record({ x: fc.integer(), y: fc.integer() }).map((p) => new Moved(p)),
  fc.string().map((name) => new Named({ name }))
)

describe("Arbitraries", () => {
  it.effect.prop("every generated stream id round-trips through StreamId.make unchanged", [Arbitraries.streamId], ([id]) =>
    Effect.gen(function*() {
      const made = yield* StreamId.make(`${id}`)
      expect(made).toBe(id)
      expect([...made].length).toBeGreaterThanOrEqual(1)
      expect([...made].length).toBeLessThanOrEqual(200)
    }), { fastCheck: { numRuns: 300 } })

  it("a fixed-seed sample of stream ids has the awkward characters the README promises", () => {
    const ids = fc.sample(Arbitraries.streamId, { seed: 20261124, numRuns: 600 })
    const some = (label: string, test: (id: string) => boolean) => expect(ids.some(test), label).toBe(true)
    some("a single quote", (id) => id.includes("'"))
    some("a double quote", (id) => id.includes("\""))
    some("a percent sign", (id) => id.includes("%"))
    some("an underscore", (id) => id.includes("_"))
    some("a backslash", (id) => id.includes("\\"))
    some("an SQL fragment", (id) => id.includes("DROP TABLE") || id.includes("' OR '1'='1"))
    some("a non-ASCII character in the BMP", (id) => [...id].some((c) => c.codePointAt(0)! > 0x7f && c.codePointAt(0)! <= 0xffff))
    some("an astral character (two UTF-16 code units)", (id) => [...id].some((c) => c.codePointAt(0)! > 0xffff))
    some("a plain id", (id) => /^[a-z]+-[0-9]+$/.test(id))
    some("more than 100 code points", (id) => [...id].length > 100)
    some("exactly 200 code points, more than 200 UTF-16 code units", (id) => [...id].length === 200 && id.length > 200)
    some("a single code point", (id) => [...id].length === 1)
  })

  it.effect.prop("every generated invalid stream id is rejected by StreamId.make", [Arbitraries.invalidStreamId], ([input]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(StreamId.make(input))
      expect(error).toMatchObject({ _tag: "InvalidStreamId", input })
    }))

  it("a fixed-seed sample of invalid stream ids covers every rule: empty, too long, control character, lone surrogate", () => {
    const reasons = new Set(
      fc.sample(Arbitraries.invalidStreamId, { seed: 20261124, numRuns: 300 }).map((input) =>
        Either.match(StreamId.either(input), { onLeft: (error) => error.reason.replace(/, got \d+$/, ""), onRight: () => "valid" })
      )
    )
    expect([...reasons].sort()).toEqual([
      "a stream id has at most 200 characters",
      "a stream id must be well-formed Unicode (it contains a lone surrogate)",
      "a stream id must not be empty",
      "a stream id must not contain control characters"
    ])
  })

  it.prop("generated envelopes decode back to the event they were made from", [Arbitraries.eventData(codec, shapes)], ([data]) => {
    const decoded = codec.decode({
      ...data,
      streamId: StreamId.unsafeMake("s"),
      version: 1,
      cursor: Cursor.start,
      position: 1,
      recordedAt: new Date(0)
    })
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isRight(decoded)) expect(Either.getOrThrow(codec.encode(decoded.right.data)).data).toBe(data.data)
  })

  it.effect.prop(
    "the memory store accepts an append exactly when ExpectedVersion.matches says so",
    [fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), Arbitraries.expectedVersion(5), fc.integer({ min: 0, max: 3 })), { maxLength: 25 })],
    ([steps]) =>
      Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        const ids = ["s0", "s1", "s2"].map(StreamId.unsafeMake)
        const model = [0, 0, 0]
        for (const [which, expected, count] of steps) {
          const events = yield* Effect.forEach(Array.from({ length: count }, (_, i) => new Named({ name: `e${i}` })), (e) =>
            Effect.orDie(EventCodec.toEventData(codec, e)))
          const result = yield* Effect.either(store.append({ streamId: ids[which]!, expected, events }))
          const shouldPass = ExpectedVersion.matches(expected, model[which]!)
          expect(Either.isRight(result)).toBe(shouldPass)
          if (shouldPass) model[which] = model[which]! + count
          else expect(Either.getLeft(result)).toMatchObject({ value: { _tag: "WrongExpectedVersion", actual: model[which] } })
        }
        for (const [i, id] of ids.entries()) expect(yield* Stream.runCount(store.read(id))).toBe(model[i])
      }).pipe(Effect.provide(MemoryEventStore.layer()))
  )
})
