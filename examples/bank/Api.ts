/**
 * The bank's HTTP API, declared with `@effect/platform`'s `HttpApi`: endpoints,
 * payloads, responses and the status code of every error. The same declaration
 * drives request decoding (a bad body or path is a 400 `HttpApiDecodeError`), the
 * OpenAPI document at `/openapi.json` and the Swagger page at `/docs`.
 *
 * Status codes: 400 bad input, 404 unknown account, 409 conflict (the account
 * kept changing under the command until its retries ran out, or it is already
 * open), 422 a domain rule refused the command, 503 the store is unreachable.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  AccountAlreadyOpen,
  AccountId,
  AccountIsClosed,
  AccountNotFound,
  Amount,
  BalanceNotZero,
  InsufficientFunds,
  SameAccountTransfer,
  TransferId
} from "./Domain.ts"

// ---------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------

/** An account as the API shows it. */
export const AccountView = Schema.Struct({
  id: AccountId,
  owner: Schema.String,
  status: Schema.Literal("open", "closed"),
  balance: Schema.Int.annotations({ description: "Balance in cents" }),
  version: Schema.Int.annotations({ description: "Number of events in the account's stream" })
}).annotations({ identifier: "Account" })

/** A completed transfer and both accounts after it. */
export const TransferView = Schema.Struct({
  transferId: TransferId,
  amount: Amount,
  from: AccountView,
  to: AccountView
}).annotations({ identifier: "Transfer" })

/** Body of `POST /accounts`. */
export const OpenAccountPayload = Schema.Struct({ owner: Schema.NonEmptyTrimmedString })

/** Body of deposits and withdrawals. */
export const AmountPayload = Schema.Struct({ amount: Amount })

/** Body of `POST /transfers`. */
export const TransferPayload = Schema.Struct({ from: AccountId, to: AccountId, amount: Amount })

// ---------------------------------------------------------------------------
// Errors besides the domain's
// ---------------------------------------------------------------------------

/** The command met a concurrent change on every attempt and gave up: try again. */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409, description: "Concurrent changes; retries exhausted" })
) {}

/** The event store cannot be reached. */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()(
  "ServiceUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** Anything else that went wrong on the server (the details are in its log). */
export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

// ---------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------

const id = HttpApiSchema.param("id", AccountId)

/**
 * Open, deposit, withdraw, close and read accounts. The account decider's errors
 * are declared for the whole group: one decider answers every account command.
 */
export class AccountsGroup extends HttpApiGroup.make("accounts")
  .add(
    HttpApiEndpoint.post("open", "/accounts")
      .setPayload(OpenAccountPayload)
      .addSuccess(AccountView, { status: 201 })
      .annotate(OpenApi.Summary, "Open an account (its id is generated)")
  )
  .add(
    HttpApiEndpoint.get("get")`/accounts/${id}`
      .addSuccess(AccountView)
      .annotate(OpenApi.Summary, "Read an account's balance, status and version")
  )
  .add(
    HttpApiEndpoint.post("deposit")`/accounts/${id}/deposits`
      .setPayload(AmountPayload)
      .addSuccess(AccountView)
      .annotate(OpenApi.Summary, "Pay cash in")
  )
  .add(
    HttpApiEndpoint.post("withdraw")`/accounts/${id}/withdrawals`
      .setPayload(AmountPayload)
      .addSuccess(AccountView)
      .annotate(OpenApi.Summary, "Pay cash out")
  )
  .add(
    HttpApiEndpoint.post("close")`/accounts/${id}/close`
      .addSuccess(AccountView)
      .annotate(OpenApi.Summary, "Close an empty account")
  )
  .addError(AccountNotFound, { status: 404 })
  .addError(AccountAlreadyOpen, { status: 409 })
  .addError(AccountIsClosed, { status: 422 })
  .addError(InsufficientFunds, { status: 422 })
  .addError(BalanceNotZero, { status: 422 })
  .annotate(OpenApi.Title, "Accounts")
{}

/** Transfers between two accounts. */
export class TransfersGroup extends HttpApiGroup.make("transfers")
  .add(
    HttpApiEndpoint.post("transfer", "/transfers")
      .setPayload(TransferPayload)
      .addSuccess(TransferView)
      .addError(AccountNotFound, { status: 404 })
      .addError(AccountIsClosed, { status: 422 })
      .addError(InsufficientFunds, { status: 422 })
      .addError(SameAccountTransfer, { status: 422 })
      .annotate(OpenApi.Summary, "Move money between two accounts, atomically")
  )
  .annotate(OpenApi.Title, "Transfers")
{}

/** The bank API. */
export class BankApi extends HttpApi.make("bank")
  .add(AccountsGroup)
  .add(TransfersGroup)
  .addError(Conflict)
  .addError(ServiceUnavailable)
  .addError(InternalError)
  .annotate(OpenApi.Title, "eventfold bank")
  .annotate(OpenApi.Description, "An event-sourced bank: accounts and transfers on eventfold")
{}
