/**
 * Scenario tests of the bank's deciders: given past events, when a command,
 * then these events or this error. Pure: no store, no clock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Scenario } from "eventfold/testing"
import {
  account,
  AccountAlreadyOpen,
  AccountClosed,
  AccountId,
  AccountIsClosed,
  AccountNotFound,
  AccountOpened,
  accountStream,
  BalanceNotZero,
  CloseAccount,
  Deposit,
  Deposited,
  InsufficientFunds,
  OpenAccount,
  SameAccountTransfer,
  Transfer,
  transfer,
  TransferId,
  TransferredIn,
  TransferredOut,
  Withdraw,
  Withdrawn
} from "./Domain.ts"

const ada = AccountId.make("00000000-0000-4000-8000-00000000000a")
const bob = AccountId.make("00000000-0000-4000-8000-00000000000b")
const t1 = TransferId.make("00000000-0000-4000-8000-0000000000f1")

describe("account decider", () => {
  it("opens an unopened account for its owner", () => {
    Scenario.decider(account).when(new OpenAccount({ accountId: ada, owner: "Ada" })).then([
      new AccountOpened({ owner: "Ada" })
    ])
  })

  it("refuses to open an account twice with AccountAlreadyOpen", () => {
    Scenario.decider(account).given([new AccountOpened({ owner: "Ada" })])
      .when(new OpenAccount({ accountId: ada, owner: "Ada" }))
      .thenFails(new AccountAlreadyOpen({ accountId: ada }))
  })

  it("deposits into an open account", () => {
    Scenario.decider(account).given([new AccountOpened({ owner: "Ada" })])
      .when(new Deposit({ accountId: ada, amount: 250 }))
      .then([new Deposited({ amount: 250 })])
  })

  it("refuses a deposit into an account that does not exist or is closed", () => {
    Scenario.decider(account).when(new Deposit({ accountId: ada, amount: 1 })).thenFails(new AccountNotFound({ accountId: ada }))
    Scenario.decider(account).given([new AccountOpened({ owner: "Ada" }), new AccountClosed()])
      .when(new Deposit({ accountId: ada, amount: 1 }))
      .thenFails(new AccountIsClosed({ accountId: ada }))
  })

  it("withdraws up to the balance, counting transfers in and out", () => {
    const history = [
      new AccountOpened({ owner: "Ada" }),
      new Deposited({ amount: 100 }),
      new TransferredIn({ transferId: t1, from: bob, amount: 50 }),
      new TransferredOut({ transferId: t1, to: bob, amount: 30 }),
      new Withdrawn({ amount: 20 })
    ]
    Scenario.decider(account).given(history).when(new Withdraw({ accountId: ada, amount: 100 })).then([
      new Withdrawn({ amount: 100 })
    ])
    Scenario.decider(account).given(history).when(new Withdraw({ accountId: ada, amount: 101 })).thenFails(
      new InsufficientFunds({ accountId: ada, balance: 100, requested: 101 })
    )
  })

  it("refuses a withdrawal from an account that does not exist or is closed", () => {
    Scenario.decider(account).when(new Withdraw({ accountId: ada, amount: 1 })).thenFails(new AccountNotFound({ accountId: ada }))
    Scenario.decider(account).given([new AccountOpened({ owner: "Ada" }), new AccountClosed()])
      .when(new Withdraw({ accountId: ada, amount: 1 }))
      .thenFails(new AccountIsClosed({ accountId: ada }))
  })

  it("closes an empty account, and refuses while it holds money, twice, or when it does not exist", () => {
    Scenario.decider(account).given([new AccountOpened({ owner: "Ada" }), new Deposited({ amount: 5 }), new Withdrawn({ amount: 5 })])
      .when(new CloseAccount({ accountId: ada }))
      .then([new AccountClosed()])
    Scenario.decider(account).given([new AccountOpened({ owner: "Ada" }), new Deposited({ amount: 5 })])
      .when(new CloseAccount({ accountId: ada }))
      .thenFails(new BalanceNotZero({ accountId: ada, balance: 5 }))
    Scenario.decider(account).given([new AccountOpened({ owner: "Ada" }), new AccountClosed()])
      .when(new CloseAccount({ accountId: ada }))
      .thenFails(new AccountIsClosed({ accountId: ada }))
    Scenario.decider(account).when(new CloseAccount({ accountId: ada })).thenFails(new AccountNotFound({ accountId: ada }))
  })

  it("rejects a non-positive or fractional amount when the command is built", () => {
    expect(() => new Deposit({ accountId: ada, amount: 0 })).toThrow(/positive/)
    expect(() => new Withdraw({ accountId: ada, amount: 1.5 })).toThrow(/integer/)
  })
})

describe("transfer decider", () => {
  const opened = (id: AccountId, owner: string, balance: number) => [
    { streamId: accountStream(id), event: new AccountOpened({ owner }) },
    ...(balance > 0 ? [{ streamId: accountStream(id), event: new Deposited({ amount: balance }) }] : [])
  ]
  const move = (amount: number) => new Transfer({ transferId: t1, from: ada, to: bob, amount })

  it("reads both accounts and moves the money with one event in each stream", () => {
    expect(transfer.streams(move(1))).toEqual([accountStream(ada), accountStream(bob)])
    Scenario.decider(transfer).given([...opened(ada, "Ada", 100), ...opened(bob, "Bob", 0)]).when(move(100)).then([
      { streamId: accountStream(ada), event: new TransferredOut({ transferId: t1, to: bob, amount: 100 }) },
      { streamId: accountStream(bob), event: new TransferredIn({ transferId: t1, from: ada, amount: 100 }) }
    ])
  })

  it("refuses more than the source holds with InsufficientFunds", () => {
    Scenario.decider(transfer).given([...opened(ada, "Ada", 100), ...opened(bob, "Bob", 500)]).when(move(101)).thenFails(
      new InsufficientFunds({ accountId: ada, balance: 100, requested: 101 })
    )
  })

  it("refuses when either account does not exist", () => {
    Scenario.decider(transfer).given(opened(bob, "Bob", 500)).when(move(1)).thenFails(new AccountNotFound({ accountId: ada }))
    Scenario.decider(transfer).given(opened(ada, "Ada", 500)).when(move(1)).thenFails(new AccountNotFound({ accountId: bob }))
  })

  it("refuses when either account is closed", () => {
    const closed = (id: AccountId) => ({ streamId: accountStream(id), event: new AccountClosed() })
    Scenario.decider(transfer).given([...opened(ada, "Ada", 0), closed(ada), ...opened(bob, "Bob", 0)]).when(move(1))
      .thenFails(new AccountIsClosed({ accountId: ada }))
    Scenario.decider(transfer).given([...opened(ada, "Ada", 10), ...opened(bob, "Bob", 0), closed(bob)]).when(move(1))
      .thenFails(new AccountIsClosed({ accountId: bob }))
  })

  it("refuses a transfer from an account to itself", () => {
    Scenario.decider(transfer).given(opened(ada, "Ada", 10))
      .when(new Transfer({ transferId: t1, from: ada, to: ada, amount: 1 }))
      .thenFails(new SameAccountTransfer({ accountId: ada }))
  })

  it.effect("through the executor, appends to both streams and leaves the source with 60 and the target with 40", () =>
    Scenario.executor(transfer).given([...opened(ada, "Ada", 100), ...opened(bob, "Bob", 0)]).when(move(40)).then([
      { streamId: accountStream(ada), event: new TransferredOut({ transferId: t1, to: bob, amount: 40 }) },
      { streamId: accountStream(bob), event: new TransferredIn({ transferId: t1, from: ada, amount: 40 }) }
    ]).pipe(Effect.orDie))
})
