/**
 * An `EventStore` wrapper that records every successful append, for assertions
 * such as "this command appended exactly these events to these streams".
 *
 * @example
 * ```ts
 * import { Effect, Either, Layer, Schema } from "effect"
 * import { Decider, EventCodec, Executor, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 * import { TrackingEventStore } from "eventfold/testing"
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
 * const StoreLive = TrackingEventStore.layer.pipe(Layer.provideMerge(MemoryEventStore.layer()))
 *
 * const program = Effect.gen(function*() {
 *   yield* Executor.execute(account, new Deposit({ account: "ada", amount: 10 }))
 *   const appends = yield* TrackingEventStore.appends
 *   assert.deepStrictEqual(appends.flatMap((a) => a.writes.map((w) => w.streamId)), ["account-ada"])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(StoreLive))))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type { EventData } from "../Event.ts"
import type { AppendResult } from "../EventStore.ts"
import { EventStore, writesOf } from "../EventStore.ts"
import type { ExpectedVersion } from "../ExpectedVersion.ts"
import type { StreamId } from "../StreamId.ts"

/**
 * One stream's part of a recorded append: the versions its events got.
 *
 * @since 0.1.0
 * @category models
 */
export interface TrackedWrite {
  readonly streamId: StreamId
  readonly expected: ExpectedVersion
  /** The version of the first event of this write; for zero events, the version after the write plus one. */
  readonly firstVersion: number
  readonly events: ReadonlyArray<EventData>
}

/**
 * One successful append: its writes, in order, and what the store returned.
 *
 * @since 0.1.0
 * @category models
 */
export interface TrackedAppend {
  readonly writes: ReadonlyArray<TrackedWrite>
  readonly result: AppendResult
}

/**
 * Access to what a tracking store recorded.
 *
 * @since 0.1.0
 * @category services
 */
export class Tracking extends Context.Tag("eventfold/testing/Tracking")<Tracking, {
  /** Every successful append since the store was made (or last cleared), oldest first. */
  readonly appends: Effect.Effect<ReadonlyArray<TrackedAppend>>
  /** Forgets what was recorded so far. */
  readonly clear: Effect.Effect<void>
}>() {}

/**
 * Wraps a store so that its successful appends are recorded.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (store: EventStore.Service): Effect.Effect<{
  readonly store: EventStore.Service
  readonly tracking: Tracking["Type"]
}> =>
  Effect.map(Ref.make<ReadonlyArray<TrackedAppend>>([]), (recorded) => {
    const append: EventStore.Service["append"] = (input) =>
      Effect.tap(store.append(input), (result) => {
        const writes = writesOf(input).map((write, i): TrackedWrite => {
          const version = result.streams[i]?.version ?? 0
          return {
            streamId: write.streamId,
            expected: write.expected,
            firstVersion: version - write.events.length + 1,
            events: write.events
          }
        })
        return Ref.update(recorded, (all) => [...all, { writes, result }])
      })
    return {
      store: EventStore.of({ read: store.read, readAll: store.readAll, append, readSide: store.readSide }),
      tracking: Tracking.of({ appends: Ref.get(recorded), clear: Ref.set(recorded, []) })
    }
  })

/**
 * Replaces the `EventStore` in context with a tracking wrapper and provides
 * `Tracking`. Compose it over any store layer:
 * `TrackingEventStore.layer.pipe(Layer.provide(MemoryEventStore.layer()))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<EventStore | Tracking, never, EventStore> = Layer.effectContext(
  Effect.gen(function*() {
    const { store, tracking } = yield* make(yield* EventStore)
    return Context.make(EventStore, store).pipe(Context.add(Tracking, tracking))
  })
)

/**
 * Every append recorded by the tracking store in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const appends: Effect.Effect<ReadonlyArray<TrackedAppend>, never, Tracking> = Effect.flatMap(
  Tracking,
  (tracking) => tracking.appends
)

/**
 * Forgets what the tracking store in context recorded.
 *
 * @since 0.1.0
 * @category accessors
 */
export const clear: Effect.Effect<void, never, Tracking> = Effect.flatMap(Tracking, (tracking) => tracking.clear)
