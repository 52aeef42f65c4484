import { describe, expect, it } from "@effect/vitest"
import { Chunk, Data, Effect, Either, Option, Schema } from "effect"
import { Decider, EventCodec, StreamId } from "eventfold"
import { Scenario } from "eventfold/testing"
import {
  account,
  Deposit,
  Deposited,
  InsufficientFunds,
  NotOpen,
  Open,
  Opened,
  sloppyAccount,
  streamOf,
  Withdraw,
  Withdrawn
} from "./fixtures/Account.ts"

describe("Scenario.decider (pure)", () => {
  it("passes when the decider produces exactly the expected events", () => {
    Scenario.decider(account).given([new Opened(), new Deposited({ amount: 50 })]).when(new Withdraw({ id: "a", amount: 20 })).then([
      new Withdrawn({ amount: 20 })
    ])
    Scenario.decider(account).when(new Open({ id: "a" })).then([{ streamId: streamOf("a"), event: new Opened() }])
  })

  it("passes thenFails with the expected error value or a predicate", () => {
    const scenario = Scenario.decider(account).given([new Opened(), new Deposited({ amount: 10 })])
    scenario.when(new Withdraw({ id: "a", amount: 11 })).thenFails(new InsufficientFunds({ balance: 10, requested: 11 }))
    scenario.when(new Withdraw({ id: "a", amount: 11 })).thenFails((error) => error._tag === "InsufficientFunds")
    Scenario.decider(account).when(new Deposit({ id: "a", amount: 1 })).thenFails(new NotOpen({ id: "a" }))
  })

  it("catches a deliberately wrong decider and shows given, command, expected and actual", () => {
    let failure: unknown
    try {
      Scenario.decider(sloppyAccount).given([new Opened(), new Deposited({ amount: 10 })]).when(new Withdraw({ id: "a", amount: 11 }))
        .thenFails(new InsufficientFunds({ balance: 10, requested: 11 }))
    } catch (error) {
      failure = error
    }
    expect(failure).toBeInstanceOf(Scenario.ScenarioFailure)
    const message = (failure as Error).message
    expect(message).toContain("Given:")
    expect(message).toContain("Deposited { amount: 10, _tag: 'Deposited' }")
    expect(message).toContain("When:     Withdraw { id: 'a', amount: 11, _tag: 'Withdraw' }")
    expect(message).toContain("Expected: error InsufficientFunds { balance: 10, requested: 11 }")
    expect(message).toContain("Actual:   events [ { streamId: 'account-a', event: Withdrawn { amount: 11, _tag: 'Withdrawn' } } ]")
  })

  it("then fails when the events differ, and thenNothing when any event is produced", () => {
    const scenario = Scenario.decider(account).given([new Opened()]).when(new Deposit({ id: "a", amount: 5 }))
    expect(() => scenario.then([new Deposited({ amount: 6 })])).toThrow(/Expected: events .*amount: 6/)
    expect(() => scenario.thenNothing()).toThrow(/Expected: no events/)
    expect(() => scenario.thenFails(() => true)).toThrow(/Actual: {3}events/)
  })

  it("thenNothing passes for a decision with no events", () => {
    class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}
    class Noop extends Schema.TaggedClass<Noop>()("Noop", {}) {}
    const idle = Decider.make({
      codec: EventCodec.make(Ping),
      initialState: 0,
      evolve: (n: number) => n + 1,
      streams: (_: Noop) => StreamId.unsafeMake("idle"),
      decide: () => Either.right([])
    })
    Scenario.decider(idle).when(new Noop()).thenNothing()
  })
})

describe("Scenario.executor (over a store)", () => {
  it.effect("records exactly the events the command appended, with their streams", () =>
    Scenario.executor(account)
      .given([{ streamId: streamOf("a"), event: new Opened() }, { streamId: streamOf("a"), event: new Deposited({ amount: 30 }) }])
      .when(new Withdraw({ id: "a", amount: 30 }))
      .then([{ streamId: streamOf("a"), event: new Withdrawn({ amount: 30 }) }]))

  it.effect("passes thenFails with the domain error the executor returns", () =>
    Scenario.executor(account)
      .given([{ streamId: streamOf("a"), event: new Opened() }])
      .when(new Withdraw({ id: "a", amount: 1 }))
      .thenFails(new InsufficientFunds({ balance: 0, requested: 1 })))

  it.effect("history in another stream does not count", () =>
    Scenario.executor(account)
      .given([{ streamId: streamOf("b"), event: new Opened() }])
      .when(new Deposit({ id: "a", amount: 1 }))
      .thenFails((error) => error._tag === "NotOpen"))

  it.effect("fails with ScenarioFailure for a deliberately wrong decider", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(
        Scenario.executor(sloppyAccount)
          .given([{ streamId: streamOf("a"), event: new Opened() }])
          .when(new Withdraw({ id: "a", amount: 5 }))
          .thenFails(new InsufficientFunds({ balance: 0, requested: 5 }))
      )
      expect(failure).toBeInstanceOf(Scenario.ScenarioFailure)
      expect((failure as Scenario.ScenarioFailure).message).toContain("Actual:   events [ { streamId: 'account-a', event: Withdrawn { amount: 5, _tag: 'Withdrawn' } } ]")
    }))
})

describe("Scenario.equivalent and Scenario.diff", () => {
  class Tally extends Data.Class<{ readonly counts: Map<string, number> }> {}
  class Basket extends Schema.Class<Basket>("Basket")({ items: Schema.Array(Schema.String) }) {}

  it("empty and equal Maps and Sets are equivalent, nested or not", () => {
    expect(Scenario.equivalent(new Map(), new Map())).toBe(true)
    expect(Scenario.equivalent(new Set(), new Set())).toBe(true)
    expect(Scenario.equivalent(new Map([["a", new Set([1, 2])]]), new Map([["a", new Set([2, 1])]]))).toBe(true)
    expect(Scenario.equivalent({ byOwner: new Map([["ada", [1, 2]]]) }, { byOwner: new Map([["ada", [1, 2]]]) })).toBe(true)
    expect(Scenario.equivalent(new Tally({ counts: new Map([["x", 1]]) }), new Tally({ counts: new Map([["x", 1]]) }))).toBe(true)
    expect(Scenario.equivalent(new Map([[{ id: 1 }, "one"]]), new Map([[{ id: 1 }, "one"]]))).toBe(true)
  })

  it("Schema classes, Data, Effect values and dates compare by value", () => {
    expect(Scenario.equivalent(new Basket({ items: ["a"] }), new Basket({ items: ["a"] }))).toBe(true)
    expect(Scenario.equivalent(Option.some([1]), Option.some([1]))).toBe(true)
    expect(Scenario.equivalent(Chunk.make(1, 2), Chunk.make(1, 2))).toBe(true)
    expect(Scenario.equivalent(new Date(5), new Date(5))).toBe(true)
    expect(Scenario.equivalent(new Date(5), new Date(6))).toBe(false)
    expect(Scenario.equivalent(Option.some(1), Option.none())).toBe(false)
    expect(Scenario.equivalent(new Basket({ items: ["a"] }), { items: ["a"] })).toBe(false)
  })

  it("different Maps, Sets, arrays and objects are not equivalent, and diff names each differing path", () => {
    expect(Scenario.equivalent(new Map([["a", 1]]), new Map([["a", 2]]))).toBe(false)
    expect(Scenario.equivalent(new Set([1]), new Set([2]))).toBe(false)
    expect(Scenario.equivalent([1, 2], [1, 2, 3])).toBe(false)
    expect(Scenario.diff(
      { items: [1, 2], owner: { name: "Ada" }, counts: new Map([["x", 1], ["y", 2]]), tags: new Set(["a"]) },
      { items: [1, 3], owner: { name: "Bo" }, counts: new Map([["x", 1], ["z", 2]]), tags: new Set(["a"]) }
    )).toEqual([
      { path: ".items[1]", expected: 2, actual: 3 },
      { path: ".owner.name", expected: "Ada", actual: "Bo" },
      { path: ".counts.get('y')", expected: 2, actual: undefined },
      { path: ".counts.get('z')", expected: undefined, actual: 2 }
    ])
    expect(Scenario.diff(new Tally({ counts: new Map([["x", 1]]) }), new Tally({ counts: new Map([["x", 2]]) }))).toEqual([
      { path: ".counts.get('x')", expected: 1, actual: 2 }
    ])
    expect(Scenario.diff(new Set([1, 2]), new Set([1, 3]))).toEqual([
      { path: "{set element}", expected: 2, actual: undefined },
      { path: "{set element}", expected: undefined, actual: 3 }
    ])
    expect(Scenario.diff(5, "5")).toEqual([{ path: "", expected: 5, actual: "5" }])
  })

  it("a cyclic value compares without looping", () => {
    const a: { self?: unknown; n: number } = { n: 1 }
    a.self = a
    const b: { self?: unknown; n: number } = { n: 1 }
    b.self = b
    expect(Scenario.equivalent(a, b)).toBe(true)
  })

  it("a failing then prints the differing paths, not two identical-looking values", () => {
    const scenario = Scenario.decider(account).given([new Opened()]).when(new Deposit({ id: "a", amount: 5 }))
    const failure = Either.getLeft(Either.try(() => scenario.then([new Deposited({ amount: 6 })])))
    expect(Option.isSome(failure)).toBe(true)
    const message = (Option.getOrThrow(failure) as Error).message
    expect(message).toContain("Differences:")
    expect(message).toContain("at [0].event.amount: expected 6, actual 5")
  })

  it("ScenarioFailure is a Schema.TaggedError with its differences", () => {
    const failure = new Scenario.ScenarioFailure({ given: [], command: 1, expected: "x", actual: "y", differences: ["at .a: expected 1, actual 2"] })
    expect(failure._tag).toBe("ScenarioFailure")
    expect(failure.message).toContain("    at .a: expected 1, actual 2")
    expect(new Scenario.ScenarioFailure({ given: [], command: 1, expected: "x", actual: "y" }).differences).toEqual([])
  })
})
