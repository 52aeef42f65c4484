/**
 * Model-based property tests for deciders: generate command sequences, run each
 * command through the `Executor` on a store, and after every step compare the
 * state folded from the store with what a plain, obviously-correct model says.
 *
 * Use it with `@effect/vitest`'s `it.effect.prop`. fast-check prints the seed and
 * path of a failing case; pass them back as `{ fastCheck: { seed, path } }` to
 * replay that exact case. Retries sleep on the Effect clock, which
 * {@link checkModel} replaces by a virtual one whose sleeps end at once, so no
 * real time passes and no `TestClock` is needed.
 *
 * @example
 * ```ts
 * import { Effect, Either, FastCheck as fc, Schema } from "effect"
 * import { Decider, EventCodec, Executor, StreamId } from "eventfold"
 * import { MemoryEventStore } from "eventfold/memory"
 * import { Property } from "eventfold/testing"
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
 * // the obviously-correct model: a balance per account; a withdrawal beyond it is rejected
 * const balanceModel: Property.Model<Deposit | Withdraw, number, ReadonlyMap<string, number>> = {
 *   initial: new Map(),
 *   apply: (balances, command) => {
 *     const balance = balances.get(command.account) ?? 0
 *     if (command._tag === "Withdraw" && command.amount > balance) return balances
 *     return new Map(balances).set(command.account, command._tag === "Deposit" ? balance + command.amount : balance - command.amount)
 *   },
 *   stateOf: (balances, command) => balances.get(command.account) ?? 0
 * }
 *
 * const accountCommand = fc.oneof(
 *   fc.record({ account: fc.constantFrom("a", "b"), amount: fc.integer({ min: 1, max: 100 }) }).map((c) => new Deposit(c)),
 *   fc.record({ account: fc.constantFrom("a", "b"), amount: fc.integer({ min: 1, max: 100 }) }).map((c) => new Withdraw(c))
 * )
 *
 * // in a test: it.effect.prop("the account matches the model", [Property.commands(accountCommand)], ([commands]) => ...)
 * fc.assert(
 *   fc.asyncProperty(Property.commands(accountCommand, { maxLength: 10 }), (commands) =>
 *     Effect.runPromise(
 *       Property.checkModel(account, balanceModel, commands).pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer())))
 *     )),
 *   { numRuns: 20 }
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as FiberStatus from "effect/FiberStatus"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { inspect } from "node:util"
import type { Decider } from "../Decider.ts"
import { streamsOf } from "../Decider.ts"
import { EventStore } from "../EventStore.ts"
import * as Executor from "../Executor.ts"
import { diff, equivalent, formatDifferences } from "./Scenario.ts"

type Tagged = { readonly _tag: string }

/**
 * A reference model of a decider: plain data and functions, written to be
 * obviously right rather than fast.
 *
 * @since 0.1.0
 * @category models
 */
export interface Model<C, S, M> {
  /** The model before any command. */
  readonly initial: M
  /** The model after a command (unchanged when the command must be rejected). */
  readonly apply: (model: M, command: C) => M
  /** The state the decider must fold from the command's streams, per the model. */
  readonly stateOf: (model: M, command: C) => S
}

/**
 * After some step, the store's folded state differed from the model's.
 *
 * @since 0.1.0
 * @category errors
 */
export class ModelMismatch extends Schema.TaggedError<ModelMismatch>()("ModelMismatch", {
  /** 0-based index of the command after which the states differed. */
  step: Schema.Number,
  command: Schema.Unknown,
  expected: Schema.Unknown,
  actual: Schema.Unknown,
  /** The commands run up to and including the failing one. */
  commands: Schema.Array(Schema.Unknown)
}) {
  override get message(): string {
    const show = (u: unknown) => inspect(u, { depth: 6, breakLength: Infinity, compact: true })
    const differences = formatDifferences(diff(this.expected, this.actual))
    return [
      `State differs from the model after step ${this.step}`,
      `  Command:  ${show(this.command)}`,
      `  Expected: ${show(this.expected)}`,
      `  Actual:   ${show(this.actual)}`,
      ...(differences.length === 0 ? [] : ["  Differences:", ...differences.map((line) => `    ${line}`)]),
      `  Commands: ${show(this.commands)}`
    ].join("\n")
  }
}

/**
 * Command sequences from a command arbitrary.
 *
 * @since 0.1.0
 * @category combinators
 */
export const commands = <C>(
  command: fc.Arbitrary<C>,
  options: { readonly minLength?: number; readonly maxLength?: number } = {}
): fc.Arbitrary<ReadonlyArray<C>> =>
  fc.array(command, { minLength: options.minLength ?? 1, maxLength: options.maxLength ?? 30 })

/**
 * Runs an effect while moving `TestClock` forward, so that sleeps inside it
 * (retry backoff, injected delays) finish at once. Only under `TestClock`
 * (`it.effect`). The clock is moved only while the effect is suspended (waiting
 * on a sleep): an effect that never sleeps costs one fork and no adjustment.
 *
 * @since 0.1.0
 * @category testing
 */
export const withTestClock = <A, E, R>(self: Effect.Effect<A, E, R>, step: `${number} millis` | `${number} seconds` = "1 seconds") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(self)
    for (;;) {
      yield* Effect.yieldNow()
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      if (FiberStatus.isSuspended(yield* fiber.status)) yield* TestClock.adjust(step)
    }
  })

/**
 * A clock whose sleeps end at once and move its time forward by their duration:
 * what a retry schedule or an injected delay sees as time passing, at no cost.
 * It starts at the time of the clock it replaces.
 */
const virtualClock = (startMillis: number): Clock.Clock => {
  let nanos = BigInt(startMillis) * 1_000_000n
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => Number(nanos / 1_000_000n),
    unsafeCurrentTimeNanos: () => nanos,
    currentTimeMillis: Effect.sync(() => Number(nanos / 1_000_000n)),
    currentTimeNanos: Effect.sync(() => nanos),
    sleep: (duration) =>
      Effect.sync(() => {
        nanos += Duration.toNanos(duration).pipe(Option.getOrElse(() => 0n))
      })
  }
  return clock
}

/**
 * Options of {@link checkModel}.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckOptions<S> {
  /** How states are compared (default: `Scenario.equivalent`, structural). */
  readonly equals?: (expected: S, actual: S) => boolean
  /**
   * `"virtual"` (default): sleeps inside a command (retry backoff, injected
   * delays) end at once and move a virtual clock forward, in any runtime, with or
   * without `TestClock`. `"live"`: the clock in context, real time passes.
   * `"test"` is the same as `"virtual"` (kept from 0.1.0, which moved `TestClock`).
   */
  readonly clock?: "virtual" | "test" | "live"
}

/**
 * Runs `commands` one by one through the `Executor` in context and, after each,
 * checks that folding the command's streams gives the model's state. Domain
 * rejections are expected outcomes (the model decides what they leave); any other
 * failure fails the check.
 *
 * It succeeds with `void`, so it can be returned from an `it.effect.prop` body as
 * is (fast-check fails a property whose body returns anything but `void` or
 * `true`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const checkModel = <C, S, E extends Tagged, Err, M>(
  decider: Decider<C, S, E, Err>,
  model: Model<C, S, M>,
  commandList: ReadonlyArray<C>,
  options: CheckOptions<S> = {}
): Effect.Effect<void, ModelMismatch | Executor.ExecuteError, Executor.Executor | EventStore> =>
  Effect.gen(function*() {
    const equals = options.equals ?? equivalent
    const store = yield* EventStore
    const clock = options.clock === "live" ? undefined : virtualClock(yield* Clock.currentTimeMillis)
    const run = <A, E2, R>(self: Effect.Effect<A, E2, R>) => clock === undefined ? self : Effect.withClock(self, clock)
    let current = model.initial
    for (const [step, command] of commandList.entries()) {
      const outcome = yield* run(Effect.either(Executor.execute(decider, command)))
      // `execute` dies on the pipeline's `UnexpectedInput` and retries conflicts into
      // `RetriesExhausted`, so what `isExecuteError` matches here is an `ExecuteError`.
      if (Either.isLeft(outcome) && Executor.isExecuteError(outcome.left)) {
        return yield* Effect.fail(outcome.left as Executor.ExecuteError)
      }
      current = model.apply(current, command)
      const expected = model.stateOf(current, command)
      const actual = yield* Effect.orDie(foldState(store, decider, command))
      if (!equals(expected, actual)) {
        return yield* new ModelMismatch({ step, command, expected, actual, commands: commandList.slice(0, step + 1) })
      }
    }
  })

/**
 * The state the decider folds from the command's streams, as `Scenario.stateOf`
 * computes it, on the hot loop of a property: each stream read in one collect
 * and decoded in a plain loop (no per-event stream stage).
 */
const foldState = <C, S, E extends Tagged, Err>(store: EventStore.Service, decider: Decider<C, S, E, Err>, command: C) =>
  Effect.gen(function*() {
    let state = decider.initialState
    for (const streamId of streamsOf(decider, command)) {
      const rows = yield* Stream.runCollect(store.read(streamId))
      for (const row of rows) {
        const decoded = decider.codec.decode(row)
        if (Either.isLeft(decoded)) return yield* decoded.left
        state = decider.evolve(state, decoded.right.data, streamId)
      }
    }
    return state
  })
