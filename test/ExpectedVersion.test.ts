import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { ExpectedVersion } from "eventfold"

describe("ExpectedVersion", () => {
  it("matches compares against the stream's current version", () => {
    const table: ReadonlyArray<readonly [ExpectedVersion.ExpectedVersion, number, boolean]> = [
      [ExpectedVersion.any, 0, true],
      [ExpectedVersion.any, 7, true],
      [ExpectedVersion.noStream, 0, true],
      [ExpectedVersion.noStream, 1, false],
      [ExpectedVersion.streamExists, 0, false],
      [ExpectedVersion.streamExists, 1, true],
      [ExpectedVersion.unsafeExact(0), 0, true],
      [ExpectedVersion.unsafeExact(3), 3, true],
      [ExpectedVersion.unsafeExact(3), 4, false]
    ]
    for (const [expected, current, result] of table) {
      expect([ExpectedVersion.format(expected), current, ExpectedVersion.matches(expected, current)]).toEqual([
        ExpectedVersion.format(expected),
        current,
        result
      ])
    }
  })

  it("exact rejects negative and fractional versions", () => {
    expect(Either.isLeft(ExpectedVersion.exact(-1))).toBe(true)
    expect(Either.isLeft(ExpectedVersion.exact(1.5))).toBe(true)
    expect(Either.getOrThrow(ExpectedVersion.exact(2))).toEqual({ _tag: "Exact", version: 2 })
  })

  it("fromCurrent gives NoStream at zero and Exact otherwise", () => {
    expect(ExpectedVersion.fromCurrent(0)).toEqual({ _tag: "NoStream" })
    expect(ExpectedVersion.fromCurrent(5)).toEqual({ _tag: "Exact", version: 5 })
  })

  it("format reads as a person would say it", () => {
    expect(ExpectedVersion.format(ExpectedVersion.any)).toBe("any")
    expect(ExpectedVersion.format(ExpectedVersion.noStream)).toBe("no stream")
    expect(ExpectedVersion.format(ExpectedVersion.streamExists)).toBe("stream exists")
    expect(ExpectedVersion.format(ExpectedVersion.unsafeExact(9))).toBe("version 9")
  })
})
