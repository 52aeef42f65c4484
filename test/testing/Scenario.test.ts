import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
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
