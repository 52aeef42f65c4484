/**
 * Snapshots of command state: a speed-up that can never change a result.
 *
 * A command on a long stream folds every event of it. With a snapshot policy on
 * its decider ({@link enable}) and a {@link SnapshotStore} in context, the
 * `Executor` starts from the latest usable snapshot of the command's primary
 * stream and folds only the events after it; after a successful append it saves
 * a new snapshot when the policy says so, in the background, without adding to
 * the command's latency and without ever failing it.
 *
 * What a snapshot covers: the state folded from **one stream alone**, from the
 * decider's `initialState`, up to a version. It is used only for a command's
 * primary stream (the first one `streams` names), which is always read first;
 * other declared streams and discovered ones are always read in full. So a
 * single-stream decider gets the whole speed-up, and a multi-stream one (a
 * transfer between two accounts) gets it for the stream it reads first.
 *
 * A snapshot is only ever an optimisation. One that does not decode, has
 * another schema version, or no longer matches its stream (the event it was
 * taken at is not there) is ignored, counted in {@link ignored} and logged, and
 * the state is folded from the start. Bump the policy's `version` whenever the
 * state's schema or the meaning of `evolve` changes. See adr/0015-snapshots.md.
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
 * const snapshotted = Snapshot.enable(account, { schema: Schema.Number, version: 1, every: 100 })
 *
 * // run it with an Executor whose context has a SnapshotStore: MemorySnapshotStore.layer(),
 * // SqliteSnapshotStore.layerFromClient(), PgSnapshotStore.layerFromClient()
 * const Stores = Layer.merge(MemoryEventStore.layer(), MemorySnapshotStore.layer())
 *
 * const program = Effect.gen(function*() {
 *   yield* Executor.execute(snapshotted, new Deposit({ account: "ada", amount: 100 }))
 *   const { state } = yield* Executor.execute(snapshotted, new Withdraw({ account: "ada", amount: 30 }))
 *   assert.strictEqual(state, 70)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Executor.layerOn(Stores))))
 * ```
 *
 * @since 0.2.0
 */
import type * as ParseResult from "effect/ParseResult"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { dual } from "effect/Function"
import type { Decider } from "./Decider.ts"
import type { InvalidArgument, StoreUnavailable } from "./StoreError.ts"
import type { StreamId } from "./StreamId.ts"

type Tagged = { readonly _tag: string }

// ---------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------

/**
 * What identifies a series of snapshots: the decider's snapshot name, the
 * stream and the schema version of the state.
 *
 * @since 0.2.0
 * @category models
 */
export interface Key {
  readonly decider: string
  readonly streamId: StreamId
  readonly schemaVersion: number
}

/**
 * A snapshot as stored: the state folded from the stream's events `1..version`,
 * encoded as JSON text, with the global `position` of the event at `version`
 * (so a reader can check the snapshot still matches its stream).
 *
 * @since 0.2.0
 * @category models
 */
export interface StoredSnapshot extends Key {
  /** The stream version the state was folded up to (at least 1). */
  readonly version: number
  /** The global position of the stream's event at `version`. */
  readonly position: number
  /** The state, encoded by the policy's schema, as JSON text. */
  readonly state: string
  readonly takenAt: Date
}

/**
 * @since 0.2.0
 * @category models
 */
export declare namespace SnapshotStore {
  /**
   * The operations of a snapshot store. Implementations: `MemorySnapshotStore`
   * (`eventfold/memory`), `SqliteSnapshotStore` (`eventfold/sqlite`) and
   * `PgSnapshotStore` (`eventfold/postgres`), the SQL ones in the table
   * `eventfold_snapshots` created by the event store's migrations.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service {
    /**
     * The snapshot of `key` with the highest version, if any. Fails with
     * `InvalidArgument` when a field of the key is out of range.
     */
    readonly load: (key: Key) => Effect.Effect<Option.Option<StoredSnapshot>, StoreUnavailable | InvalidArgument>
    /**
     * Stores a snapshot. Saving one whose key and version are already stored
     * does nothing (the first writer wins: both states are the same fold of the
     * same events). Fails with `InvalidArgument`, writing nothing, when a field is
     * out of range.
     */
    readonly save: (snapshot: StoredSnapshot) => Effect.Effect<void, StoreUnavailable | InvalidArgument>
    /**
     * Deletes old snapshots of `key`'s decider and stream: every one of a lower
     * schema version, and all but the `keep` highest versions of `key`'s schema
     * version (`keep` at least 1). Snapshots of a higher schema version (a newer
     * deployment's) are left alone. Returns how many were deleted.
     */
    readonly prune: (key: Key, keep: number) => Effect.Effect<number, StoreUnavailable | InvalidArgument>
  }
}

/**
 * The snapshot store service tag.
 *
 * @since 0.2.0
 * @category tags
 */
export class SnapshotStore extends Context.Tag("eventfold/SnapshotStore")<SnapshotStore, SnapshotStore.Service>() {}

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

/**
 * What a policy's predicate is asked after an append that moved the primary
 * stream.
 *
 * @since 0.2.0
 * @category models
 */
export interface TakeInfo<S> {
  readonly streamId: StreamId
  /** The primary stream's state after the append (folded from that stream alone). */
  readonly state: S
  /** The primary stream's version after the append. */
  readonly version: number
  /** The version of the snapshot the command started from; 0 when it started from the beginning. */
  readonly previous: number
}

/**
 * When and how to snapshot a decider's state.
 *
 * @since 0.2.0
 * @category models
 */
export interface Policy<S> {
  /** The name snapshots are stored under; the decider's `name` when not given. */
  readonly name: string | undefined
  /** The schema version: snapshots of any other version are ignored. */
  readonly version: number
  /** Whether to save a snapshot after an append. */
  readonly shouldTake: (info: TakeInfo<S>) => boolean
  /** The state as JSON text. */
  readonly encode: (state: S) => Either.Either<string, ParseResult.ParseError>
  /** The state from JSON text. */
  readonly decode: (text: string) => Either.Either<S, ParseResult.ParseError>
}

/**
 * What {@link policy} and {@link enable} take: the state's schema (its encoded
 * side must be JSON), a schema version, and either `every` (take a snapshot
 * once the stream is at least that many events past the last one) or `when` (a
 * predicate).
 *
 * @since 0.2.0
 * @category models
 */
export type PolicyOptions<S, I> =
  & {
    readonly schema: Schema.Schema<S, I>
    /**
     * An integer (32-bit); bump it when the state's schema or `evolve` changes.
     * Any other value turns snapshots off for the decider.
     */
    readonly version: number
    /** The name snapshots are stored under (default: the decider's `name`). Must be unique per decider. */
    readonly name?: string
  }
  & (
    | { readonly every: number; readonly when?: undefined }
    | { readonly when: (info: TakeInfo<S>) => boolean; readonly every?: undefined }
  )

/**
 * Builds a snapshot policy.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Snapshot } from "eventfold"
 *
 * const Balance = Schema.Struct({ amount: Schema.Number, currency: Schema.String })
 *
 * // after every 500 events since the last snapshot
 * const everyFiveHundred = Snapshot.policy({ schema: Balance, version: 2, every: 500 })
 * // or on a condition of your own
 * const atThousands = Snapshot.policy({ schema: Balance, version: 2, when: ({ version }) => version % 1000 === 0 })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const policy = <S, I>(options: PolicyOptions<S, I>): Policy<S> => {
  const json = Schema.parseJson(options.schema)
  const encode = Schema.encodeEither(json)
  const decode = Schema.decodeUnknownEither(json)
  const every = options.every
  return {
    name: options.name,
    version: options.version,
    shouldTake: options.when ?? ((info) => info.version - info.previous >= Math.max(1, every ?? 1)),
    encode: (state) => encode(state),
    decode: (text) => decode(text)
  }
}

/**
 * A decider that carries a snapshot policy.
 *
 * @since 0.2.0
 * @category models
 */
export interface Snapshotted<C, S, E extends Tagged, Err> extends Decider<C, S, E, Err> {
  readonly snapshots: Policy<S>
}

/**
 * Gives a decider a snapshot policy (a {@link Policy} or the options of one).
 * The decider is otherwise unchanged: without a `SnapshotStore` in context, or
 * driven by the pure `Pipeline`, it behaves exactly as before.
 *
 * @example
 * ```ts
 * import { Either, Option, Schema } from "effect"
 * import { Decider, EventCodec, Snapshot, StreamId } from "eventfold"
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
 * // data-first
 * const snapshotted = Snapshot.enable(account, { schema: Schema.Number, version: 1, every: 1000 })
 * // data-last, e.g. in a pipe
 * const same = Snapshot.enable({ schema: Schema.Number, version: 1, every: 1000 })(account)
 *
 * assert.ok(Option.isSome(Snapshot.policyOf(snapshotted)) && Option.isSome(Snapshot.policyOf(same)))
 * assert.ok(Option.isNone(Snapshot.policyOf(account))) // the decider itself is unchanged
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const enable: {
  <S, I>(
    policy: Policy<S> | PolicyOptions<S, I>
  ): <C, E extends Tagged, Err>(decider: Decider<C, S, E, Err>) => Snapshotted<C, S, E, Err>
  <C, S, E extends Tagged, Err, I>(
    decider: Decider<C, S, E, Err>,
    policy: Policy<NoInfer<S>> | PolicyOptions<NoInfer<S>, I>
  ): Snapshotted<C, S, E, Err>
} = dual(2, <C, S, E extends Tagged, Err, I>(
  decider: Decider<C, S, E, Err>,
  given: Policy<S> | PolicyOptions<S, I>
): Snapshotted<C, S, E, Err> => ({
  ...decider,
  snapshots: "shouldTake" in given ? given : policy(given)
}))

/**
 * The snapshot policy of a decider, if it has one.
 *
 * @since 0.2.0
 * @category getters
 */
export const policyOf = <C, S, E extends Tagged, Err>(decider: Decider<C, S, E, Err>): Option.Option<Policy<S>> =>
  "snapshots" in decider ? Option.some((decider as Snapshotted<C, S, E, Err>).snapshots) : Option.none()

/**
 * The decider without its snapshot policy: the executor never uses snapshots
 * for it. For comparisons (`Scenario`, property tests) with and without.
 *
 * @since 0.2.0
 * @category combinators
 */
export const disable = <C, S, E extends Tagged, Err>(decider: Decider<C, S, E, Err>): Decider<C, S, E, Err> => {
  if (!("snapshots" in decider)) return decider
  const { snapshots: _, ...rest } = decider as Snapshotted<C, S, E, Err>
  return rest
}

/**
 * The key of a decider's snapshots of `streamId` under `policy`.
 *
 * @since 0.2.0
 * @category getters
 */
export const keyOf = <S>(
  decider: { readonly name: string },
  policy: Policy<S>,
  streamId: StreamId
): Key => ({ decider: policy.name ?? decider.name, streamId, schemaVersion: policy.version })

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/**
 * Snapshots a command started from.
 *
 * @since 0.2.0
 * @category metrics
 */
export const loaded = Metric.counter("eventfold_snapshots_loaded_total", {
  description: "Snapshots commands started from",
  incremental: true
})

/**
 * Snapshots found but not used, tagged `reason`: `decode` (the state does not
 * decode), `schema_version` (another version than the policy's), `diverged`
 * (the stream no longer has the event the snapshot was taken at),
 * `unavailable` (the snapshot store failed) or `invalid` (the key was refused:
 * a decider name or schema version out of range).
 *
 * @since 0.2.0
 * @category metrics
 */
export const ignored = Metric.counter("eventfold_snapshots_ignored_total", {
  description: "Snapshots ignored (state folded from the start instead), by reason",
  incremental: true
})

/**
 * Snapshots saved.
 *
 * @since 0.2.0
 * @category metrics
 */
export const written = Metric.counter("eventfold_snapshots_written_total", {
  description: "Snapshots saved after commands",
  incremental: true
})

/**
 * Snapshot saves that did not happen, tagged `reason`: `encode`, `unavailable`,
 * `invalid` or `busy` (skipped: the executor's bound on concurrent saves was
 * reached).
 *
 * @since 0.2.0
 * @category metrics
 */
export const writeFailures = Metric.counter("eventfold_snapshot_write_failures_total", {
  description: "Snapshot saves that failed or were skipped, by reason",
  incremental: true
})

/**
 * How long saving a snapshot takes (encode, save, prune).
 *
 * @since 0.2.0
 * @category metrics
 */
export const writeDuration = Metric.timer("eventfold_snapshot_write_duration", "Snapshot save time")

// ---------------------------------------------------------------------------
// Loading and saving, as the executor does
// ---------------------------------------------------------------------------

/**
 * A decoded snapshot, ready to be fed to a pipeline.
 *
 * @since 0.2.0
 * @category models
 */
export interface Loaded<S> {
  readonly streamId: StreamId
  readonly version: number
  readonly position: number
  readonly state: S
}

const ignore = (reason: string, key: Key, detail: Record<string, unknown>) =>
  Effect.zipRight(
    Metric.increment(Metric.tagged(ignored, "reason", reason)),
    Effect.logWarning("eventfold: snapshot ignored, folding from the start").pipe(
      Effect.annotateLogs({
        "eventfold.snapshot.reason": reason,
        "eventfold.decider": key.decider,
        "eventfold.stream_id": key.streamId,
        "eventfold.snapshot.schema_version": key.schemaVersion,
        ...detail
      })
    )
  )

/**
 * Loads and decodes the latest snapshot of `key`. Never fails: a store failure,
 * a state that does not decode or a snapshot of another schema version gives
 * `None`, counted in {@link ignored} and logged.
 *
 * @since 0.2.0
 * @category operations
 */
export const load = <S>(
  store: SnapshotStore.Service,
  policy: Policy<S>,
  key: Key
): Effect.Effect<Option.Option<Loaded<S>>> =>
  store.load(key).pipe(
    Effect.matchEffect({
      onFailure: (error) =>
        Effect.as(
          ignore(error._tag === "InvalidArgument" ? "invalid" : "unavailable", key, { "eventfold.error": error.message }),
          Option.none()
        ),
      onSuccess: Option.match({
        onNone: () => Effect.succeedNone,
        onSome: (stored) => {
          if (
            stored.schemaVersion !== policy.version || stored.decider !== key.decider || stored.streamId !== key.streamId ||
            !Number.isSafeInteger(stored.version) || stored.version < 1
          ) {
            return Effect.as(
              ignore("schema_version", key, { "eventfold.snapshot.found": stored.schemaVersion, "eventfold.snapshot.version": stored.version }),
              Option.none()
            )
          }
          const decoded = policy.decode(stored.state)
          if (Either.isLeft(decoded)) {
            return Effect.as(
              ignore("decode", key, { "eventfold.snapshot.version": stored.version, "eventfold.error": decoded.left.message }),
              Option.none()
            )
          }
          return Effect.succeed(Option.some({
            streamId: stored.streamId,
            version: stored.version,
            position: stored.position,
            state: decoded.right
          }))
        }
      })
    })
  )

/**
 * Records that a loaded snapshot was found not to match its stream (the event
 * at its version is missing or another one): counted in {@link ignored} as
 * `diverged` and logged.
 *
 * @since 0.2.0
 * @category operations
 */
export const diverged = (key: Key, version: number): Effect.Effect<void> =>
  ignore("diverged", key, { "eventfold.snapshot.version": version })

/**
 * Encodes `state` and saves it as the snapshot of `key` at `version`, then prunes
 * all but the `keep` latest (default 1). Never fails: failures are counted in
 * {@link writeFailures} and logged.
 *
 * @since 0.2.0
 * @category operations
 */
export const save = <S>(
  store: SnapshotStore.Service,
  policy: Policy<S>,
  key: Key,
  taken: { readonly version: number; readonly position: number; readonly state: S; readonly takenAt: Date },
  keep = 1
): Effect.Effect<boolean> => {
  const failed = (reason: string, message: string) =>
    Effect.zipRight(
      Metric.increment(Metric.tagged(writeFailures, "reason", reason)),
      Effect.logWarning("eventfold: snapshot not saved").pipe(
        Effect.annotateLogs({
          "eventfold.snapshot.reason": reason,
          "eventfold.decider": key.decider,
          "eventfold.stream_id": key.streamId,
          "eventfold.snapshot.version": taken.version,
          "eventfold.error": message
        }),
        Effect.as(false)
      )
    )
  return Effect.suspend(() => {
    const encoded = policy.encode(taken.state)
    if (Either.isLeft(encoded)) return failed("encode", encoded.left.message)
    return store.save({ ...key, version: taken.version, position: taken.position, state: encoded.right, takenAt: taken.takenAt }).pipe(
      Effect.zipRight(store.prune(key, keep)),
      Effect.zipRight(Metric.increment(written)),
      Effect.as(true),
      Effect.catchAll((error) => failed(error._tag === "InvalidArgument" ? "invalid" : "unavailable", error.message)),
      Metric.trackDuration(writeDuration)
    )
  })
}
