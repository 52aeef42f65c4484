/**
 * Model-based property tests for deciders: generate command sequences, run each
 * command through the `Executor` on a store, and after every step compare the
 * state folded from the store with what a plain, obviously-correct model says.
 *
 * {@link check} runs a whole property in one Effect (from `it.effect`), with the
 * Executor and store built afresh for every run; {@link checkModel} checks one
 * sequence (from `it.effect.prop`, which is slower: it builds a new `TestContext`
 * for every run). fast-check's seed and path of a failing case replay it:
 * `{ fastCheck: { seed, path } }`. Retries sleep on the Effect clock, which
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
 * // in a test: it.effect("the account matches the model", () => Property.check(...))
 * Effect.runPromise(
 *   Property.check(account, balanceModel, Property.commands(accountCommand, { maxLength: 10 }), Executor.layerOn(MemoryEventStore.layer()), {
 *     fastCheck: { numRuns: 20 }
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as FiberStatus from "effect/FiberStatus"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { inspect } from "node:util"
import type { Decider } from "../Decider.ts"
import { streamsOf } from "../Decider.ts"
import type { StoredEvent } from "../Event.ts"
import { EventStore } from "../EventStore.ts"
import * as Executor from "../Executor.ts"
import { FirstPageTypeId, hasFirstPage } from "../internal/keyset.ts"
import type { EventDecodeError, ReadError } from "../StoreError.ts"
import type { StreamId } from "../StreamId.ts"
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
   * `"virtual"` (default): sleeps inside a command and in the reads that check
   * it (retry backoff, injected delays) end at once and move a virtual clock
   * forward, in any runtime, with or without `TestClock`. `"live"`: the clock in context, real time passes.
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
): Effect.Effect<void, ModelMismatch | Executor.ExecuteError, Executor.Executor | EventStore> => {
  const steps = Effect.gen(function*() {
    const equals = options.equals ?? equivalent
    const store = yield* EventStore
    const decoded = new Map<string, Decoded<E>>()
    let current = model.initial
    for (const [step, command] of commandList.entries()) {
      const outcome = yield* Effect.either(Executor.execute(decider, command))
      // `execute` dies on the pipeline's `UnexpectedInput` and retries conflicts into
      // `RetriesExhausted`, so what `isExecuteError` matches here is an `ExecuteError`.
      if (Either.isLeft(outcome) && Executor.isExecuteError(outcome.left)) {
        return yield* Effect.fail(outcome.left as Executor.ExecuteError)
      }
      current = model.apply(current, command)
      const expected = model.stateOf(current, command)
      const actual = yield* Effect.orDie(foldState(store, decider, command, decoded))
      if (!equals(expected, actual)) {
        return yield* new ModelMismatch({ step, command, expected, actual, commands: commandList.slice(0, step + 1) })
      }
    }
  })
  // the clock is replaced once for the whole check (the store's reads after each step too)
  return options.clock === "live"
    ? steps
    : Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.withClock(steps, virtualClock(now)))
}

/**
 * A property run by {@link check} failed. fast-check shrank the failing command
 * sequence to `commands`; `error` is what the check of that sequence failed with
 * (a `ModelMismatch`, an `ExecuteError`, or a defect).
 * Pass `{ fastCheck: { seed, path } }` to {@link check} to replay that case.
 *
 * @since 0.2.0
 * @category errors
 */
export class PropertyFailure extends Schema.TaggedError<PropertyFailure>()("PropertyFailure", {
  /** The seed of the failing run of fast-check. */
  seed: Schema.Number,
  /** The path of the shrunk counterexample: with `seed`, replays it first. */
  path: Schema.String,
  /** Runs made before the first failure (shrinking not counted). */
  runs: Schema.Number,
  /** The shrunk failing command sequence. */
  commands: Schema.Array(Schema.Unknown),
  /** What the check of `commands` failed with. */
  error: Schema.Unknown
}) {
  override get message(): string {
    const reason = typeof this.error === "object" && this.error !== null && "message" in this.error
      ? String(this.error.message)
      : inspect(this.error, { depth: 6, breakLength: Infinity, compact: true })
    return [
      `Property failed after ${this.runs} run(s); replay with { fastCheck: { seed: ${this.seed}, path: ${JSON.stringify(this.path)} } }`,
      reason
    ].join("\n")
  }
}

/**
 * Options of {@link check}.
 *
 * @since 0.2.0
 * @category models
 */
export interface PropertyOptions<C, S> extends CheckOptions<S> {
  /** fast-check's parameters: `numRuns` (default 100), and `seed` with `path` to replay a failing case. */
  readonly fastCheck?: fc.Parameters<[ReadonlyArray<C>]>
}

/**
 * The whole property in one Effect: generates command sequences, and checks
 * each with {@link checkModel} on the `Executor` and store that `layer` builds
 * afresh for that run (so no event, fault or tracked append leaks from one run
 * into the next). What does not depend on the run is built once: the Effect
 * runtime it runs in (under `it.effect`, `TestContext` included) and the
 * generated values' arbitrary.
 *
 * This is what makes a property cheap: `it.effect.prop` provides a new
 * `TestContext` to every run, which costs more than a short check on the memory
 * store. A failing sequence fails it with a {@link PropertyFailure} carrying the
 * shrunk sequence and the seed and path that replay it; a layer that does not
 * build fails it with the layer's own error.
 *
 * In a test: `it.effect("accounts match a plain model", () => Property.check(account,
 * balanceModel, Property.commands(commandArbitrary), Executor.layerOn(MemoryEventStore.layer())))`;
 * the module's example runs one as a program.
 *
 * @since 0.2.0
 * @category combinators
 */
export const check = <C, S, E extends Tagged, Err, M, LE, LR>(
  decider: Decider<C, S, E, Err>,
  model: Model<C, S, M>,
  commandLists: fc.Arbitrary<ReadonlyArray<C>>,
  layer: Layer.Layer<Executor.Executor | EventStore, LE, LR>,
  options: PropertyOptions<C, S> = {}
): Effect.Effect<void, PropertyFailure | LE, LR> =>
  Effect.flatMap(Effect.runtime<LR>(), (runtime) => {
    const runPromise = Runtime.runPromise(runtime)
    /** One sequence on a fresh build of `layer`: the layer's failure, or the check's exit. */
    const runOne = (commandList: ReadonlyArray<C>): Effect.Effect<Outcome<LE>, never, LR> =>
      Effect.scoped(Effect.flatMap(Effect.exit(Layer.build(layer)), (built) =>
        Exit.isFailure(built)
          ? Effect.succeed<Outcome<LE>>({ _tag: "Unbuilt", cause: built.cause })
          : Effect.map(
            Effect.exit(Effect.provide(checkModel(decider, model, commandList, options), built.value)),
            (exit): Outcome<LE> => ({ _tag: "Checked", exit })
          )))
    // what each sequence failed with, to report the shrunk one's
    const failures = new WeakMap<ReadonlyArray<C>, unknown>()
    return Effect.async<void, PropertyFailure | LE, LR>((resume) => {
      let stopped = false // interrupted, or the layer did not build: the remaining runs do no work
      let unbuilt: Cause.Cause<LE> | undefined
      const property = fc.asyncProperty(commandLists, async (commandList) => {
        if (stopped) return true
        const outcome = await runPromise(runOne(commandList))
        if (outcome._tag === "Unbuilt") {
          stopped = true
          unbuilt = outcome.cause
          return true
        }
        if (Exit.isSuccess(outcome.exit)) return true
        failures.set(commandList, Cause.squash(outcome.exit.cause))
        return false
      })
      fc.check(property, { numRuns: 100, ...options.fastCheck }).then((details) => {
        // a layer that does not build is the setup's failure, not a counterexample
        if (unbuilt !== undefined) return resume(Effect.failCause(unbuilt))
        if (stopped || !details.failed) return resume(Effect.void)
        const commandList = details.counterexample?.[0] ?? []
        const error = failures.has(commandList)
          ? Effect.succeed(failures.get(commandList))
          : Effect.map(runOne(commandList), (outcome) =>
            outcome._tag === "Unbuilt"
              ? Cause.squash(outcome.cause)
              : Exit.isFailure(outcome.exit)
              ? Cause.squash(outcome.exit.cause)
              : details.errorInstance)
        resume(Effect.flatMap(error, (error) =>
          new PropertyFailure({
            seed: details.seed,
            path: details.counterexamplePath ?? "",
            runs: details.numRuns,
            commands: commandList,
            error
          })))
      }, (defect: unknown) => resume(Effect.die(defect)))
      return Effect.sync(() => {
        stopped = true
      })
    })
  })

/** How one run of {@link check} ended: its layer did not build, or its check ran. */
type Outcome<LE> =
  | { readonly _tag: "Unbuilt"; readonly cause: Cause.Cause<LE> }
  | { readonly _tag: "Checked"; readonly exit: Exit.Exit<void, unknown> }

/** The events of one stream decoded so far in a check, and the version read up to. */
interface Decoded<E> {
  readonly events: Array<E>
  version: number
}

/**
 * The rows of a stream above version `after`. Through the store's first-page
 * read when it has one (one Effect, where `read` starts a `Stream`) as long as
 * the stream may end within that page; past it, `read` from `after + 1`.
 */
const rowsAfter = (
  store: EventStore.Service,
  streamId: StreamId,
  after: number
): Effect.Effect<Iterable<StoredEvent>, ReadError> => {
  const fromAfter = Stream.runCollect(store.read(streamId, { from: after + 1 }))
  if (!hasFirstPage(store)) return fromAfter
  return Effect.flatMap(store[FirstPageTypeId](streamId, undefined), ({ page, rest }) => {
    if (rest !== undefined) return fromAfter // longer than a page: read only what is new
    return Effect.succeed(Chunk.filter(page, (row) => row.version > after))
  })
}

/**
 * Decodes the rows not decoded yet into `decoded`: the first that does not
 * decode is returned.
 */
const decodeInto = <S, E extends Tagged, C, Err>(
  decider: Decider<C, S, E, Err>,
  decoded: Decoded<E>,
  rows: Iterable<StoredEvent>
): EventDecodeError | undefined => {
  for (const row of rows) {
    const event = decider.codec.decode(row)
    if (Either.isLeft(event)) return event.left
    decoded.events.push(event.right.data)
    decoded.version = row.version
  }
  return undefined
}

/**
 * The state the decider folds from the command's streams, as `Scenario.stateOf`
 * computes it, on the hot loop of a property. Stored events never change, so
 * each event is decoded once per check (the rows of a stream already decoded are
 * skipped); the state is then folded from the decoded events of every stream
 * the command names, in order, from the initial state. Plain loops in plain
 * functions: the check runs cold in a test, and V8 optimizes a loop inside a
 * generator late.
 */
const foldState = <C, S, E extends Tagged, Err>(
  store: EventStore.Service,
  decider: Decider<C, S, E, Err>,
  command: C,
  cache: Map<string, Decoded<E>>
): Effect.Effect<S, ReadError> => {
  const streams = streamsOf(decider, command)
  const decodedOf = (streamId: StreamId): Decoded<E> => {
    let decoded = cache.get(streamId)
    if (decoded === undefined) {
      decoded = { events: [], version: 0 }
      cache.set(streamId, decoded)
    }
    return decoded
  }
  const fold = (): S => {
    let state = decider.initialState
    for (const streamId of streams) {
      for (const event of decodedOf(streamId).events) state = decider.evolve(state, event, streamId)
    }
    return state
  }
  const readFrom = (index: number): Effect.Effect<S, ReadError> => {
    if (index === streams.length) return Effect.sync(fold)
    const streamId = streams[index]!
    const decoded = decodedOf(streamId)
    return Effect.flatMap(rowsAfter(store, streamId, decoded.version), (rows) => {
      const failure = decodeInto(decider, decoded, rows)
      return failure === undefined ? readFrom(index + 1) : Effect.fail(failure)
    })
  }
  return readFrom(0)
}
