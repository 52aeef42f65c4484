import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Exit, ParseResult, Schema } from "effect"
import { ExpectedVersion, StoreError, StreamId } from "eventfold"

const streamId = StreamId.unsafeMake("account-1")

class Overdrawn extends Schema.TaggedError<Overdrawn>()("Overdrawn", { balance: Schema.Number }) {}
class DataDomainError extends Data.TaggedError("Closed")<{ readonly id: string }> {}

const parseError = Schema.decodeUnknownEither(Schema.Struct({ owner: Schema.String }))({ owner: 42 }).pipe(
  (either) => either._tag === "Left" ? either.left : undefined
)!

const storeErrors: ReadonlyArray<StoreError.StoreError> = [
  new StoreError.WrongExpectedVersion({ streamId, expected: ExpectedVersion.unsafeExact(3), actual: 5 }),
  new StoreError.DuplicateEventId({ eventId: "0b7e6f5a-6a43-4c57-9d8e-2a3f1b9c0d11", streamId }),
  new StoreError.EventDecodeError({ streamId, version: 4, position: 17, type: "Opened", cause: parseError }),
  new StoreError.EventEncodeError({ streamId, cause: parseError }),
  new StoreError.InvalidArgument({ operation: "append", reason: "pageSize must be a positive integer, got 0" }),
  new StoreError.StoreUnavailable({ operation: "read", cause: new Error("connection lost") }),
  new StoreError.InvalidStreamId({ input: "", reason: "a stream id must not be empty" })
]

describe("StoreError", () => {
  it("isStoreError matches every store error", () => {
    for (const error of storeErrors) expect(StoreError.isStoreError(error), error._tag).toBe(true)
  })

  it("isStoreError matches no domain error, no plain Error and no look-alike", () => {
    const others: ReadonlyArray<unknown> = [
      new Overdrawn({ balance: -1 }),
      new DataDomainError({ id: "x" }),
      new Error("boom"),
      { _tag: "WrongExpectedVersion", streamId: "a", expected: ExpectedVersion.any, actual: 1 },
      undefined,
      null,
      "StoreUnavailable"
    ]
    for (const other of others) expect(StoreError.isStoreError(other)).toBe(false)
  })

  it("every store error carries the type id", () => {
    for (const error of storeErrors) expect(error[StoreError.TypeId]).toBe(StoreError.TypeId)
  })

  it("every store error round-trips through the StoreError schema (encode, then decode)", () => {
    const encode = Schema.encodeSync(StoreError.StoreError)
    const decode = Schema.decodeUnknownSync(StoreError.StoreError)
    for (const error of storeErrors) {
      const encoded = encode(error)
      const json: unknown = JSON.parse(JSON.stringify(encoded))
      const decoded = decode(json)
      expect(decoded._tag).toBe(error._tag)
      expect(decoded).toBeInstanceOf(error.constructor)
      expect(StoreError.isStoreError(decoded)).toBe(true)
      expect(decoded.message).toBe(error.message)
    }
  })

  it("a decoded error keeps its fields; a cause keeps its message", () => {
    const encode = Schema.encodeSync(StoreError.StoreError)
    const decode = Schema.decodeUnknownSync(StoreError.StoreError)
    const wrong = decode(JSON.parse(JSON.stringify(encode(storeErrors[0]!))))
    expect(wrong).toMatchObject({ _tag: "WrongExpectedVersion", streamId: "account-1", expected: { _tag: "Exact", version: 3 }, actual: 5 })
    const unavailable = decode(JSON.parse(JSON.stringify(encode(storeErrors[5]!))))
    expect(unavailable._tag).toBe("StoreUnavailable")
    if (unavailable._tag === "StoreUnavailable") expect((unavailable.cause as Error).message).toBe("connection lost")
    const decodeError = decode(JSON.parse(JSON.stringify(encode(storeErrors[2]!))))
    expect(decodeError.message).toContain("owner")
    expect(decodeError).toMatchObject({ _tag: "EventDecodeError", version: 4, position: 17, type: "Opened" })
  })

  it("constructors never throw on bad data: invalid versions and stream ids still make the error", () => {
    const bad = "" as StreamId.StreamId
    const errors = [
      new StoreError.WrongExpectedVersion({ streamId: bad, expected: { _tag: "Exact", version: -1 }, actual: Number.NaN }),
      new StoreError.WrongExpectedVersion({ streamId: bad, expected: { _tag: "Exact", version: 1.5 }, actual: Infinity }),
      new StoreError.DuplicateEventId({ eventId: "not-a-uuid", streamId: "\u0000" as StreamId.StreamId }),
      new StoreError.EventDecodeError({ streamId: bad, version: Number.NaN, position: -1, type: "", cause: undefined }),
      new StoreError.EventEncodeError({ streamId: "\uD800" as StreamId.StreamId, cause: 42 }),
      new StoreError.StoreUnavailable({ operation: "append", cause: { weird: true } })
    ]
    expect(errors.map((error) => error._tag)).toEqual([
      "WrongExpectedVersion",
      "WrongExpectedVersion",
      "DuplicateEventId",
      "EventDecodeError",
      "EventEncodeError",
      "StoreUnavailable"
    ])
    expect(errors[0]!.message).toBe(`Wrong expected version for stream "": expected version -1, actual version NaN`)
    expect(errors[4]!.message).toBe(`Cannot encode an event for stream "\\ud800": 42`)
  })

  it.effect("catchIf with isStoreError maps store errors and leaves domain errors alone", () =>
    Effect.gen(function*() {
      const fails = (error: StoreError.StoreError | Overdrawn) =>
        Effect.fail(error).pipe(Effect.catchIf(StoreError.isStoreError, (e) => Effect.succeed(`mapped ${e._tag}`)))
      expect(yield* fails(storeErrors[5]!)).toBe("mapped StoreUnavailable")
      const domain = yield* Effect.exit(fails(new Overdrawn({ balance: -1 })))
      expect(domain).toStrictEqual(Exit.fail(new Overdrawn({ balance: -1 })))
    }))

  it("the parse error of a decode error is its cause", () => {
    const error = storeErrors[2]! as StoreError.EventDecodeError
    expect(ParseResult.isParseError(error.cause)).toBe(true)
  })
})
