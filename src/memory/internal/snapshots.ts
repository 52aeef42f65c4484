/**
 * The in-memory snapshot store (internal; public as `MemorySnapshotStore`).
 * Snapshots live in a map keyed by decider and stream; every operation runs in
 * one synchronous step, so concurrent fibers never interleave inside one.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Key, StoredSnapshot } from "../../Snapshot.ts"
import { SnapshotStore } from "../../Snapshot.ts"
import { checkKey, checkPrune, checkSnapshot } from "../../internal/snapshot.ts"

const seriesKey = (key: Key) => JSON.stringify([key.decider, key.streamId])

/** An empty in-memory snapshot store. */
export const make: Effect.Effect<SnapshotStore.Service> = Effect.sync(() => {
  // per decider and stream: every snapshot, any schema version
  const series = new Map<string, Array<StoredSnapshot>>()

  const load: SnapshotStore.Service["load"] = (key) =>
    Effect.suspend(() => {
      const checked = checkKey("loadSnapshot", key)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      let latest: StoredSnapshot | undefined
      for (const snapshot of series.get(seriesKey(key)) ?? []) {
        if (snapshot.schemaVersion === key.schemaVersion && (latest === undefined || snapshot.version > latest.version)) {
          latest = snapshot
        }
      }
      return Effect.succeed(Option.fromNullable(latest))
    })

  const save: SnapshotStore.Service["save"] = (snapshot) =>
    Effect.suspend(() => {
      const checked = checkSnapshot(snapshot)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const id = seriesKey(snapshot)
      const list = series.get(id) ?? []
      const taken = list.some((s) => s.schemaVersion === snapshot.schemaVersion && s.version === snapshot.version)
      if (!taken) {
        list.push({
          decider: snapshot.decider,
          streamId: snapshot.streamId,
          schemaVersion: snapshot.schemaVersion,
          version: snapshot.version,
          position: snapshot.position,
          state: snapshot.state,
          takenAt: snapshot.takenAt
        })
        series.set(id, list)
      }
      return Effect.void
    })

  const prune: SnapshotStore.Service["prune"] = (key, keep) =>
    Effect.suspend(() => {
      const checked = checkPrune(key, keep)
      if (Either.isLeft(checked)) return Effect.fail(checked.left)
      const id = seriesKey(key)
      const list = series.get(id)
      if (list === undefined) return Effect.succeed(0)
      const current = list.filter((s) => s.schemaVersion === key.schemaVersion).sort((a, b) => b.version - a.version)
      const kept = new Set(current.slice(0, keep))
      const remaining = list.filter((s) => s.schemaVersion > key.schemaVersion || kept.has(s))
      if (remaining.length === 0) series.delete(id)
      else series.set(id, remaining)
      return Effect.succeed(list.length - remaining.length)
    })

  return SnapshotStore.of({ load, save, prune })
})
