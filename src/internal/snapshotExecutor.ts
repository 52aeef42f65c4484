/**
 * How the Executor uses snapshots (internal): which snapshot a command may start
 * from, how its primary stream is read after it, and when and how a new one is
 * saved after a command, in the background and bounded.
 *
 * A snapshot covers the state folded from the command's primary stream alone
 * (the first stream `streams` names, always read first). After the command the
 * primary stream's state is the state at the end of its read, folded with the
 * events the command appended to it (the pipeline folds stream after stream, and
 * `evolve` must not depend on how streams interleave).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type { Decider } from "../Decider.ts"
import type { StoredEvent } from "../Event.ts"
import type { Result } from "../Pipeline.ts"
import * as Snapshot from "../Snapshot.ts"
import type { StreamId } from "../StreamId.ts"

type Tagged = { readonly _tag: string }

/**
 * Snapshot options of an executor.
 */
export interface Options {
  /**
   * The snapshot store to use instead of the `SnapshotStore` in context (for an
   * executor built with `makeWith`, as `Scenario.executor` does).
   */
  readonly store?: Snapshot.SnapshotStore.Service | undefined
  /**
   * `"background"` (default): a snapshot is saved in a forked fiber after the
   * command returns, never adding to its latency. `"inline"`: the command waits
   * for the save (its outcome is still never changed by it); for tests and
   * benchmarks. On SQLite, do not run an inline-saving executor inside a
   * transaction of the store's own client: the save waits for its connection.
   */
  readonly writes?: "background" | "inline" | undefined
  /** At most this many background saves at once; a save over the bound is skipped and counted (`busy`). Default 4. */
  readonly maxConcurrentWrites?: number | undefined
  /** A save that takes longer is abandoned and counted (`timeout`). Default 10 seconds. */
  readonly writeTimeout?: Duration.DurationInput | undefined
  /** Snapshots kept per decider and stream after a save (older ones are pruned). Default 1. */
  readonly keep?: number | undefined
}

/** What an executor needs to use snapshots: the store, and its options resolved. */
export interface Context {
  readonly store: Snapshot.SnapshotStore.Service
  readonly inline: boolean
  readonly keep: number
  readonly timeout: Duration.Duration
  readonly semaphore: Effect.Semaphore
}

/** The snapshot context of an executor: none without a store. */
export const makeContext = (
  store: Option.Option<Snapshot.SnapshotStore.Service>,
  options: Options = {}
): Option.Option<Context> =>
  Option.map(options.store === undefined ? store : Option.some(options.store), (store) => ({
    store,
    inline: options.writes === "inline",
    keep: Math.max(1, Math.floor(options.keep ?? 1)),
    timeout: Duration.decode(options.writeTimeout ?? Duration.seconds(10)),
    semaphore: Effect.unsafeMakeSemaphore(Math.max(1, Math.floor(options.maxConcurrentWrites ?? 4)))
  }))

/** One command's use of snapshots: its primary stream, key and policy. */
export interface Plan<S> {
  readonly context: Context
  readonly policy: Snapshot.Policy<S>
  readonly key: Snapshot.Key
  readonly primary: StreamId
}

const isUsablePolicy = <S>(policy: Snapshot.Policy<S>): boolean =>
  Number.isInteger(policy.version) && policy.version >= -2147483648 && policy.version <= 2147483647

/** The plan of a command, when its decider has a usable policy and the executor a store. */
export const planFor = <C, S, E extends Tagged, Err>(
  context: Option.Option<Context>,
  decider: Decider<C, S, E, Err>,
  streams: ReadonlyArray<StreamId>
): Option.Option<Plan<S>> => {
  if (Option.isNone(context) || streams.length === 0) return Option.none()
  return Option.flatMap(Snapshot.policyOf(decider), (policy) =>
    isUsablePolicy(policy)
      ? Option.some({ context: context.value, policy, key: Snapshot.keyOf(decider, policy, streams[0]!), primary: streams[0]! })
      : Option.none())
}

/** The latest usable snapshot of the plan's primary stream (never fails). */
export const load = <S>(plan: Plan<S>): Effect.Effect<Option.Option<Snapshot.Loaded<S>>> =>
  Snapshot.load(plan.context.store, plan.policy, plan.key)

/**
 * Whether the first row read from the snapshot's version is the event the
 * snapshot was taken at. When not, the stream is not the one the snapshot was
 * taken of (restored, rewritten, another database): the snapshot is ignored.
 */
export const matches = <S>(loaded: Snapshot.Loaded<S>, first: StoredEvent | undefined): boolean =>
  first !== undefined && first.version === loaded.version && first.position === loaded.position

/** The primary stream's state and version where its read ended. */
export interface Primary<S> {
  readonly state: S
  readonly version: number
  /** The version of the snapshot the read started from (0: none). */
  readonly previous: number
}

/**
 * After a command that appended to its primary stream, saves a snapshot of that
 * stream when the policy says so: in the background (bounded, skipped when
 * `maxConcurrentWrites` saves are running) or inline. Never fails and never
 * changes the command's outcome.
 */
export const afterCommand = <C, S, E extends Tagged, Err>(
  plan: Plan<S>,
  decider: Decider<C, S, E, Err>,
  primary: Primary<S>,
  result: Result<S, E>
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const streamResult = result.streams.find((s) => s.streamId === plan.primary)
    let written = 0
    let state = primary.state
    for (const { event, streamId } of result.events) {
      if (streamId !== plan.primary) continue
      state = decider.evolve(state, event, streamId)
      written++
    }
    // The pipeline asks for one write per stream read, in reading order, so the
    // primary stream's events take the first positions of the append.
    if (written === 0 || streamResult === undefined || result.positions.length < written) return Effect.void
    const version = streamResult.version
    if (version !== primary.version + written) return Effect.void
    if (!plan.policy.shouldTake({ streamId: plan.primary, state, version, previous: primary.previous })) return Effect.void
    const position = result.positions[written - 1]!
    const { context } = plan
    const save = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Snapshot.save(context.store, plan.policy, plan.key, { version, position, state, takenAt: new Date(now) }, context.keep)).pipe(
        Effect.timeoutOption(context.timeout),
        Effect.flatMap(Option.match({
          onSome: () => Effect.void,
          onNone: () =>
            Effect.zipRight(
              Metric.increment(Metric.tagged(Snapshot.writeFailures, "reason", "timeout")),
              Effect.logWarning("eventfold: snapshot not saved in time").pipe(
                Effect.annotateLogs({ "eventfold.decider": plan.key.decider, "eventfold.stream_id": plan.primary })
              )
            )
        })),
        Effect.withSpan("eventfold.snapshot.save", {
          attributes: { "eventfold.decider": plan.key.decider, "eventfold.stream_id": plan.primary, "eventfold.version": version }
        })
      )
    if (context.inline) return save
    return context.semaphore.withPermitsIfAvailable(1)(save).pipe(
      Effect.flatMap(Option.match({
        onSome: () => Effect.void,
        onNone: () => Metric.increment(Metric.tagged(Snapshot.writeFailures, "reason", "busy"))
      })),
      Effect.forkDaemon,
      Effect.asVoid
    )
  })
