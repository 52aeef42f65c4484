/**
 * The bank domain: accounts and transfers, as pure deciders.
 *
 * Every account is one event stream, `account-<uuid>`. The `account` decider
 * handles commands on one account (open, deposit, withdraw, close); the `transfer`
 * decider moves money between two accounts in one command whose consistency
 * boundary is both streams: it reads both, decides, and appends one event to each
 * in a single atomic write. If either account moved in between, the append fails
 * with `WrongExpectedVersion` and the executor runs the command again, so money is
 * never created nor lost, however many transfers run at once.
 *
 * Nothing here does I/O: the deciders are tested by folding events and deciding.
 */
import { Either, Schema } from "effect"
import { Decider, EventCodec, StreamId } from "eventfold"

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/** An account id: a UUID. */
export const AccountId = Schema.UUID.pipe(
  Schema.brand("AccountId"),
  Schema.annotations({ identifier: "AccountId", description: "An account id (UUID)" })
)
/** An account id: a UUID. */
export type AccountId = typeof AccountId.Type

/** A transfer id: a UUID. */
export const TransferId = Schema.UUID.pipe(
  Schema.brand("TransferId"),
  Schema.annotations({ identifier: "TransferId", description: "A transfer id (UUID)" })
)
/** A transfer id: a UUID. */
export type TransferId = typeof TransferId.Type

/** An amount of money in cents: a positive integer, at most 10^12 (ten billion in units). */
export const Amount = Schema.Int.pipe(
  Schema.positive(),
  Schema.lessThanOrEqualTo(1_000_000_000_000),
  Schema.annotations({ identifier: "Amount", description: "A positive whole number of cents" })
)

/** The stream of one account. */
export const accountStream = (id: AccountId): StreamId.StreamId => StreamId.unsafeMake(`account-${id}`)

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/** An account was opened for `owner`. */
export class AccountOpened extends Schema.TaggedClass<AccountOpened>()("AccountOpened", { owner: Schema.String }) {}
/** Cash was paid in. */
export class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Int }) {}
/** Cash was paid out. */
export class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Int }) {}
/** Money left this account for account `to` (the other half is `TransferredIn` there). */
export class TransferredOut extends Schema.TaggedClass<TransferredOut>()("TransferredOut", {
  transferId: TransferId,
  to: AccountId,
  amount: Schema.Int
}) {}
/** Money arrived from account `from`. */
export class TransferredIn extends Schema.TaggedClass<TransferredIn>()("TransferredIn", {
  transferId: TransferId,
  from: AccountId,
  amount: Schema.Int
}) {}
/** The account was closed; it takes no more money. */
export class AccountClosed extends Schema.TaggedClass<AccountClosed>()("AccountClosed", {}) {}

/** Everything that can happen to an account. */
export const AccountEvent = Schema.Union(AccountOpened, Deposited, Withdrawn, TransferredOut, TransferredIn, AccountClosed)
/** Everything that can happen to an account. */
export type AccountEvent = typeof AccountEvent.Type

/** Stores account events as `type` + JSON and decodes them back. */
export const codec = EventCodec.make(AccountEvent)

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

/** An account as its events leave it. `unopened` is a stream with no events. */
export interface Account {
  readonly status: "unopened" | "open" | "closed"
  readonly owner: string
  readonly balance: number
}

/** The state of an account that was never opened. */
export const unopened: Account = { status: "unopened", owner: "", balance: 0 }

/** Folds one event into an account. */
export const evolveAccount = (account: Account, event: AccountEvent): Account => {
  switch (event._tag) {
    case "AccountOpened":
      return { status: "open", owner: event.owner, balance: 0 }
    case "Deposited":
    case "TransferredIn":
      return { ...account, balance: account.balance + event.amount }
    case "Withdrawn":
    case "TransferredOut":
      return { ...account, balance: account.balance - event.amount }
    case "AccountClosed":
      return { ...account, status: "closed" }
  }
}

// ---------------------------------------------------------------------------
// Errors (domain rules; the HTTP layer maps them to status codes)
// ---------------------------------------------------------------------------

/** No account has this id. */
export class AccountNotFound extends Schema.TaggedError<AccountNotFound>()("AccountNotFound", { accountId: AccountId }) {
  override get message(): string {
    return `Account ${this.accountId} does not exist`
  }
}

/** An account with this id is already open. */
export class AccountAlreadyOpen extends Schema.TaggedError<AccountAlreadyOpen>()("AccountAlreadyOpen", {
  accountId: AccountId
}) {
  override get message(): string {
    return `Account ${this.accountId} is already open`
  }
}

/** The account is closed: no deposit, withdrawal or transfer touches it. */
export class AccountIsClosed extends Schema.TaggedError<AccountIsClosed>()("AccountIsClosed", { accountId: AccountId }) {
  override get message(): string {
    return `Account ${this.accountId} is closed`
  }
}

/** The account holds less than the amount asked for. */
export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  accountId: AccountId,
  balance: Schema.Int,
  requested: Schema.Int
}) {
  override get message(): string {
    return `Account ${this.accountId} holds ${this.balance}, less than the ${this.requested} requested`
  }
}

/** An account is closed only once it is empty. */
export class BalanceNotZero extends Schema.TaggedError<BalanceNotZero>()("BalanceNotZero", {
  accountId: AccountId,
  balance: Schema.Int
}) {
  override get message(): string {
    return `Account ${this.accountId} still holds ${this.balance}; withdraw it before closing`
  }
}

/** A transfer names the same account on both sides. */
export class SameAccountTransfer extends Schema.TaggedError<SameAccountTransfer>()("SameAccountTransfer", {
  accountId: AccountId
}) {
  override get message(): string {
    return `A transfer needs two different accounts, got ${this.accountId} twice`
  }
}

// ---------------------------------------------------------------------------
// Account commands
// ---------------------------------------------------------------------------

/** Open a new account. */
export class OpenAccount extends Schema.TaggedClass<OpenAccount>()("OpenAccount", {
  accountId: AccountId,
  owner: Schema.NonEmptyTrimmedString
}) {}
/** Pay cash in. */
export class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { accountId: AccountId, amount: Amount }) {}
/** Pay cash out. */
export class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { accountId: AccountId, amount: Amount }) {}
/** Close an empty account. */
export class CloseAccount extends Schema.TaggedClass<CloseAccount>()("CloseAccount", { accountId: AccountId }) {}

/** A command on one account. */
export type AccountCommand = OpenAccount | Deposit | Withdraw | CloseAccount

/** Fails unless the account is open. */
const requireOpen = (
  accountId: AccountId,
  account: Account
): Either.Either<Account, AccountNotFound | AccountIsClosed> => {
  switch (account.status) {
    case "unopened":
      return Either.left(new AccountNotFound({ accountId }))
    case "closed":
      return Either.left(new AccountIsClosed({ accountId }))
    case "open":
      return Either.right(account)
  }
}

/** One account: its stream is the consistency boundary. */
export const account = Decider.make({
  name: "Account",
  codec,
  initialState: unopened,
  evolve: evolveAccount,
  streams: (command: AccountCommand) => accountStream(command.accountId),
  decide: (
    command,
    state
  ): Either.Either<
    ReadonlyArray<AccountEvent>,
    AccountNotFound | AccountAlreadyOpen | AccountIsClosed | InsufficientFunds | BalanceNotZero
  > => {
    switch (command._tag) {
      case "OpenAccount":
        return state.status === "unopened"
          ? Either.right([new AccountOpened({ owner: command.owner })])
          : Either.left(new AccountAlreadyOpen({ accountId: command.accountId }))
      case "Deposit":
        return Either.map(requireOpen(command.accountId, state), () => [new Deposited({ amount: command.amount })])
      case "Withdraw":
        return Either.flatMap(requireOpen(command.accountId, state), (open) =>
          open.balance < command.amount
            ? Either.left(
              new InsufficientFunds({ accountId: command.accountId, balance: open.balance, requested: command.amount })
            )
            : Either.right([new Withdrawn({ amount: command.amount })]))
      case "CloseAccount":
        return Either.flatMap(requireOpen(command.accountId, state), (open) =>
          open.balance !== 0
            ? Either.left(new BalanceNotZero({ accountId: command.accountId, balance: open.balance }))
            : Either.right([new AccountClosed()]))
    }
  }
})

// ---------------------------------------------------------------------------
// Transfers: one command over two streams
// ---------------------------------------------------------------------------

/** Move `amount` from account `from` to account `to`. */
export class Transfer extends Schema.TaggedClass<Transfer>()("Transfer", {
  transferId: TransferId,
  from: AccountId,
  to: AccountId,
  amount: Amount
}) {}

/** Both accounts of a transfer, by stream id. */
export type Accounts = Readonly<Record<StreamId.StreamId, Account>>

/** The account of `id` in a transfer's state. */
export const accountIn = (accounts: Accounts, id: AccountId): Account => accounts[accountStream(id)] ?? unopened

/**
 * A transfer: its consistency boundary is both accounts' streams. It appends
 * `TransferredOut` to the source and `TransferredIn` to the target, atomically.
 */
export const transfer = Decider.make({
  name: "Transfer",
  codec,
  initialState: {} as Accounts,
  evolve: (accounts, event, streamId) => ({ ...accounts, [streamId]: evolveAccount(accounts[streamId] ?? unopened, event) }),
  streams: (command: Transfer) => [accountStream(command.from), accountStream(command.to)],
  decide: (
    command,
    accounts
  ): Either.Either<
    ReadonlyArray<Decider.EventFor<AccountEvent>>,
    SameAccountTransfer | AccountNotFound | AccountIsClosed | InsufficientFunds
  > => {
    if (command.from === command.to) return Either.left(new SameAccountTransfer({ accountId: command.from }))
    return Either.gen(function*() {
      const source = yield* requireOpen(command.from, accountIn(accounts, command.from))
      yield* requireOpen(command.to, accountIn(accounts, command.to))
      if (source.balance < command.amount) {
        return yield* Either.left(
          new InsufficientFunds({ accountId: command.from, balance: source.balance, requested: command.amount })
        )
      }
      const { amount, from, to, transferId } = command
      return [
        { streamId: accountStream(from), event: new TransferredOut({ transferId, to, amount }) },
        { streamId: accountStream(to), event: new TransferredIn({ transferId, from, amount }) }
      ]
    })
  }
})
