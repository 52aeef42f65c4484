/**
 * An in-memory `SnapshotStore`, for tests and for the memory event store.
 *
 * @example
 * ```ts
 * import { Executor } from "eventfold"
 * import { MemoryEventStore, MemorySnapshotStore } from "eventfold/memory"
 *
 * program.pipe(Effect.provide(Executor.layerOn(Layer.merge(MemoryEventStore.layer(), MemorySnapshotStore.layer()))))
 * ```
 *
 * @since 0.2.0
 */
import * as Layer from "effect/Layer"
import type * as Effect from "effect/Effect"
import { SnapshotStore } from "../Snapshot.ts"
import * as internal from "./internal/snapshots.ts"

/**
 * Creates an empty in-memory snapshot store.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (): Effect.Effect<SnapshotStore.Service> => internal.make

/**
 * A layer with a fresh, empty in-memory snapshot store.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (): Layer.Layer<SnapshotStore> => Layer.effect(SnapshotStore, make())
