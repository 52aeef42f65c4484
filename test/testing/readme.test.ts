/**
 * The snippets of the README section "Testing your domain", word for word, with
 * the account they use. The last test checks that the README still shows exactly
 * these snippets.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Layer, Schema } from "effect"
import { Decider, EventCodec, Executor, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { readFileSync } from "node:fs"

// The account of "A first program", with a Deposit command.
class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}
class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
const codec = EventCodec.make(Schema.Union(Deposited, Withdrawn))

const account = Decider.make({
  codec,
  initialState: 0,
  evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
  streams: (command: Deposit | Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
  decide: (command, balance): Either.Either<ReadonlyArray<Deposited | Withdrawn>, InsufficientFunds> =>
    command._tag === "Deposit"
      ? Either.right([new Deposited({ amount: command.amount })])
      : balance < command.amount
      ? Either.left(new InsufficientFunds({ balance }))
      : Either.right([new Withdrawn({ amount: command.amount })])
})

// ---- README snippets, in order ----

import { Scenario } from "eventfold/testing"

it("withdrawing more than the balance is refused", () =>
  Scenario.decider(account)
    .given([new Deposited({ amount: 10 })])
    .when(new Withdraw({ account: "ada", amount: 11 }))
    .thenFails(new InsufficientFunds({ balance: 10 })))

const ada = StreamId.unsafeMake("account-ada")

it.effect("a withdrawal appends to the account's stream", () =>
  Scenario.executor(account, { store: MemoryEventStore.layer() })
    .given([{ streamId: ada, event: new Deposited({ amount: 100 }) }])
    .when(new Withdraw({ account: "ada", amount: 30 }))
    .then([{ streamId: ada, event: new Withdrawn({ amount: 30 }) }]))

import { Property } from "eventfold/testing"

const commandArbitrary = fc.oneof(
  fc.integer({ min: 1, max: 100 }).map((amount) => new Deposit({ account: "ada", amount })),
  fc.integer({ min: 1, max: 100 }).map((amount) => new Withdraw({ account: "ada", amount })))

// Obviously right, not fast: deposits add; a withdrawal subtracts unless it exceeds the balance.
const balanceModel: Property.Model<Deposit | Withdraw, number, number> = {
  initial: 0,
  apply: (balance, command) =>
    command._tag === "Deposit" ? balance + command.amount : command.amount > balance ? balance : balance - command.amount,
  stateOf: (balance) => balance
}

it.effect("accounts match a plain model", () =>
  Property.check(account, balanceModel, Property.commands(commandArbitrary), Executor.layerOn(MemoryEventStore.layer())))

import { ChaosEventStore, TrackingEventStore } from "eventfold/testing"

const Flaky = ChaosEventStore.layer({ seed: 42, appendConflictRate: 0.3 }).pipe(
  Layer.provideMerge(MemoryEventStore.layer()))
const Tracked = TrackingEventStore.layer.pipe(Layer.provideMerge(Flaky))

it.effect("ten deposits go through a store that conflicts on 30% of appends", () =>
  Effect.gen(function*() {
    for (let i = 0; i < 10; i++) {
      // the executor retries each conflict; withTestClock moves TestClock past its backoff
      yield* Property.withTestClock(Executor.execute(account, new Deposit({ account: "ada", amount: 10 })))
    }
    const faults = yield* ChaosEventStore.faults // what was injected, in order
    const appends = yield* TrackingEventStore.appends // what was stored, in order
    expect(faults.filter((fault) => fault._tag === "Conflict").length).toBeGreaterThan(0)
    expect(appends).toHaveLength(10)
  }).pipe(Effect.provide(Executor.layerOn(Tracked))))

// ---- end of README snippets ----

describe("README: Testing your domain", () => {
  it("shows exactly the snippets of this file, which the tests above run", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8")
    const start = readme.indexOf("## Testing your domain")
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1))
    const snippets = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)
    const self = readFileSync(new URL(import.meta.url), "utf8")
    const begin = "// ---- README snippets, in order ----\n\n"
    const shown = self.slice(self.indexOf(begin) + begin.length, self.indexOf("\n// ---- end of README snippets ----"))
    expect(snippets).toHaveLength(4)
    expect(snippets.join("\n")).toBe(shown)
  })
})
