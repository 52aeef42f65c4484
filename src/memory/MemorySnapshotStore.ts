/**
 * An in-memory `SnapshotStore`, for tests and for the memory event store.
 *
 * @example
 * ```ts
 * import { Effect, Either, Layer, Schema } from "effect"
 * import { Decider, EventCodec, Executor, Snapshot, StreamId } from "eventfold"
 * import { MemoryEventStore, MemorySnapshotStore } from "eventfold/memory"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
 * class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}
 * class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
 * class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
 *
 * const account = Decider.make({
 *   codec: EventCodec.make(Schema.Union(Deposited, Withdrawn)),
 *   initialState: 0,
 *   evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
 *   streams: (command: Deposit | Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
 *   decide: (command, balance) =>
 *     command._tag === "Deposit"
 *       ? Either.right([new Deposited({ amount: command.amount })])
 *       : balance < command.amount
 *       ? Either.left(new InsufficientFunds({ balance }))
 *       : Either.right([new Withdrawn({ amount: command.amount })])
 * })
 *
 * const program = Executor.execute(Snapshot.enable(account, { schema: Schema.Number, version: 1, every: 1 }), new Deposit({ account: "ada", amount: 10 }))
 *
 * // the executor finds the snapshot store in the layer it runs on
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(Layer.merge(MemoryEventStore.layer(), MemorySnapshotStore.layer())))))
 * ```
 *
 * @since 0.2.0
 */
import * as Layer from "effect/Layer"
import type * as Effect from "effect/Effect"
import { SnapshotStore } from "../Snapshot.ts"
import * as internal from "./internal/snapshots.ts"

/**
 * Creates an empty in-memory snapshot store.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (): Effect.Effect<SnapshotStore.Service> => internal.make

/**
 * A layer with a fresh, empty in-memory snapshot store.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (): Layer.Layer<SnapshotStore> => Layer.effect(SnapshotStore, make())
