/**
 * The bank's use cases, free of HTTP: each command runs its decider through the
 * `Executor` (read the streams, decide, append, retry on conflict), and the
 * balance query folds the account's stream.
 *
 * Balances are read by folding the stream, one event at a time as the store
 * pages them in. When projections land, `getAccount` reads a projection instead.
 */
import { Effect, Option } from "effect"
import { Executor } from "eventfold"
import type { Account } from "./Domain.ts"
import {
  account,
  AccountId,
  accountIn,
  AccountNotFound,
  accountStream,
  CloseAccount,
  Deposit,
  OpenAccount,
  Transfer,
  transfer as transferDecider,
  TransferId,
  Withdraw
} from "./Domain.ts"

/** What the API shows of an account. `version` is the number of its events. */
export interface AccountView {
  readonly id: AccountId
  readonly owner: string
  readonly status: "open" | "closed"
  readonly balance: number
  readonly version: number
}

/** What a transfer returns: its id and both accounts after it. */
export interface TransferView {
  readonly transferId: TransferId
  readonly amount: number
  readonly from: AccountView
  readonly to: AccountView
}

const view = (id: AccountId, state: Account, version: number): AccountView => ({
  id,
  owner: state.owner,
  status: state.status === "closed" ? "closed" : "open",
  balance: state.balance,
  version
})

const versionOf = (result: Executor.Result<unknown, unknown>, id: AccountId): number =>
  Option.match(Option.fromNullable(result.streams.find((s) => s.streamId === accountStream(id))), {
    onNone: () => 0,
    onSome: (s) => s.version
  })

const runAccount = (command: OpenAccount | Deposit | Withdraw | CloseAccount) =>
  Effect.map(Executor.execute(account, command), (result) =>
    view(command.accountId, result.state, versionOf(result, command.accountId)))

/** Opens an account with a fresh id for `owner`. */
export const openAccount = (owner: string) =>
  Effect.suspend(() => runAccount(new OpenAccount({ accountId: AccountId.make(crypto.randomUUID()), owner }))).pipe(
    Effect.withSpan("bank.openAccount")
  )

/** Pays `amount` cents into an account. */
export const deposit = (accountId: AccountId, amount: number) =>
  runAccount(new Deposit({ accountId, amount })).pipe(Effect.withSpan("bank.deposit"))

/** Pays `amount` cents out of an account. */
export const withdraw = (accountId: AccountId, amount: number) =>
  runAccount(new Withdraw({ accountId, amount })).pipe(Effect.withSpan("bank.withdraw"))

/** Closes an empty account. */
export const closeAccount = (accountId: AccountId) =>
  runAccount(new CloseAccount({ accountId })).pipe(Effect.withSpan("bank.closeAccount"))

/** Moves `amount` cents from one account to another, atomically over both streams. */
export const transfer = (from: AccountId, to: AccountId, amount: number) =>
  Effect.gen(function*() {
    const transferId = yield* Effect.sync(() => TransferId.make(crypto.randomUUID()))
    const result = yield* Executor.execute(transferDecider, new Transfer({ transferId, from, to, amount }))
    return {
      transferId,
      amount,
      from: view(from, accountIn(result.state, from), versionOf(result, from)),
      to: view(to, accountIn(result.state, to), versionOf(result, to))
    } satisfies TransferView
  }).pipe(Effect.withSpan("bank.transfer"))

/**
 * Reads an account by folding its stream; `AccountNotFound` when it has no
 * events.
 */
export const getAccount = (
  accountId: AccountId
): Effect.Effect<
  AccountView,
  AccountNotFound | Executor.LoadError,
  Executor.Executor
> =>
  Effect.gen(function*() {
    // the state a command on this account would be decided on; nothing is decided or appended
    const { state, versions } = yield* Executor.load(account, new CloseAccount({ accountId }))
    const version = versions[0]?.version ?? 0
    if (state.status === "unopened") return yield* Effect.fail(new AccountNotFound({ accountId }))
    return view(accountId, state, version)
  }).pipe(Effect.withSpan("bank.getAccount"))
