/**
 * Given / then tests for projections: given these events in a fresh store, the
 * projection's read model reads back as this.
 *
 * The scenario appends the given events through the projection's codec,
 * replays the log through the projection (as `Projection.rebuild` does, with
 * its checkpoints and transactions), then runs your query of the read model
 * and compares its result structurally with the expected one. The store is the
 * memory store unless you pass a layer: pass a SQL store layer that also
 * provides the `SqlClient` to test a projection into SQL tables.
 *
 * @example
 * ```ts
 * import { SqlClient } from "@effect/sql"
 * import { Effect, Layer, Schema } from "effect"
 * import { EventCodec, Projection, StreamId } from "eventfold"
 * import { SqliteEventStore } from "eventfold/sqlite"
 * import { ProjectionScenario } from "eventfold/testing"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 *
 * const balances = Projection.make({
 *   name: "balances",
 *   codec: EventCodec.make(Deposited),
 *   handle: (events) =>
 *     Effect.flatMap(SqlClient.SqlClient, (sql) =>
 *       Effect.forEach(events, (event) =>
 *         sql`INSERT INTO balances (id, balance) VALUES (${event.streamId}, ${event.data.amount})
 *             ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance`, { discard: true }))
 * })
 *
 * // a SQL store that also provides the SqlClient, with the read model's table
 * const storeAndClient = Layer.merge(
 *   SqliteEventStore.layerFromClient(),
 *   Layer.effectDiscard(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE balances (id TEXT PRIMARY KEY, balance INTEGER)`))
 * ).pipe(Layer.provideMerge(SqliteEventStore.layerClient({ filename: ":memory:" })))
 *
 * const a = StreamId.unsafeMake("account-a")
 *
 * // in a test: it.effect("deposits add up per account", () => scenario)
 * const scenario = ProjectionScenario.make(balances, { layer: storeAndClient })
 *   .given([
 *     { streamId: a, event: new Deposited({ amount: 10 }) },
 *     { streamId: a, event: new Deposited({ amount: 5 }) }
 *   ])
 *   .then(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT id, balance FROM balances`), [{ id: "account-a", balance: 15 }])
 *
 * Effect.runPromise(scenario)
 * ```
 *
 * @since 0.2.0
 */
import type * as Layer from "effect/Layer"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { inspect } from "node:util"
import type { EventFor } from "../Decider.ts"
import { EventStore, typedFrom } from "../EventStore.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import { MemoryEventStore } from "../memory/index.ts"
import * as Projection from "../Projection.ts"
import type { EventEncodeError, ReadError, AppendError } from "../StoreError.ts"
import { equivalent } from "./Scenario.ts"

const inspectOptions = { depth: 6, breakLength: Infinity, compact: true } as const

/**
 * The read model did not read back as expected. The message shows the given
 * events, the expected and the actual result.
 *
 * @since 0.2.0
 * @category errors
 */
export class ProjectionScenarioFailure extends Data.TaggedError("ProjectionScenarioFailure")<{
  readonly projection: string
  readonly given: unknown
  readonly expected: unknown
  readonly actual: unknown
}> {
  override get message(): string {
    return [
      `Projection scenario failed (${this.projection})`,
      `  Given:    ${inspect(this.given, inspectOptions)}`,
      `  Expected: ${inspect(this.expected, inspectOptions)}`,
      `  Actual:   ${inspect(this.actual, inspectOptions)}`
    ].join("\n")
  }
}

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<LOut, StoreErr> {
  /** The store (and whatever else the projection and the query need); default: a fresh memory store. */
  readonly layer?: Layer.Layer<EventStore | LOut, StoreErr> | undefined
  /** Events per batch while replaying (default 256). */
  readonly batchSize?: number | undefined
}

/**
 * What a projection scenario can fail with.
 *
 * @since 0.2.0
 * @category errors
 */
export type ScenarioError<Err, StoreErr> =
  | ProjectionScenarioFailure
  | Projection.RunError
  | Projection.LeadershipLost
  | AppendError
  | EventEncodeError
  | ReadError
  | Err
  | StoreErr

/**
 * Starts a projection scenario.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <E, Err, R, LOut = never, StoreErr = never>(
  projection: Projection.Projection<E, Err, R>,
  options: Options<LOut, StoreErr> = {}
) => ({
  /** The events in the store before the projection runs, in order. */
  given: (events: ReadonlyArray<EventFor<E>>) => ({
    /**
     * Replays the given events through the projection, runs `query` and fails
     * with {@link ProjectionScenarioFailure} unless its result equals
     * `expected` (structurally). Succeeds with the result.
     */
    then: <A, QErr, QR>(
      query: Effect.Effect<A, QErr, QR>,
      expected: A
    ): Effect.Effect<A, ScenarioError<Err | QErr, StoreErr>, Exclude<R | QR, EventStore | LOut>> =>
      Effect.gen(function*() {
        const store = typedFrom(yield* EventStore, projection.codec)
        for (const { event, streamId } of events) {
          yield* store.append({ streamId, expected: ExpectedVersion.any, events: [event] })
        }
        yield* Stream.runDrain(Projection.rebuild(projection, { reset: Effect.void, batchSize: options.batchSize }))
        const actual = yield* query
        if (!equivalent(actual, expected)) {
          return yield* new ProjectionScenarioFailure({ projection: projection.name, given: events, expected, actual })
        }
        return actual
      }).pipe(
        Effect.provide(options.layer ?? (MemoryEventStore.layer() as unknown as Layer.Layer<EventStore | LOut, StoreErr>))
      ) as Effect.Effect<A, ScenarioError<Err | QErr, StoreErr>, Exclude<R | QR, EventStore | LOut>>
  })
})
