import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { Decider } from "eventfold"
import {
  account,
  accountStream,
  AlreadyOpen,
  codec,
  Deposit,
  Deposited,
  InsufficientFunds,
  Open,
  Opened,
  Transfer,
  transfer,
  Withdraw,
  Withdrawn
} from "./fixtures/bank.ts"

const ada = accountStream("ada")
const bob = accountStream("bob")
const history = (...events: ReadonlyArray<Opened | Deposited | Withdrawn>) => events.map((event) => ({ streamId: ada, event }))

describe("Decider", () => {
  it("make keeps the given name and names an unnamed decider \"Decider\"", () => {
    expect(account.name).toBe("Account")
    const unnamed = Decider.make({
      codec,
      initialState: 0,
      evolve: (n) => n + 1,
      streams: (_: "count") => ada,
      decide: () => Either.right([])
    })
    expect(unnamed.name).toBe("Decider")
    expect(unnamed.discover).toBeUndefined()
  })

  it("fold evolves the initial state through the events in order", () => {
    const state = Decider.fold(account, history(
      new Opened({ owner: "Ada", feeAccount: "fees" }),
      new Deposited({ amount: 100 }),
      new Withdrawn({ amount: 30 })
    ))
    expect(state).toEqual({ opened: true, balance: 70, feeAccount: "fees" })
  })

  it("fold continues from a given state", () => {
    const state = Decider.fold(account, history(new Deposited({ amount: 5 })), { opened: true, balance: 10, feeAccount: null })
    expect(state.balance).toBe(15)
  })

  it("fold passes each event's stream to evolve, so a multi-stream state tells accounts apart", () => {
    const state = Decider.fold(transfer, [
      { streamId: ada, event: new Opened({ owner: "Ada", feeAccount: null }) },
      { streamId: bob, event: new Opened({ owner: "Bob", feeAccount: null }) },
      { streamId: bob, event: new Deposited({ amount: 9 }) }
    ])
    expect(state).toEqual({
      [ada]: { opened: true, balance: 0, feeAccount: null },
      [bob]: { opened: true, balance: 9, feeAccount: null }
    })
  })

  it("decide is pure: it returns the events or the domain error for a folded state", () => {
    const state = Decider.fold(account, history(new Opened({ owner: "Ada", feeAccount: null }), new Deposited({ amount: 20 })))
    expect(account.decide(new Withdraw({ id: "ada", amount: 5 }), state)).toEqual(Either.right([new Withdrawn({ amount: 5 })]))
    expect(account.decide(new Withdraw({ id: "ada", amount: 25 }), state)).toEqual(
      Either.left(new InsufficientFunds({ account: "ada", balance: 20, requested: 25 }))
    )
    expect(account.decide(new Open({ id: "ada", owner: "Ada", feeAccount: null }), state)).toEqual(
      Either.left(new AlreadyOpen({ account: "ada" }))
    )
    expect(account.decide(new Deposit({ id: "ada", amount: 1 }), state)).toEqual(Either.right([new Deposited({ amount: 1 })]))
  })

  it("streamsOf lists one stream for a single id and drops repeats from a list", () => {
    expect(Decider.streamsOf(account, new Deposit({ id: "ada", amount: 1 }))).toEqual(["account-ada"])
    expect(Decider.streamsOf(transfer, new Transfer({ from: "ada", to: "ada", amount: 1 }))).toEqual(["account-ada"])
    expect(Decider.streamsOf(transfer, new Transfer({ from: "ada", to: "bob", amount: 1 }))).toEqual(["account-ada", "account-bob"])
  })

  it("isEventFor tells an event naming its stream from a bare event", () => {
    expect(Decider.isEventFor({ streamId: ada, event: new Deposited({ amount: 1 }) })).toBe(true)
    expect(Decider.isEventFor(new Deposited({ amount: 1 }))).toBe(false)
  })
})
