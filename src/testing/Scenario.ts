/**
 * Given / when / then tests for deciders: pure ones that need no store, and ones
 * that run the command through the `Executor` over a real store layer.
 *
 * A failing scenario reports given, command, expected and actual side by side.
 *
 * @example
 * ```ts
 * import { Effect, Either, Schema } from "effect"
 * import { Decider, EventCodec, StreamId } from "eventfold"
 * import { Scenario } from "eventfold/testing"
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
 * // pure: fold the history, decide, compare (throws a ScenarioFailure when it differs)
 * Scenario.decider(account)
 *   .given([new Deposited({ amount: 100 })])
 *   .when(new Withdraw({ account: "ada", amount: 30 }))
 *   .then([new Withdrawn({ amount: 30 })])
 *
 * Scenario.decider(account)
 *   .when(new Withdraw({ account: "ada", amount: 30 }))
 *   .thenFails(new InsufficientFunds({ balance: 0 }))
 *
 * // through the executor, over the memory store (or any store layer); run it in `it.effect`
 * const ada = StreamId.unsafeMake("account-ada")
 * const throughExecutor = Scenario.executor(account)
 *   .given([{ streamId: ada, event: new Deposited({ amount: 100 }) }])
 *   .when(new Withdraw({ account: "ada", amount: 40 }))
 *   .then([{ streamId: ada, event: new Withdrawn({ amount: 40 }) }])
 *
 * Effect.runPromise(throughExecutor)
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Utils from "effect/Utils"
import { inspect } from "node:util"
import * as Cursor from "../Cursor.ts"
import type { Decider, Decision, EventFor } from "../Decider.ts"
import { fold, isEventFor, streamsOf } from "../Decider.ts"
import type { EventData } from "../Event.ts"
import { EventStore, typedFrom } from "../EventStore.ts"
import * as Executor from "../Executor.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import { MemoryEventStore } from "../memory/index.ts"
import type { StreamId } from "../StreamId.ts"
import * as TrackingEventStore from "./TrackingEventStore.ts"

type Tagged = { readonly _tag: string }

/**
 * A scenario whose outcome was not the expected one. The message shows given,
 * command, expected and actual, then the paths where they differ.
 *
 * @since 0.1.0
 * @category errors
 */
export class ScenarioFailure extends Schema.TaggedError<ScenarioFailure>()("ScenarioFailure", {
  given: Schema.Unknown,
  command: Schema.Unknown,
  expected: Schema.String,
  actual: Schema.String,
  /** Where expected and actual differ, one line per path (empty when the outcomes differ in kind). */
  differences: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}) {
  override get message(): string {
    return [
      "Scenario failed",
      `  Given:    ${show(this.given)}`,
      `  When:     ${show(this.command)}`,
      `  Expected: ${this.expected}`,
      `  Actual:   ${this.actual}`,
      ...(this.differences.length === 0 ? [] : ["  Differences:", ...this.differences.map((line) => `    ${line}`)])
    ].join("\n")
  }
}

const show = (value: unknown): string => {
  if (!(value instanceof Error)) return inspect(value, inspectOptions)
  const { _tag, ...fields } = { ...value } as { readonly _tag?: unknown }
  return `${_tag === undefined ? value.name : String(_tag)} ${inspect(fields, inspectOptions)}`
}

const inspectOptions = { depth: 6, breakLength: Infinity, compact: true } as const

/**
 * One place where two values differ: its path from the root (`""` for the root,
 * then `[2]`, `.amount`, `.get("key")`, `{set element}`), and the value on each side
 * (`undefined` where a side has nothing there).
 *
 * @since 0.2.0
 * @category equality
 */
export interface Difference {
  readonly path: string
  readonly expected: unknown
  readonly actual: unknown
}

const isObject = (u: unknown): u is object => typeof u === "object" && u !== null

const pathKey = (key: PropertyKey): string =>
  typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${typeof key === "symbol" ? String(key) : JSON.stringify(key)}]`

/** Own enumerable keys, symbols included (Data and Schema classes keep their fields there). */
const keysOf = (o: object): Array<PropertyKey> => [
  ...Object.keys(o),
  ...Object.getOwnPropertySymbols(o).filter((symbol) => Object.prototype.propertyIsEnumerable.call(o, symbol))
]

/**
 * Walks both values at once and records every differing path, at most `limit`.
 * `seen` breaks cycles: a pair already under comparison counts as equal.
 */
const walk = (
  expected: unknown,
  actual: unknown,
  path: string,
  out: Array<Difference>,
  limit: number,
  seen: Map<object, Set<object>>
): void => {
  if (out.length >= limit || Object.is(expected, actual)) return
  const differ = () => {
    out.push({ path, expected, actual })
  }
  if (!isObject(expected) || !isObject(actual)) return differ()
  const pairs = seen.get(expected)
  if (pairs?.has(actual)) return
  if (pairs === undefined) seen.set(expected, new Set([actual]))
  else pairs.add(actual)
  // Effect's own values (Option, Chunk, HashMap, Duration, ...) and Data classes
  // know their equality; only when it says "different" is the walk needed.
  if (Equal.isEqual(expected) && Utils.structuralRegion(() => Equal.equals(expected, actual))) return
  if (Object.getPrototypeOf(expected) !== Object.getPrototypeOf(actual)) return differ()
  if (expected instanceof Date) return (expected.getTime() === (actual as Date).getTime() ? undefined : differ())
  if (typeof expected === "function") return differ()
  // Effect's own structures (Option, Chunk, HashMap, ...) said "different": their
  // fields are internals, so the value is reported whole
  if (Equal.symbol in expected && !Array.isArray(expected) && !isStructural(expected)) return differ()
  if (Array.isArray(expected)) {
    const other = actual as ReadonlyArray<unknown>
    const length = Math.max(expected.length, other.length)
    for (let i = 0; i < length && out.length < limit; i++) walk(expected[i], other[i], `${path}[${i}]`, out, limit, seen)
    return
  }
  if (expected instanceof Map) {
    const other = actual as Map<unknown, unknown>
    for (const [key, value] of expected) {
      const match = other.has(key) ? key : findKey(other.keys(), key)
      const at = `${path}.get(${inspect(key, inspectOptions)})`
      if (match === notFound) out.push({ path: at, expected: value, actual: undefined })
      else walk(value, other.get(match), at, out, limit, seen)
    }
    for (const [key, value] of other) {
      if (!expected.has(key) && findKey(expected.keys(), key) === notFound) {
        out.push({ path: `${path}.get(${inspect(key, inspectOptions)})`, expected: undefined, actual: value })
      }
    }
    return
  }
  if (expected instanceof Set) {
    const other = actual as Set<unknown>
    for (const value of expected) {
      if (!other.has(value) && findKey(other.values(), value) === notFound) {
        out.push({ path: `${path}{set element}`, expected: value, actual: undefined })
      }
    }
    for (const value of other) {
      if (!expected.has(value) && findKey(expected.values(), value) === notFound) {
        out.push({ path: `${path}{set element}`, expected: undefined, actual: value })
      }
    }
    return
  }
  if (expected instanceof Error) {
    const other = actual as Error
    if (expected.message !== other.message) out.push({ path: `${path}.message`, expected: expected.message, actual: other.message })
  }
  const keys = new Set([...keysOf(expected), ...keysOf(actual)])
  const before = out.length
  for (const key of keys) {
    if (out.length >= limit) return
    walk(
      (expected as Record<PropertyKey, unknown>)[key],
      (actual as Record<PropertyKey, unknown>)[key],
      `${path}${pathKey(key)}`,
      out,
      limit,
      seen
    )
  }
  // different instances with nothing enumerable to tell them apart (class
  // instances with private state): report them whole
  if (out.length === before && keys.size === 0 && !isPlain(expected)) differ()
}

/** The equality `Data` and Schema classes (and tagged errors) share: field by field. */
const structuralEquality = (Data.struct({}) as unknown as Record<symbol, unknown>)[Equal.symbol]

const isStructural = (o: object): boolean => (o as Record<symbol, unknown>)[Equal.symbol] === structuralEquality

const notFound: unique symbol = Symbol("notFound")

/** A key (or set element) of `candidates` structurally equal to `key`. */
const findKey = (candidates: Iterable<unknown>, key: unknown): unknown => {
  if (!isObject(key)) return notFound
  for (const candidate of candidates) if (equivalent(key, candidate)) return candidate
  return notFound
}

const isPlain = (o: object): boolean => {
  const proto = Object.getPrototypeOf(o)
  return proto === null || proto === Object.prototype
}

/**
 * Every path where two values differ (at most `limit`, default 20): primitives
 * with `Object.is`, dates by their time, arrays by index, Maps by key, Sets by
 * element, plain objects, `Data` and Schema classes by their fields, and
 * Effect's own values (`Option`, `Chunk`, `HashMap`, ...) with `Equal.equals`.
 * Empty when the values are equivalent.
 *
 * @example
 * ```ts
 * import { Scenario } from "eventfold/testing"
 *
 * assert.deepStrictEqual(Scenario.diff({ items: [1, 2] }, { items: [1, 3] }), [{ path: ".items[1]", expected: 2, actual: 3 }])
 * assert.deepStrictEqual(Scenario.diff(new Map(), new Map()), [])
 * ```
 *
 * @since 0.2.0
 * @category equality
 */
export const diff = (expected: unknown, actual: unknown, limit = 20): ReadonlyArray<Difference> => {
  const out: Array<Difference> = []
  walk(expected, actual, "", out, limit, new Map())
  return out
}

/**
 * Structural equality as the scenarios use it: `Equal.equals` first (Effect's
 * own values, `Data`), then structure: arrays element by element, Maps by key,
 * Sets by element, plain objects, `Data` and Schema classes field by field,
 * dates by their time. `equivalent(new Map(), new Map())` is `true`.
 *
 * @since 0.1.0
 * @category equality
 */
export const equivalent = (a: unknown, b: unknown): boolean => diff(a, b, 1).length === 0

/**
 * The differences of {@link diff}, one readable line each.
 *
 * @since 0.2.0
 * @category equality
 */
export const formatDifferences = (differences: ReadonlyArray<Difference>): ReadonlyArray<string> =>
  differences.map(({ actual, expected, path }) =>
    `at ${path === "" ? "(root)" : path}: expected ${show(expected)}, actual ${show(actual)}`
  )

/** What a command produced: events, with their streams, or a failure. */
type Outcome<E, Err> =
  | { readonly _tag: "Events"; readonly events: ReadonlyArray<EventFor<E>> }
  | { readonly _tag: "Failed"; readonly error: Err }

const showOutcome = <E, Err>(outcome: Outcome<E, Err>): string =>
  outcome._tag === "Events"
    ? outcome.events.length === 0 ? "no events" : `events ${show(outcome.events)}`
    : `error ${show(outcome.error)}`

/** A predicate, or a value compared structurally. */
const errorMatches = <Err>(expected: Err | ((error: Err) => boolean), actual: Err): boolean =>
  typeof expected === "function" ? (expected as (error: Err) => boolean)(actual) : equivalent(expected, actual)

const describeExpectedError = (expected: unknown): string =>
  typeof expected === "function" ? `an error matching ${expected.name || "the predicate"}` : `error ${show(expected)}`

/**
 * The checks that end a scenario. For a pure scenario they return `void` and
 * throw `ScenarioFailure`; for an executor scenario they return an `Effect` that
 * fails with it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Then<R, E, Err> {
  /** Exactly these events were produced (bare events go to the command's first stream). */
  readonly then: (expected: ReadonlyArray<Decision<E>>) => R
  /** The command failed with this error (compared structurally) or one the predicate accepts. */
  readonly thenFails: (expected: Err | ((error: Err) => boolean)) => R
  /** The command succeeded and produced no event. */
  readonly thenNothing: () => R
}

const check = <E extends Tagged, Err>(
  given: unknown,
  command: unknown,
  primary: StreamId | undefined,
  outcome: Outcome<E, Err>
) => {
  const normalize = (decisions: ReadonlyArray<Decision<E>>): ReadonlyArray<EventFor<E>> =>
    decisions.map((d) => isEventFor(d) ? d : { streamId: primary as StreamId, event: d })
  const failure = (expected: string, differences: ReadonlyArray<string> = []) =>
    new ScenarioFailure({ given, command, expected, actual: showOutcome(outcome), differences })
  return {
    then: (expected: ReadonlyArray<Decision<E>>): Option.Option<ScenarioFailure> => {
      const want = normalize(expected)
      if (outcome._tag !== "Events") return Option.some(failure(want.length === 0 ? "no events" : `events ${show(want)}`))
      const differences = diff(want, outcome.events)
      return differences.length === 0
        ? Option.none()
        : Option.some(failure(want.length === 0 ? "no events" : `events ${show(want)}`, formatDifferences(differences)))
    },
    thenFails: (expected: Err | ((error: Err) => boolean)): Option.Option<ScenarioFailure> =>
      outcome._tag === "Failed" && errorMatches(expected, outcome.error)
        ? Option.none()
        : Option.some(failure(
          describeExpectedError(expected),
          outcome._tag === "Failed" && typeof expected !== "function" ? formatDifferences(diff(expected, outcome.error)) : []
        )),
    thenNothing: (): Option.Option<ScenarioFailure> =>
      outcome._tag === "Events" && outcome.events.length === 0 ? Option.none() : Option.some(failure("no events"))
  }
}

/**
 * A pure scenario for a decider: the history is folded with `evolve`, the
 * command decided, and the result compared. No store, clock or fiber.
 *
 * @since 0.1.0
 * @category combinators
 */
export const decider = <C, S, E extends Tagged, Err>(model: Decider<C, S, E, Err>) => {
  const when = (given: ReadonlyArray<Decision<E>>) => (command: C): Then<void, E, Err> => {
    const primary = streamsOf(model, command)[0]
    const history = given.map((d) => isEventFor(d) ? d : { streamId: primary as StreamId, event: d })
    const decided = model.decide(command, fold(model, history))
    const outcome: Outcome<E, Err> = Either.isRight(decided)
      ? { _tag: "Events", events: decided.right.map((d) => isEventFor(d) ? d : { streamId: primary as StreamId, event: d }) }
      : { _tag: "Failed", error: decided.left }
    const checks = check<E, Err>(history, command, primary, outcome)
    const orThrow = (result: Option.Option<ScenarioFailure>): void => {
      if (Option.isSome(result)) throw result.value // eslint-disable-line no-restricted-syntax -- a failed test
    }
    return {
      then: (expected) => orThrow(checks.then(expected)),
      thenFails: (expected) => orThrow(checks.thenFails(expected)),
      thenNothing: () => orThrow(checks.thenNothing())
    }
  }
  return {
    /**
     * The events that happened before, oldest first; bare events belong to the
     * command's first stream, `{ streamId, event }` to the stream they name.
     */
    given: (history: ReadonlyArray<Decision<E>>) => ({ when: when(history) }),
    /** A command on an empty history. */
    when: when([])
  }
}

/**
 * Options of an executor scenario.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecutorOptions<StoreErr = never> {
  /**
   * The store to run on (default: a fresh memory store per scenario). If building
   * it can fail, the scenario's Effect can fail with that error too.
   */
  readonly store?: Layer.Layer<EventStore, StoreErr>
  /** Executor options (retry schedule, page size). */
  readonly executor?: Executor.Options
}

/**
 * What an executor scenario's Effect fails with: a `ScenarioFailure` when the
 * outcome was not the expected one; an `ExecuteError` when the store failed
 * while the history was stored or the command's events decoded; `StoreErr`
 * when building the store layer failed.
 *
 * @since 0.1.0
 * @category models
 */
export type ExecutorScenarioError<StoreErr = never> = ScenarioFailure | Executor.ExecuteError | StoreErr

/**
 * A scenario that runs the command through the `Executor` over a store: the
 * history is appended first (to the streams it names), then the command runs, and
 * exactly the events it appended (recorded by a `TrackingEventStore`) are
 * compared. Run the returned Effect in `it.effect`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const executor = <C, S, E extends Tagged, Err, StoreErr = never>(
  model: Decider<C, S, E, Err>,
  options: ExecutorOptions<StoreErr> = {}
) => {
  const storeLayer: Layer.Layer<EventStore, StoreErr> = options.store ?? MemoryEventStore.layer()
  const tracked = TrackingEventStore.layer.pipe(Layer.provideMerge(storeLayer))

  const when = (history: ReadonlyArray<EventFor<E>>) =>
  (command: C): Then<Effect.Effect<void, ExecutorScenarioError<StoreErr>>, E, Err | Executor.ExecuteError> => {
    const run = Effect.gen(function*() {
      const store = yield* EventStore
      const typed = typedFrom(store, model.codec)
      for (const { event, streamId } of history) {
        // With `Any` a conflict is impossible; a store that reports one is broken.
        yield* typed.append({ streamId, expected: ExpectedVersion.any, events: [event] }).pipe(
          Effect.catchTag("WrongExpectedVersion", (conflict) => Effect.die(conflict))
        )
      }
      yield* TrackingEventStore.clear
      const executor = yield* Executor.make(options.executor)
      const result = yield* Effect.either(executor.execute(model, command))
      const appends = yield* TrackingEventStore.appends
      const events: Array<EventFor<E>> = []
      for (const append of appends) {
        for (const write of append.writes) {
          for (const data of write.events) events.push({ streamId: write.streamId, event: yield* decodeData(model, write.streamId, data) })
        }
      }
      const outcome: Outcome<E, Err | Executor.ExecuteError> = Either.isRight(result)
        ? { _tag: "Events", events }
        : { _tag: "Failed", error: result.left }
      return check<E, Err | Executor.ExecuteError>(history, command, streamsOf(model, command)[0], outcome)
    }).pipe(Effect.provide(tracked))
    const assert = (pick: (checks: ReturnType<typeof check<E, Err | Executor.ExecuteError>>) => Option.Option<ScenarioFailure>) =>
      Effect.flatMap(run, (checks) => Option.match(pick(checks), { onNone: () => Effect.void, onSome: Effect.fail }))
    return {
      then: (expected) => assert((checks) => checks.then(expected)),
      thenFails: (expected) => assert((checks) => checks.thenFails(expected)),
      thenNothing: () => assert((checks) => checks.thenNothing())
    }
  }
  return {
    /** Events already stored, each in its stream, oldest first. */
    given: (history: ReadonlyArray<EventFor<E>>) => ({ when: when(history) }),
    /** A command on an empty store. */
    when: when([])
  }
}

const decodeData = <C, S, E extends Tagged, Err>(model: Decider<C, S, E, Err>, streamId: StreamId, data: EventData) =>
  Effect.map(
    model.codec.decode({ ...data, streamId, version: 0, position: 0, cursor: Cursor.start, recordedAt: new Date(0) }),
    (recorded) => recorded.data
  )

/**
 * Reads the current state of a command's streams by folding them with the
 * decider, as the executor would before deciding. Handy for assertions.
 *
 * @since 0.1.0
 * @category combinators
 */
export const stateOf = <C, S, E extends Tagged, Err>(model: Decider<C, S, E, Err>, command: C) =>
  Effect.gen(function*() {
    const store = typedFrom(yield* EventStore, model.codec)
    let state = model.initialState
    for (const streamId of streamsOf(model, command)) {
      state = yield* Stream.runFold(store.read(streamId), state, (s, e) => model.evolve(s, e.data, streamId))
    }
    return state
  })

