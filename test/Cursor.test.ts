import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Schema, Stream } from "effect"
import { Cursor, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"

describe("Cursor", () => {
  it("decode accepts the start, positions and transaction cursors", () => {
    for (const text of ["0", "1", "42", "9007199254740991", "771:0", "771:42", "18446744073709551615:3"]) {
      expect(Either.getOrUndefined(Cursor.decode(text))).toBe(text)
      expect(Cursor.isCursor(text)).toBe(true)
    }
  })

  it("decode refuses anything else with InvalidArgument", () => {
    for (const text of ["", " 1", "-1", "1.5", "01", "abc", "1:", ":1", "0:1", "1:2:3", "1e3", "１"]) {
      const decoded = Cursor.decode(text)
      expect(Either.isLeft(decoded)).toBe(true)
      if (Either.isLeft(decoded)) {
        expect(decoded.left._tag).toBe("InvalidArgument")
        expect(decoded.left.operation).toBe("Cursor.decode")
      }
      expect(Cursor.isCursor(text)).toBe(false)
    }
    expect(Cursor.isCursor(7)).toBe(false)
  })

  it("start is the cursor 0 and a schema round trip keeps a cursor as it is", () => {
    expect(Cursor.start).toBe("0")
    const Checkpoint = Schema.Struct({ projection: Schema.String, cursor: Cursor.Cursor })
    const encoded = Schema.encodeSync(Checkpoint)({ projection: "balances", cursor: Cursor.start })
    expect(JSON.parse(JSON.stringify(encoded))).toEqual({ projection: "balances", cursor: "0" })
    expect(Schema.decodeUnknownSync(Checkpoint)({ projection: "balances", cursor: "12" }).cursor).toBe("12")
    expect(() => Schema.decodeUnknownSync(Checkpoint)({ projection: "balances", cursor: "x" })).toThrow()
  })

  it.effect("a memory store refuses a PostgreSQL cursor with InvalidArgument", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({
        streamId: StreamId.unsafeMake("s"),
        expected: ExpectedVersion.any,
        events: [{ eventId: crypto.randomUUID() as never, type: "T", data: "{}", metadata: "{}" }]
      })
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.readAll()))
      expect(all.map((e) => e.cursor)).toEqual(["1"])
      const error = yield* Effect.flip(Stream.runDrain(store.readAll({ after: Cursor.Cursor.make("5:1") })))
      expect(error._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(MemoryEventStore.layer())))
})
