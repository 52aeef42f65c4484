/**
 * A `SnapshotStore` over SQLite, in the table `eventfold_snapshots` that the
 * event store's migrations create (`SqliteEventStore.migrate`). Put it on the
 * same client as the event store.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { SqliteEventStore, SqliteSnapshotStore } from "eventfold/sqlite"
 *
 * // both stores on one client; the event store's migrations create the snapshot table
 * const Stores = Layer.merge(SqliteEventStore.layerFromClient(), SqliteSnapshotStore.layerFromClient()).pipe(
 *   Layer.provide(SqliteEventStore.layerClient({ filename: "events.db" }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import type { SqlClient } from "@effect/sql"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SnapshotStore } from "../Snapshot.ts"
import * as internal from "./internal/snapshots.ts"

/**
 * Options of {@link make} and {@link layerFromClient}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * How long a save or prune keeps retrying while another connection holds the
   * database's write lock, before it fails (the executor then counts and logs
   * it). Default 5 seconds.
   */
  readonly busyTimeout?: Duration.DurationInput | undefined
}

/**
 * The snapshot store over the `SqlClient` in context, a SQLite client whose
 * schema is migrated.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<SnapshotStore.Service, never, SqlClient.SqlClient> => internal.make(options)

/**
 * The snapshot store as a layer over the `SqlClient` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFromClient = (options?: Options): Layer.Layer<SnapshotStore, never, SqlClient.SqlClient> =>
  Layer.effect(SnapshotStore, make(options))
