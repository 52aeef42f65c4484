import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Event } from "eventfold"

describe("Event", () => {
  it.effect("eventIdFrom gives the same lowercase version-8 UUID for the same key and index, and another for any other", () =>
    Effect.gen(function*() {
      const a0 = yield* Event.eventIdFrom("request-1", 0)
      expect(yield* Event.eventIdFrom("request-1", 0)).toBe(a0)
      expect(a0).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(Schema.is(Event.EventId)(a0)).toBe(true)
      const others = [
        yield* Event.eventIdFrom("request-1", 1),
        yield* Event.eventIdFrom("request-2", 0),
        yield* Event.eventIdFrom("request-10", 0),
        yield* Event.eventIdFrom("", 0)
      ]
      expect(new Set([a0, ...others]).size).toBe(5)
    }))

  it.effect("eventIdFrom is SHA-256 of key, NUL, index: a known vector", () =>
    Effect.gen(function*() {
      const digest = new Uint8Array(yield* Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode("k\u00000"))))
      const hex = Array.from(digest.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("")
      const id = yield* Event.eventIdFrom("k", 0)
      const plain = id.replaceAll("-", "")
      // every nibble but the version nibble (12) and the variant's top bits (16) comes from the digest
      expect(plain.slice(0, 12)).toBe(hex.slice(0, 12))
      expect(plain[12]).toBe("8")
      expect(plain.slice(13, 16)).toBe(hex.slice(13, 16))
      expect(plain.slice(17)).toBe(hex.slice(17))
    }))
})
