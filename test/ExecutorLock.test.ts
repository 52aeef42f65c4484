import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as KeyedLock from "../src/internal/executorLock.ts"

describe("the Executor's per-stream locks", () => {
  it.effect("run holders of one key one at a time, in arrival order, and forget the key when nobody holds or waits", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      const order: Array<number> = []
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(locks.withLocks(["s"])(Effect.zipRight(Deferred.await(gate), Effect.sync(() => order.push(0)))))
      yield* Effect.yieldNow()
      const waiters = []
      for (let i = 1; i <= 5; i++) {
        waiters.push(yield* Effect.fork(locks.withLocks(["s"])(Effect.sync(() => order.push(i)))))
        yield* Effect.yieldNow()
      }
      expect(order).toEqual([])
      expect(locks.size()).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      for (const waiter of waiters) yield* Fiber.join(waiter)
      expect(order).toEqual([0, 1, 2, 3, 4, 5])
      expect(locks.size()).toBe(0)
    }))

  it.effect("let holders of other keys run at once: no global lock", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(locks.withLocks(["a"])(Deferred.await(gate)))
      yield* Effect.yieldNow()
      expect(yield* locks.withLocks(["b", "c"])(Effect.succeed("ran"))).toBe("ran")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      expect(locks.size()).toBe(0)
    }))

  it.effect("an interrupted waiter leaves the queue and the next one still gets the lock", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const holder = yield* Effect.fork(locks.withLocks(["s"])(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const quitter = yield* Effect.fork(locks.withLocks(["s"])(Effect.sync(() => order.push("quitter"))))
      yield* Effect.yieldNow()
      const patient = yield* Effect.fork(locks.withLocks(["s"])(Effect.sync(() => order.push("patient"))))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(quitter)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(patient)
      expect(order).toEqual(["patient"])
      expect(locks.size()).toBe(0)
    }))

  it.effect("take the keys of several streams in one order, so two commands on the same pair cannot deadlock", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      const runs = Array.from({ length: 20 }, (_, i) =>
        locks.withLocks(i % 2 === 0 ? ["x", "y"] : ["y", "x", "y"])(Effect.yieldNow()))
      yield* Effect.all(runs, { concurrency: "unbounded", discard: true })
      expect(locks.size()).toBe(0)
    }))

  it.effect("release the lock when the holder fails or is interrupted", () =>
    Effect.gen(function*() {
      const locks = KeyedLock.make()
      expect(yield* Effect.flip(locks.withLocks(["s"])(Effect.fail("boom")))).toBe("boom")
      const holder = yield* Effect.fork(locks.withLocks(["s"])(Effect.never))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(holder)
      expect(yield* locks.withLocks(["s"])(Effect.succeed(1))).toBe(1)
      expect(locks.size()).toBe(0)
    }))
})
