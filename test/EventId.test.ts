import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Event } from "eventfold"

const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("generated event ids", () => {
  it("are lowercase UUIDs version 7 whose first 48 bits are the current Unix milliseconds", () => {
    const before = Date.now()
    const id = Event.randomEventId()
    const after = Date.now()
    expect(id).toMatch(v7)
    expect(Schema.is(Event.EventId)(id)).toBe(true)
    const millis = parseInt(id.replaceAll("-", "").slice(0, 12), 16)
    // the clock may have been stepped past by an earlier burst of ids in this process, never by more than a few ms here
    expect(millis).toBeGreaterThanOrEqual(before)
    expect(millis).toBeLessThanOrEqual(after + 50)
  })

  it("increase strictly within a process, also past 4,096 ids in one millisecond, and never repeat", () => {
    const ids = Array.from({ length: 20_000 }, () => Event.randomEventId())
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.every((id) => v7.test(id))).toBe(true)
  })

  it.effect("makeEventId makes the same kind of id", () =>
    Effect.gen(function*() {
      const a = yield* Event.makeEventId
      const b = yield* Event.makeEventId
      expect(a).toMatch(v7)
      expect(b > a).toBe(true)
    }))

  it("the EventId schema still accepts any UUID version", () => {
    for (const id of ["3f2504e0-4f89-41d3-9a0c-0305e82c3301", "00000000-0000-0000-0000-000000000000", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"]) {
      expect(Schema.is(Event.EventId)(id)).toBe(true)
    }
  })
})
