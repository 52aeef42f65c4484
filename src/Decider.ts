/**
 * The pure command model. A `Decider` says which streams a command needs (its
 * consistency boundary), how their events fold into a state, and what events the
 * command produces from that state, or which domain error it is rejected with.
 * Everything here is a plain function: a decider is tested without a store, a
 * clock or a fiber. The `Executor` runs it against an `EventStore`.
 *
 * @example
 * ```ts
 * import { Either, Schema } from "effect"
 * import { Decider, EventCodec, StreamId } from "eventfold"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 * class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
 * class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
 *
 * const account = Decider.make({
 *   codec: EventCodec.make(Schema.Union(Deposited, Withdrawn)),
 *   initialState: 0,
 *   evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
 *   streams: (command: Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
 *   decide: (command, balance) =>
 *     balance < command.amount
 *       ? Either.left(new InsufficientFunds({ balance }))
 *       : Either.right([new Withdrawn({ amount: command.amount })]) // one stream: no need to name it
 * })
 *
 * // plain functions: fold a history, decide
 * const ada = StreamId.unsafeMake("account-ada")
 * const balance = Decider.fold(account, [{ streamId: ada, event: new Deposited({ amount: 100 }) }])
 * assert.deepStrictEqual(account.decide(new Withdraw({ account: "ada", amount: 30 }), balance), Either.right([new Withdrawn({ amount: 30 })]))
 * assert.deepStrictEqual(account.decide(new Withdraw({ account: "ada", amount: 300 }), balance), Either.left(new InsufficientFunds({ balance: 100 })))
 * ```
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import type { EventCodec } from "./EventCodec.ts"
import type { StreamId } from "./StreamId.ts"

/**
 * What every event type has: a `_tag` naming its case (a `Schema.TaggedClass` or
 * `Data.TaggedClass` has one).
 *
 * @since 0.2.0
 * @category models
 */
export interface Tagged {
  readonly _tag: string
}

/**
 * An event together with the stream it goes to. Multi-stream deciders return
 * these from `decide`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventFor<E> {
  readonly streamId: StreamId
  readonly event: E
}

/**
 * One element of what `decide` returns: an event naming its stream, or a bare
 * event, which goes to the command's primary stream (the first one `streams`
 * returns).
 *
 * @since 0.1.0
 * @category models
 */
export type Decision<E> = E | EventFor<E>

/**
 * A command model over commands `C`, state `S`, events `E` and domain errors `Err`.
 * All functions are pure.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decider<C, S, E extends Tagged, Err = never> {
  /** A name for traces and metrics, e.g. `"Account"`. */
  readonly name: string
  /** Encodes the events `decide` produces and decodes the events read. */
  readonly codec: EventCodec<E>
  /** The state before any event. */
  readonly initialState: S
  /**
   * Folds one event of stream `streamId` into the state. Single-stream deciders can
   * ignore `streamId`. Events of several streams are folded stream after stream,
   * so `evolve` must not depend on how streams interleave.
   */
  readonly evolve: (state: S, event: E, streamId: StreamId) => S
  /**
   * The streams the command reads and may write: its consistency boundary. The
   * first one is the primary stream, where bare events go.
   */
  readonly streams: (command: C) => StreamId | ReadonlyArray<StreamId>
  /**
   * Streams learnt from the state once the known streams are read (a transfer
   * learns the fee account from the source account). Called again after each round
   * of new streams until it names no stream that has not been read.
   */
  readonly discover?: ((command: C, state: S) => ReadonlyArray<StreamId>) | undefined
  /** What the command produces from the folded state, or why it is rejected. */
  readonly decide: (command: C, state: S) => Either.Either<ReadonlyArray<Decision<E>>, Err>
}

/**
 * What {@link make} takes: a decider whose `name` is optional. `Decision` is the
 * type `decide` returns, from which the domain error type is read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<C, S, E extends Tagged, Decided> {
  readonly name?: string
  readonly codec: EventCodec<E>
  readonly initialState: S
  readonly evolve: (state: S, event: NoInfer<E>, streamId: StreamId) => S
  readonly streams: (command: C) => StreamId | ReadonlyArray<StreamId>
  readonly discover?: (command: NoInfer<C>, state: NoInfer<S>) => ReadonlyArray<StreamId>
  readonly decide: (command: NoInfer<C>, state: NoInfer<S>) => Decided
}

/**
 * The domain error type of what `decide` returns (`never` when it never rejects).
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorOf<Decided> = Decided extends Either.Either<unknown, infer Err> ? Err : never

/**
 * Builds a decider. The event type comes from the codec, the command type from
 * `streams`, the domain error type from what `decide` returns.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  C,
  S,
  E extends Tagged,
  Decided extends Either.Either<ReadonlyArray<Decision<E>>, unknown>
>(
  definition: Definition<C, S, E, Decided>
): Decider<C, S, E, ErrorOf<Decided>> => ({
  name: definition.name ?? "Decider",
  codec: definition.codec,
  initialState: definition.initialState,
  evolve: definition.evolve,
  streams: definition.streams,
  discover: definition.discover,
  decide: definition.decide as Decider<C, S, E, ErrorOf<Decided>>["decide"]
})

/**
 * Folds events of their streams into a state, from `initialState` unless a state
 * is given. Handy in tests:
 * `decider.decide(command, Decider.fold(decider, [{ streamId, event }]))`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const fold = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  events: Iterable<EventFor<E>>,
  state: S = decider.initialState
): S => {
  let folded = state
  for (const { event, streamId } of events) folded = decider.evolve(folded, event, streamId)
  return folded
}

/**
 * The streams a command reads, as a list without repeats, primary stream first.
 *
 * @since 0.1.0
 * @category combinators
 */
export const streamsOf = <C, S, E extends Tagged, Err>(
  decider: Decider<C, S, E, Err>,
  command: C
): ReadonlyArray<StreamId> => {
  const declared = decider.streams(command)
  if (typeof declared === "string") return [declared]
  return [...new Set(declared)]
}

/**
 * Whether a decision names its stream (`{ streamId, event }`) rather than being a
 * bare event (which carries a `_tag`).
 *
 * @since 0.1.0
 * @category refinements
 */
export const isEventFor = <E extends Tagged>(decision: Decision<E>): decision is EventFor<E> =>
  !("_tag" in decision) && "streamId" in decision && "event" in decision
