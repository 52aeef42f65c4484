import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { StreamId } from "eventfold"

describe("StreamId", () => {
  it("accepts 1 to 200 characters, counting unicode code points", () => {
    expect(Either.getOrThrow(StreamId.either("a"))).toBe("a")
    expect(Either.getOrThrow(StreamId.either("x".repeat(200)))).toHaveLength(200)
    expect(Either.isRight(StreamId.either("🚀".repeat(200)))).toBe(true)
    expect(Either.getOrThrow(StreamId.either("it's 100%_ \"ok\"; --"))).toBe("it's 100%_ \"ok\"; --")
  })

  it.effect("an empty id fails with InvalidStreamId saying why", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(StreamId.make(""))
      expect(error).toBeInstanceOf(StreamId.InvalidStreamId)
      expect(error.input).toBe("")
      expect(error.reason).toContain("must not be empty")
    }))

  it.effect("an id over 200 characters fails with InvalidStreamId", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(StreamId.make("x".repeat(201)))
      expect(error.reason).toContain("at most 200 characters, got 201")
      expect(error.message).toContain("Invalid stream id")
    }))

  it("ids with control characters are rejected", () => {
    for (const bad of ["a\nb", "tab\there", "nul\u0000", "del\u007f", "c1\u0085"]) {
      const result = StreamId.either(bad)
      expect(Either.isLeft(result)).toBe(true)
      expect(Either.getLeft(result).pipe((o) => o._tag === "Some" && o.value.reason)).toContain("control characters")
    }
  })

  it("ids with a lone UTF-16 surrogate are rejected; paired surrogates (astral characters) are fine", () => {
    for (const bad of ["a\uD800", "\uDC00b", "x\uDBFFy", "\uDC00\uD800"]) {
      const result = StreamId.either(bad)
      expect(Either.getLeft(result).pipe((o) => o._tag === "Some" && o.value.reason)).toContain("lone surrogate")
    }
    expect(Either.getOrThrow(StreamId.either("rocket-\uD83D\uDE80"))).toBe("rocket-🚀")
  })

  it("unsafeMake throws the typed error for a bad literal", () => {
    expect(() => StreamId.unsafeMake("")).toThrow(StreamId.InvalidStreamId)
  })

  it.effect("fromParts joins category and id", () =>
    Effect.gen(function*() {
      expect(yield* StreamId.fromParts("account", "42")).toBe("account-42")
    }))
})
