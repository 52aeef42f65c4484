/**
 * The benchmark's domain: an account whose events carry an amount. eventfold
 * decodes them with a `Schema` codec and folds them with a `Decider`; the raw
 * baselines `JSON.parse` the same rows and fold them by hand.
 */
import { Either, Schema } from "effect"
import type { Event } from "eventfold"
import { Decider, EventCodec, StreamId } from "eventfold"

/**
 * Events are plain tagged structs, like the objects the raw baseline gets from
 * `JSON.parse`. (The same events as `Schema.TaggedClass`es are below: decoding
 * then also constructs a class instance per event, which case 1b measures.)
 */
export const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.Number })
export const Withdrawn = Schema.TaggedStruct("Withdrawn", { amount: Schema.Number })
export const AccountEvent = Schema.Union(Deposited, Withdrawn)
export type AccountEvent = typeof AccountEvent.Type

/** The codec every eventfold case reads and writes with. */
export const codec = EventCodec.make(AccountEvent)

export class DepositedClass extends Schema.TaggedClass<DepositedClass>()("Deposited", { amount: Schema.Number }) {}
export class WithdrawnClass extends Schema.TaggedClass<WithdrawnClass>()("Withdrawn", { amount: Schema.Number }) {}

/** The same events decoded to `Schema.TaggedClass` instances. */
export const classCodec = EventCodec.make(Schema.Union(DepositedClass, WithdrawnClass))

/** The `i`-th (0-based) event of a generated stream: every fifth is a withdrawal. */
export const eventAt = (i: number): AccountEvent =>
  i % 5 === 4 ? Withdrawn.make({ amount: i % 7 }) : Deposited.make({ amount: i % 100 })

/** The stored `type` and `data` of {@link eventAt}, as a raw writer produces them. */
export const rawEventAt = (i: number): { readonly type: string; readonly data: string } =>
  i % 5 === 4
    ? { type: "Withdrawn", data: JSON.stringify({ amount: i % 7 }) }
    : { type: "Deposited", data: JSON.stringify({ amount: i % 100 }) }

/** The balance after events `0 .. n-1`. */
export const expectedSum = (n: number): number => {
  let sum = 0
  for (let i = 0; i < n; i++) sum += i % 5 === 4 ? -(i % 7) : i % 100
  return sum
}

/** Folds a decoded event into a balance. */
export const evolve = (balance: number, event: AccountEvent): number =>
  event._tag === "Deposited" ? balance + event.amount : balance - event.amount

/** The raw baselines' fold: the row's `type` and its parsed `data`. */
export const evolveRaw = (balance: number, type: string, data: string): number => {
  const parsed = JSON.parse(data) as { amount: number }
  return type === "Deposited" ? balance + parsed.amount : balance - parsed.amount
}

/** A deterministic, index-ordered event id (fast to index when filling big streams). */
export const sequentialEventId = (i: number, prefix = 0): Event.EventId =>
  `${prefix.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}` as Event.EventId

/** Deposit into an account. */
export class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}

/** The account's stream. */
export const accountStream = (account: string): StreamId.StreamId => StreamId.unsafeMake(`account-${account}`)

/** The command model of cases 5, 6 and the memory run: fold the balance, append one deposit. */
export const account = Decider.make({
  name: "BenchAccount",
  codec,
  initialState: 0,
  evolve,
  streams: (command: Deposit) => accountStream(command.account),
  decide: (command, _balance: number) => Either.right([Deposited.make({ amount: command.amount })])
})
