/**
 * An `EventStore` wrapper that injects faults from a seeded random source:
 * spurious `WrongExpectedVersion` conflicts (on appends that check an expected
 * version) and `StoreUnavailable` failures on append, reads that fail part-way through, and delays (which run on the Effect
 * clock, so `TestClock` controls them).
 *
 * The same seed and the same sequence of operations give the same faults, every
 * run: each operation draws a fixed number of random numbers in a fixed order.
 * (Operations that race each other may draw in a different order.)
 *
 * @example
 * ```ts
 * import { Effect, Either, Layer, Schedule, Schema } from "effect"
 * import { Decider, EventCodec, Executor, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 * import { ChaosEventStore } from "eventfold/testing"
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
 * // 30% of appends fail with a spurious conflict, the same ones for the same seed
 * const Flaky = ChaosEventStore.layer({ seed: 42, appendConflictRate: 0.3 }).pipe(
 *   Layer.provide(MemoryEventStore.layer())
 * )
 *
 * const program = Effect.gen(function*() {
 *   for (let i = 0; i < 10; i++) yield* Executor.execute(account, new Deposit({ account: "ada", amount: 10 }))
 *   const { state } = yield* Executor.load(account, new Deposit({ account: "ada", amount: 0 }))
 *   assert.strictEqual(state, 100) // every deposit landed once, conflicts or not
 *   const faults = yield* ChaosEventStore.faults
 *   assert.ok(faults.every((fault) => fault._tag === "Conflict"))
 * })
 *
 * // retried at once on conflict, up to 20 times
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(Flaky, { retry: Schedule.recurs(20) }))))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { EventStore, writesOf } from "../EventStore.ts"
import type { StreamId } from "../StreamId.ts"
import { InvalidArgument, StoreUnavailable, WrongExpectedVersion } from "../StoreError.ts"
import type { StoredEvent } from "../Event.ts"

/**
 * How often each fault happens; every rate is a probability from 0 to 1 and
 * defaults to 0.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly seed: number | string
  /**
   * An append fails with `WrongExpectedVersion` without reaching the store. Only
   * appends with at least one write whose expected version is not `Any` can
   * conflict (an `Any` write never conflicts in a real store); the conflict names
   * one of those writes.
   */
  readonly appendConflictRate?: number
  /** An append fails with `StoreUnavailable` without reaching the store. */
  readonly appendFailureRate?: number
  /** A read or readAll fails with `StoreUnavailable` after 0 to `readFailureMaxEvents` events. */
  readonly readFailureRate?: number
  /** Default 10. */
  readonly readFailureMaxEvents?: number
  /** An operation is delayed by up to `maxDelay` before it starts. */
  readonly delayRate?: number
  /** Default 100 millis. */
  readonly maxDelay?: Duration.DurationInput
}

/**
 * A fault that was injected.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault =
  | { readonly _tag: "Conflict"; readonly streamId: StreamId }
  | { readonly _tag: "AppendUnavailable" }
  | { readonly _tag: "ReadUnavailable"; readonly operation: "read" | "readAll"; readonly afterEvents: number }
  | { readonly _tag: "Delay"; readonly operation: "read" | "readAll" | "append"; readonly millis: number }

/**
 * The log of injected faults.
 *
 * @since 0.1.0
 * @category services
 */
export class Chaos extends Context.Tag("eventfold/testing/Chaos")<Chaos, {
  /** Every fault injected so far, oldest first. */
  readonly faults: Effect.Effect<ReadonlyArray<Fault>>
}>() {}

const rate = (name: string, value: number | undefined): Effect.Effect<number, InvalidArgument> => {
  const r = value ?? 0
  return r >= 0 && r <= 1
    ? Effect.succeed(r)
    : Effect.fail(new InvalidArgument({ operation: "ChaosEventStore", reason: `${name} must be between 0 and 1, got ${r}` }))
}

/**
 * Wraps a store with fault injection. A rate outside [0, 1] fails with
 * `InvalidArgument`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (store: EventStore.Service, options: Options): Effect.Effect<{
  readonly store: EventStore.Service
  readonly chaos: Chaos["Type"]
}, InvalidArgument> =>
  Effect.gen(function*() {
    const random = Random.make(options.seed)
    const log = yield* Ref.make<ReadonlyArray<Fault>>([])
    const record = (fault: Fault) => Ref.update(log, (faults) => [...faults, fault])
    const conflictRate = yield* rate("appendConflictRate", options.appendConflictRate)
    const appendFailureRate = yield* rate("appendFailureRate", options.appendFailureRate)
    const readFailureRate = yield* rate("readFailureRate", options.readFailureRate)
    const delayRate = yield* rate("delayRate", options.delayRate)
    const maxEvents = Math.max(0, Math.floor(options.readFailureMaxEvents ?? 10))
    const maxDelayMillis = Duration.toMillis(Duration.decode(options.maxDelay ?? Duration.millis(100)))

    /** Draws whether and how long to delay; always two draws. */
    const delay = (operation: "read" | "readAll" | "append") =>
      Effect.gen(function*() {
        const roll = yield* random.next
        const size = yield* random.next
        if (roll >= delayRate) return
        const millis = Math.round(size * maxDelayMillis)
        yield* record({ _tag: "Delay", operation, millis })
        yield* Effect.sleep(Duration.millis(millis))
      })

    const currentVersion = (streamId: StreamId) =>
      store.read(streamId, { direction: "backward", pageSize: 1 }).pipe(
        Stream.take(1),
        Stream.runHead,
        Effect.map(Option.match({ onNone: () => 0, onSome: (event) => event.version })),
        Effect.mapError((cause) => new StoreUnavailable({ operation: "append", cause }))
      )

    const append: EventStore.Service["append"] = (input) =>
      Effect.gen(function*() {
        yield* delay("append")
        const writes = writesOf(input)
        const conflictRoll = yield* random.next
        const pick = yield* random.next
        const failureRoll = yield* random.next
        const checked = writes.filter((write) => write.expected._tag !== "Any")
        if (conflictRoll < conflictRate && checked.length > 0) {
          const write = checked[Math.min(checked.length - 1, Math.floor(pick * checked.length))]!
          yield* record({ _tag: "Conflict", streamId: write.streamId })
          const actual = yield* currentVersion(write.streamId)
          return yield* new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual })
        }
        if (failureRoll < appendFailureRate) {
          yield* record({ _tag: "AppendUnavailable" })
          return yield* new StoreUnavailable({ operation: "append", cause: new Error("chaos: injected append failure") })
        }
        return yield* store.append(input)
      })

    const faultyRead = <E>(operation: "read" | "readAll", stream: Stream.Stream<StoredEvent, E>) =>
      Stream.unwrap(Effect.gen(function*() {
        yield* delay(operation)
        const roll = yield* random.next
        const after = yield* random.nextIntBetween(0, maxEvents + 1)
        if (roll >= readFailureRate) return stream
        yield* record({ _tag: "ReadUnavailable", operation, afterEvents: after })
        return Stream.concat(
          Stream.take(stream, after),
          Stream.fail(new StoreUnavailable({ operation, cause: new Error(`chaos: injected ${operation} failure after ${after} events`) }))
        )
      }))

    return {
      store: EventStore.of({
        read: (streamId, readOptions) => faultyRead("read", store.read(streamId, readOptions)),
        readAll: (readOptions) => faultyRead("readAll", store.readAll(readOptions)),
        append,
        readSide: store.readSide
      }),
      chaos: Chaos.of({ faults: Ref.get(log) })
    }
  })

/**
 * Replaces the `EventStore` in context with a chaos wrapper and provides `Chaos`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<EventStore | Chaos, InvalidArgument, EventStore> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const { chaos, store } = yield* make(yield* EventStore, options)
      return Context.make(EventStore, store).pipe(Context.add(Chaos, chaos))
    })
  )

/**
 * The faults injected so far by the chaos store in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const faults: Effect.Effect<ReadonlyArray<Fault>, never, Chaos> = Effect.flatMap(Chaos, (chaos) => chaos.faults)
