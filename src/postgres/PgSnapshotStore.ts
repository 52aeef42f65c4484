/**
 * A `SnapshotStore` over PostgreSQL, in the table `eventfold_snapshots` that the
 * event store's migrations create (`PgEventStore.migrate`), in the first schema
 * of the connection's `search_path`. Put it on the same client as the event store.
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import { PgClient } from "@effect/sql-pg"
 * import { PgEventStore, PgSnapshotStore } from "eventfold/postgres"
 *
 * const url = Redacted.make("postgres://app@db/app")
 * // both stores on one pool; the event store's migrations create the snapshot table
 * const Stores = Layer.merge(PgEventStore.layerFromClient(), PgSnapshotStore.layerFromClient()).pipe(
 *   Layer.provide(PgClient.layer({ url }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import type { SqlClient } from "@effect/sql"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SnapshotStore } from "../Snapshot.ts"
import * as internal from "./internal/snapshots.ts"

/**
 * The snapshot store over the `SqlClient` in context, a `PgClient` whose schema
 * is migrated.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (): Effect.Effect<SnapshotStore.Service, never, SqlClient.SqlClient> => internal.make

/**
 * The snapshot store as a layer over the `SqlClient` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFromClient = (): Layer.Layer<SnapshotStore, never, SqlClient.SqlClient> => Layer.effect(SnapshotStore, make())
