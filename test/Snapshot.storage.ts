/**
 * The behaviour every `SnapshotStore` must have, registered once per backend by
 * test/SnapshotStore.test.ts (memory, SQLite) and test/Snapshot.postgres.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { Snapshot, StreamId } from "eventfold"

const sid = StreamId.unsafeMake

const key = (streamId = "account-1", schemaVersion = 1, decider = "Account"): Snapshot.Key => ({
  decider,
  streamId: sid(streamId),
  schemaVersion
})

const snapshot = (
  version: number,
  state: string,
  k: Snapshot.Key = key(),
  takenAt = new Date(1_700_000_000_000 + version)
): Snapshot.StoredSnapshot => ({ ...k, version, position: version * 10, state, takenAt })

const store = Snapshot.SnapshotStore

const versions = (k: Snapshot.Key) =>
  Effect.flatMap(store, (s) => s.load(k)).pipe(Effect.map(Option.map((found) => [found.version, found.state] as const)))

/**
 * Registers the suite. `fresh` gives a layer with an empty store, built anew for
 * every test.
 */
export const storageSuite = (name: string, fresh: () => Layer.Layer<Snapshot.SnapshotStore, unknown>) =>
  describe(`${name} snapshot store`, () => {
    const run = <A, E>(self: Effect.Effect<A, E, Snapshot.SnapshotStore>) => Effect.provide(self, Layer.orDie(fresh()))

    it.effect("load finds nothing in an empty store", () =>
      run(Effect.gen(function*() {
        expect(yield* versions(key())).toEqual(Option.none())
      })))

    it.effect("a saved snapshot loads back with every field", () =>
      run(Effect.gen(function*() {
        const s = yield* store
        const saved = snapshot(7, JSON.stringify({ balance: 12.5, owner: "Zoë 🐙 \"quoted\" \\ \u0001" }))
        yield* s.save(saved)
        const loaded = yield* s.load(key())
        expect(loaded).toEqual(Option.some(saved))
        expect(Option.getOrThrow(loaded).takenAt.getTime()).toBe(1_700_000_000_007)
      })))

    it.effect("load returns the highest version, and a second save of a version keeps the first", () =>
      run(Effect.gen(function*() {
        const s = yield* store
        yield* s.save(snapshot(5, "\"five\""))
        yield* s.save(snapshot(20, "\"twenty\""))
        yield* s.save(snapshot(12, "\"twelve\""))
        yield* s.save(snapshot(20, "\"other twenty\""))
        expect(yield* versions(key())).toEqual(Option.some([20, "\"twenty\""]))
      })))

    it.effect("snapshots of another decider, stream or schema version are another series", () =>
      run(Effect.gen(function*() {
        const s = yield* store
        yield* s.save(snapshot(3, "\"a\"", key("account-1", 1, "Account")))
        yield* s.save(snapshot(9, "\"b\"", key("account-2", 1, "Account")))
        yield* s.save(snapshot(8, "\"c\"", key("account-1", 2, "Account")))
        yield* s.save(snapshot(7, "\"d\"", key("account-1", 1, "Ledger")))
        expect(yield* versions(key("account-1", 1, "Account"))).toEqual(Option.some([3, "\"a\""]))
        expect(yield* versions(key("account-2", 1, "Account"))).toEqual(Option.some([9, "\"b\""]))
        expect(yield* versions(key("account-1", 2, "Account"))).toEqual(Option.some([8, "\"c\""]))
        expect(yield* versions(key("account-1", 1, "Ledger"))).toEqual(Option.some([7, "\"d\""]))
        expect(yield* versions(key("account-1", 3, "Account"))).toEqual(Option.none())
      })))

    it.effect("prune keeps the newest of the key's schema version and newer schema versions, and deletes the rest", () =>
      run(Effect.gen(function*() {
        const s = yield* store
        for (const v of [1, 2, 3, 4]) yield* s.save(snapshot(v, `${v}`, key("account-1", 2)))
        yield* s.save(snapshot(10, "\"old schema\"", key("account-1", 1)))
        yield* s.save(snapshot(1, "\"new schema\"", key("account-1", 3)))
        yield* s.save(snapshot(1, "\"other stream\"", key("account-2", 1)))
        expect(yield* s.prune(key("account-1", 2), 2)).toBe(3) // versions 1 and 2, and schema 1
        expect(yield* versions(key("account-1", 2))).toEqual(Option.some([4, "4"]))
        expect(yield* versions(key("account-1", 1))).toEqual(Option.none())
        expect(yield* versions(key("account-1", 3))).toEqual(Option.some([1, "\"new schema\""]))
        expect(yield* versions(key("account-2", 1))).toEqual(Option.some([1, "\"other stream\""]))
        expect(yield* s.prune(key("account-1", 2), 1)).toBe(1) // version 3
        expect(yield* s.prune(key("account-1", 2), 1)).toBe(0)
        expect(yield* versions(key("account-1", 2))).toEqual(Option.some([4, "4"]))
        expect(yield* s.prune(key("nothing-here", 1), 1)).toBe(0)
      })))

    it.effect("bad arguments fail with InvalidArgument and write nothing", () =>
      run(Effect.gen(function*() {
        const s = yield* store
        const bad: ReadonlyArray<Snapshot.StoredSnapshot> = [
          snapshot(0, "1"),
          snapshot(1.5, "1"),
          { ...snapshot(1, "1"), position: -1 },
          snapshot(1, "1", key("account-1", 1.5)),
          snapshot(1, "1", key("account-1", 1, "")),
          snapshot(1, "1", key("account-1", 1, "A\u0000")),
          snapshot(1, "nul \u0000 here"),
          snapshot(1, "1", key(), new Date(Number.NaN))
        ]
        for (const s1 of bad) {
          const result = yield* Effect.either(s.save(s1))
          expect(Either.isLeft(result) && result.left._tag).toBe("InvalidArgument")
        }
        expect(yield* versions(key())).toEqual(Option.none())
        const pruned = yield* Effect.either(s.prune(key(), 0))
        expect(Either.isLeft(pruned) && pruned.left._tag).toBe("InvalidArgument")
        const loaded = yield* Effect.either(s.load(key("account-1", 1, "")))
        expect(Either.isLeft(loaded) && loaded.left._tag).toBe("InvalidArgument")
      })))

    it.effect("concurrent saves and prunes of one stream leave the highest version", () =>
      run(Effect.gen(function*() {
        const s = yield* store
        yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i + 1),
          (v) => Effect.zipRight(s.save(snapshot(v, `${v}`)), s.prune(key(), 1)),
          { concurrency: "unbounded" }
        )
        expect(yield* versions(key())).toEqual(Option.some([40, "40"]))
        yield* s.prune(key(), 1)
        expect(yield* s.prune(key(), 1)).toBe(0)
      })))
  })
