/**
 * Given / when / then tests for deciders: pure ones that need no store, and ones
 * that run the command through the `Executor` over a real store layer.
 *
 * @example
 * ```ts
 * import { Scenario } from "eventfold/testing"
 *
 * // pure: fold the history, decide, compare
 * Scenario.decider(account)
 *   .given([new Opened({ owner: "Ada" }), new Deposited({ amount: 100 })])
 *   .when(new Withdraw({ account: "ada", amount: 30 }))
 *   .then([new Withdrawn({ amount: 30 })])
 *
 * // through the executor, over the memory store (or any store layer)
 * it.effect("a transfer moves money between two accounts", () =>
 *   Scenario.executor(transfer)
 *     .given([{ streamId: a, event: new Deposited({ amount: 100 }) }])
 *     .when(new Transfer({ from: "a", to: "b", amount: 40 }))
 *     .then([{ streamId: a, event: new TransferredOut({ amount: 40 }) }, { streamId: b, event: new TransferredIn({ amount: 40 }) }]))
 * ```
 *
 * A failing scenario reports given, command, expected and actual side by side.
 *
 * @since 0.1.0
 */
import { Data, Effect, Either, Equal, Layer, Option, Stream, Utils } from "effect"
import { inspect } from "node:util"
import type { Decider, Decision, EventFor } from "../Decider.ts"
import { fold, isEventFor, streamsOf } from "../Decider.ts"
import type { EventData } from "../Event.ts"
import { EventStore, typedWith } from "../EventStore.ts"
import * as Executor from "../Executor.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import { MemoryEventStore } from "../memory/index.ts"
import type { StreamId } from "../StreamId.ts"
import * as TrackingEventStore from "./TrackingEventStore.ts"

type Tagged = { readonly _tag: string }

/**
 * A scenario whose outcome was not the expected one. The message shows given,
 * command, expected and actual.
 *
 * @since 0.1.0
 */
export class ScenarioFailure extends Data.TaggedError("ScenarioFailure")<{
  readonly given: unknown
  readonly command: unknown
  readonly expected: string
  readonly actual: string
}> {
  override get message(): string {
    return [
      "Scenario failed",
      `  Given:    ${show(this.given)}`,
      `  When:     ${show(this.command)}`,
      `  Expected: ${this.expected}`,
      `  Actual:   ${this.actual}`
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
 * Structural equality as the scenarios use it: Schema classes and tagged errors
 * by their fields, arrays and plain objects element by element.
 *
 * @since 0.1.0
 */
export const equivalent = (a: unknown, b: unknown): boolean => Utils.structuralRegion(() => Equal.equals(a, b))

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
  const failure = (expected: string) =>
    new ScenarioFailure({ given, command, expected, actual: showOutcome(outcome) })
  return {
    then: (expected: ReadonlyArray<Decision<E>>): Option.Option<ScenarioFailure> => {
      const want = normalize(expected)
      return outcome._tag === "Events" && equivalent(outcome.events, want)
        ? Option.none()
        : Option.some(failure(want.length === 0 ? "no events" : `events ${show(want)}`))
    },
    thenFails: (expected: Err | ((error: Err) => boolean)): Option.Option<ScenarioFailure> =>
      outcome._tag === "Failed" && errorMatches(expected, outcome.error)
        ? Option.none()
        : Option.some(failure(describeExpectedError(expected))),
    thenNothing: (): Option.Option<ScenarioFailure> =>
      outcome._tag === "Events" && outcome.events.length === 0 ? Option.none() : Option.some(failure("no events"))
  }
}

/**
 * A pure scenario for a decider: the history is folded with `evolve`, the
 * command decided, and the result compared. No store, clock or fiber.
 *
 * @since 0.1.0
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
 */
export type ExecutorScenarioError<StoreErr = never> = ScenarioFailure | Executor.ExecuteError | StoreErr

/**
 * A scenario that runs the command through the `Executor` over a store: the
 * history is appended first (to the streams it names), then the command runs, and
 * exactly the events it appended (recorded by a `TrackingEventStore`) are
 * compared. Run the returned Effect in `it.effect`.
 *
 * @since 0.1.0
 */
export const executor = <C, S, E extends Tagged, Err, StoreErr = never>(
  model: Decider<C, S, E, Err>,
  options: ExecutorOptions<StoreErr> = {}
) => {
  const storeLayer: Layer.Layer<EventStore, StoreErr> = options.store ?? MemoryEventStore.layer
  const tracked = TrackingEventStore.layer.pipe(Layer.provideMerge(storeLayer))

  const when = (history: ReadonlyArray<EventFor<E>>) =>
  (command: C): Then<Effect.Effect<void, ExecutorScenarioError<StoreErr>>, E, Err | Executor.ExecuteError> => {
    const run = Effect.gen(function*() {
      const store = yield* EventStore
      const typed = typedWith(store, model.codec)
      for (const { event, streamId } of history) {
        // With `Any` a conflict is impossible; a store that reports one is broken.
        yield* typed.append({ streamId, expected: ExpectedVersion.any, events: [event] }).pipe(
          Effect.catchTag("WrongExpectedVersion", (conflict) => Effect.die(conflict))
        )
      }
      yield* TrackingEventStore.clear
      const executor = Executor.makeWith(store, options.executor)
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
    model.codec.decode({ ...data, streamId, version: 0, position: 0, recordedAt: new Date(0) }),
    (recorded) => recorded.data
  )

/**
 * Reads the current state of a command's streams by folding them with the
 * decider, as the executor would before deciding. Handy for assertions.
 *
 * @since 0.1.0
 */
export const stateOf = <C, S, E extends Tagged, Err>(model: Decider<C, S, E, Err>, command: C) =>
  Effect.gen(function*() {
    const store = typedWith(yield* EventStore, model.codec)
    let state = model.initialState
    for (const streamId of streamsOf(model, command)) {
      state = yield* Stream.runFold(store.read(streamId), state, (s, e) => model.evolve(s, e.data, streamId))
    }
    return state
  })

