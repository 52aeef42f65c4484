/**
 * The read-side part of the store contract: subscriptions (catch-up then live,
 * filters, resume from a checkpoint, no duplicate and no gap across a restart,
 * a concurrent writer while catching up) and projections (checkpoints, failure
 * policy, one runner at a time, rebuild, status). `StoreContract.suite` runs it
 * for every store that has a read side.
 *
 * @since 0.2.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Layer from "effect/Layer"
import { Cursor, Event, EventCodec, EventStore, ExpectedVersion, Projection, StoreError, StreamId, Subscription } from "../index.ts"

/**
 * What the suite needs from a backend.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<E> {
  /** A layer with a fresh, empty store that has a read side. Called once per test. */
  readonly makeStore: () => Layer.Layer<EventStore.EventStore, E>
}

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
const AccountEvent = Schema.Union(Deposited, Withdrawn)
type AccountEvent = typeof AccountEvent.Type
const codec = EventCodec.make(AccountEvent)

const sid = StreamId.unsafeMake

const encode = (events: ReadonlyArray<AccountEvent>): Effect.Effect<Array<Event.EventData>> =>
  Effect.forEach(events, (event) => Effect.orDie(EventCodec.toEventData(codec, event)))

const appendTo = (stream: string, events: ReadonlyArray<AccountEvent>) =>
  Effect.flatMap(encode(events), (encoded) =>
    Effect.flatMap(EventStore.EventStore, (store) =>
      Effect.orDie(store.append({ streamId: sid(stream), expected: ExpectedVersion.any, events: encoded }))))

const deposits = (stream: string, n: number, first = 1) =>
  appendTo(stream, Array.from({ length: n }, (_, i) => new Deposited({ amount: first + i })))

const wholeLog = Effect.flatMap(EventStore.EventStore, (store) => Effect.orDie(Stream.runCollect(store.readAll()))).pipe(
  Effect.map(Chunk.toReadonlyArray)
)

const ids = (events: Iterable<{ readonly eventId: string }>) => Array.from(events, (e) => e.eventId)

/** Short intervals keep the live tests fast; correctness never depends on them. */
const live = { pollInterval: Duration.millis(20) } as const
const fastRun = { pollInterval: Duration.millis(20), leaseDuration: Duration.millis(400) } as const

/** Repeats `effect` every 10 ms until `done` holds (the test's timeout bounds it). */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean): Effect.Effect<A, E, R> =>
  Effect.flatMap(effect, (a) => done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep(Duration.millis(10)), eventually(effect, done)))

const statusOf = (name: string) =>
  Effect.map(Effect.orDie(Projection.status), (all) => Option.fromNullable(all.find((s) => s.name === name)))

const caughtUp = (name: string) =>
  eventually(statusOf(name), (s) => Option.isSome(s) && s.value.head > 0 && s.value.lag === 0)

/**
 * Registers the subscription and projection cases (inside the caller's
 * `describe`).
 *
 * @since 0.2.0
 * @category suite
 */
export const cases = <E>(options: Options<E>): void => {
  const run = <A, E2>(self: Effect.Effect<A, E2, EventStore.EventStore>) => Effect.provide(self, options.makeStore())

  describe("Subscription", () => {
    it.live("catches up with the log, then follows appends as they commit", () =>
      run(Effect.gen(function*() {
        yield* deposits("sub-a", 5)
        const seenFive = yield* Deferred.make<void>()
        let count = 0
        const fiber = yield* Subscription.stored(live).pipe(
          Stream.tap(() => ++count === 5 ? Deferred.succeed(seenFive, undefined) : Effect.void),
          Stream.take(8),
          Stream.runCollect,
          Effect.fork
        )
        yield* Deferred.await(seenFive)
        yield* deposits("sub-b", 3)
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
        const log = yield* wholeLog
        expect(ids(seen)).toEqual(ids(log))
        expect(seen.map((e) => e.streamId)).toEqual([...Array(5).fill("sub-a"), ...Array(3).fill("sub-b")])
      })))

    it.live("filters by stream prefix and by type, live as well as while catching up", () =>
      run(Effect.gen(function*() {
        yield* appendTo("acct-1", [new Deposited({ amount: 1 }), new Withdrawn({ amount: 2 })])
        yield* appendTo("other-1", [new Withdrawn({ amount: 3 })])
        yield* appendTo("acct-2", [new Withdrawn({ amount: 4 })])
        const fiber = yield* Subscription.typed(codec, { ...live, streamPrefix: "acct-", types: ["Withdrawn"] }).pipe(
          Stream.take(3),
          Stream.runCollect,
          Effect.fork
        )
        yield* appendTo("other-2", [new Withdrawn({ amount: 5 })])
        yield* appendTo("acct-3", [new Deposited({ amount: 6 }), new Withdrawn({ amount: 7 })])
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
        expect(seen.map((e) => [e.streamId, e.data._tag, e.data.amount])).toEqual([
          ["acct-1", "Withdrawn", 2],
          ["acct-2", "Withdrawn", 4],
          ["acct-3", "Withdrawn", 7]
        ])
        const byType = yield* Subscription.catchUp({ types: ["Deposited"] }).pipe(Stream.runCollect)
        expect(Chunk.toReadonlyArray(byType).map((e) => e.streamId)).toEqual(["acct-1", "acct-3"])
        const byPrefix = yield* Subscription.catchUp({ streamPrefix: "other-" }).pipe(Stream.runCollect)
        expect(Chunk.toReadonlyArray(byPrefix).map((e) => e.streamId)).toEqual(["other-1", "other-2"])
      })))

    it.live("resumes after a saved cursor: nothing twice, nothing skipped", () =>
      run(Effect.gen(function*() {
        yield* deposits("resume", 10)
        const first = Chunk.toReadonlyArray(yield* Subscription.stored({ ...live, pageSize: 3 }).pipe(Stream.take(4), Stream.runCollect))
        const checkpoint = first[3]!.cursor
        // a checkpoint survives serialization
        const restored = Either.getOrThrow(Cursor.decode(JSON.parse(JSON.stringify(checkpoint))))
        const rest = Chunk.toReadonlyArray(
          yield* Subscription.stored({ ...live, from: restored, pageSize: 3 }).pipe(Stream.take(6), Stream.runCollect)
        )
        expect(ids([...first, ...rest])).toEqual(ids(yield* wholeLog))
      })))

    it.live("a consumer restarted from its checkpoint sees every event once, in order", () =>
      run(Effect.gen(function*() {
        yield* deposits("restart", 20)
        const handled: Array<string> = []
        const checkpoint = yield* Ref.make<Subscription.From>("start")
        const consume = (limit: number) =>
          Effect.flatMap(Ref.get(checkpoint), (from) =>
            Subscription.stored({ ...live, from, pageSize: 4 }).pipe(
              Stream.take(limit),
              Stream.runForEach((event) =>
                Effect.zipRight(Effect.sync(() => handled.push(event.eventId)), Ref.set(checkpoint, event.cursor))
              )
            ))
        yield* consume(7)
        yield* deposits("restart", 5, 100)
        yield* consume(11)
        const fiber = yield* Effect.fork(consume(14))
        yield* deposits("restart", 7, 200)
        yield* Fiber.join(fiber)
        expect(handled).toEqual(ids(yield* wholeLog))
      })))

    it.live("a writer appending while the subscription catches up loses nothing", () =>
      run(Effect.gen(function*() {
        yield* deposits("busy", 100)
        const writer = yield* Effect.fork(Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => deposits(`busy-${i % 3}`, 10, i * 10),
          { discard: true }
        ))
        const seen = yield* Subscription.stored({ ...live, pageSize: 7 }).pipe(Stream.take(300), Stream.runCollect)
        yield* Fiber.join(writer)
        const positions = Chunk.toReadonlyArray(seen).map((e) => e.position)
        expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true)
        expect(ids(seen)).toEqual(ids(yield* wholeLog))
      })))

    it.live("from \"end\" yields only what is appended after it starts", () =>
      run(Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        yield* deposits("old", 4)
        const started = yield* Deferred.make<void>()
        // "end" is resolved before the first page is read: the first readAll says it started
        const signalling: EventStore.EventStore.Service = {
          ...store,
          readAll: (o) => Stream.concat(Stream.drain(Stream.fromEffect(Deferred.succeed(started, undefined))), store.readAll(o))
        }
        const fiber = yield* Subscription.fromStore(signalling, { ...live, from: "end" }).pipe(
          Stream.take(2),
          Stream.runCollect,
          Effect.fork
        )
        yield* Deferred.await(started)
        yield* deposits("new", 2)
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
        expect(seen.map((e) => e.streamId)).toEqual(["new", "new"])
      })))

    it.live("StoreUnavailable is retried from the last cursor; a schedule that gives up fails the stream", () =>
      run(Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        yield* deposits("flaky", 6)
        let calls = 0
        const flaky: EventStore.EventStore.Service = {
          ...store,
          readAll: (o) =>
            ++calls % 2 === 1
              ? Stream.fail(new StoreError.StoreUnavailable({ operation: "readAll", cause: "down" }))
              : store.readAll(o)
        }
        const seen = yield* Subscription.fromStore(flaky, { ...live, pageSize: 2, retry: Schedule.recurs(1) }).pipe(
          Stream.take(6),
          Stream.runCollect
        )
        expect(ids(seen)).toEqual(ids(yield* wholeLog))
        const down: EventStore.EventStore.Service = {
          ...store,
          readAll: () => Stream.fail(new StoreError.StoreUnavailable({ operation: "readAll", cause: "down" }))
        }
        const error = yield* Effect.flip(Stream.runDrain(Subscription.fromStore(down, { ...live, retry: Schedule.recurs(2) })))
        expect(error._tag).toBe("StoreUnavailable")
      })))

    it.live("bad options fail with InvalidArgument", () =>
      run(Effect.gen(function*() {
        const empty = yield* Effect.flip(Stream.runDrain(Subscription.stored({ types: [] })))
        expect(empty).toMatchObject({ _tag: "InvalidArgument", operation: "Subscription" })
        const page = yield* Effect.flip(Stream.runDrain(Subscription.stored({ pageSize: 0 })))
        expect(page).toMatchObject({ _tag: "InvalidArgument" })
      })))
  })

  describe("Projection", () => {
    const totals = (model: Ref.Ref<ReadonlyMap<string, number>>, handled?: Ref.Ref<number>) =>
      Projection.make({
        name: "totals",
        codec,
        handle: (events: ReadonlyArray<Event.RecordedEvent<AccountEvent>>) =>
          Effect.zipRight(
            handled === undefined ? Effect.void : Ref.update(handled, (n) => n + events.length),
            Ref.update(model, (m) => {
              const next = new Map(m)
              for (const e of events) {
                next.set(e.streamId, (next.get(e.streamId) ?? 0) + (e.data._tag === "Deposited" ? e.data.amount : -e.data.amount))
              }
              return next
            })
          )
      })

    it.live("keeps a read model and its checkpoint; status shows head, lag and runner", () =>
      run(Effect.gen(function*() {
        yield* deposits("p-1", 5)
        yield* appendTo("p-2", [new Deposited({ amount: 10 }), new Withdrawn({ amount: 4 })])
        const model = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
        const fiber = yield* Effect.fork(Projection.run(totals(model), { ...fastRun, batchSize: 3, runner: "runner-a" }))
        const status = yield* caughtUp("totals")
        expect(Object.fromEntries(yield* Ref.get(model))).toEqual({ "p-1": 15, "p-2": 6 })
        const log = yield* wholeLog
        expect(Option.getOrThrow(status)).toMatchObject({
          name: "totals",
          runner: "runner-a",
          head: log[log.length - 1]!.position,
          lag: 0,
          checkpoint: { cursor: log[log.length - 1]!.cursor, position: log[log.length - 1]!.position }
        })
        yield* deposits("p-1", 1, 100)
        yield* caughtUp("totals")
        expect((yield* Ref.get(model)).get("p-1")).toBe(115)
        yield* Fiber.interrupt(fiber)
      })))

    it.live("a restarted runner resumes from its checkpoint and handles each event once", () =>
      run(Effect.gen(function*() {
        yield* deposits("once", 7)
        const model = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
        const handled = yield* Ref.make(0)
        const first = yield* Effect.fork(Projection.run(totals(model, handled), { ...fastRun, batchSize: 2 }))
        yield* caughtUp("totals")
        yield* Fiber.interrupt(first)
        yield* deposits("once", 3, 10)
        const second = yield* Effect.fork(Projection.run(totals(model, handled), { ...fastRun, batchSize: 2 }))
        yield* eventually(Ref.get(handled), (n) => n >= 10)
        yield* caughtUp("totals")
        expect(yield* Ref.get(handled)).toBe(10)
        expect((yield* Ref.get(model)).get("once")).toBe(28 + 33)
        yield* Fiber.interrupt(second)
      })))

    it.live("a failing handler stops with ProjectionFailed naming the event; the events before it are committed", () =>
      run(Effect.gen(function*() {
        yield* deposits("fail", 3)
        yield* appendTo("fail", [new Withdrawn({ amount: 666 })])
        yield* deposits("fail", 2, 10)
        const seen: Array<number> = []
        const failing = Projection.make({
          name: "failing",
          codec,
          handle: (events: ReadonlyArray<Event.RecordedEvent<AccountEvent>>) =>
            events.some((e) => e.data.amount === 666)
              ? Effect.fail("cannot withdraw 666" as const)
              : Effect.sync(() => seen.push(...events.map((e) => e.version)))
        })
        const error = yield* Effect.flip(Projection.run(failing, { ...fastRun, batchSize: 10 }))
        const log = yield* wholeLog
        expect(error).toBeInstanceOf(Projection.ProjectionFailed)
        expect(error).toMatchObject({
          _tag: "ProjectionFailed",
          projection: "failing",
          position: log[3]!.position,
          eventId: log[3]!.eventId,
          streamId: "fail",
          version: 4,
          type: "Withdrawn",
          cause: "cannot withdraw 666"
        })
        expect(seen).toEqual([1, 2, 3])
        const status = Option.getOrThrow(yield* statusOf("failing"))
        expect(status.checkpoint).toEqual({ cursor: log[2]!.cursor, position: log[2]!.position })
      })))

    it.live("with a retry schedule a handler that fails twice goes on", () =>
      run(Effect.gen(function*() {
        yield* deposits("retry", 4)
        let failures = 0
        const handled: Array<number> = []
        const flaky = Projection.make({
          name: "flaky",
          codec,
          handle: (events: ReadonlyArray<Event.RecordedEvent<AccountEvent>>) =>
            Effect.suspend(() =>
              failures < 2 ? Effect.sync(() => failures++).pipe(Effect.zipRight(Effect.fail("not yet"))) :
                Effect.sync(() => handled.push(...events.map((e) => e.version)))
            )
        })
        const fiber = yield* Effect.fork(Projection.run(flaky, { ...fastRun, retry: Schedule.recurs(3) }))
        yield* caughtUp("flaky")
        expect(handled).toEqual([1, 2, 3, 4])
        expect(failures).toBe(2)
        yield* Fiber.interrupt(fiber)
      })))

    it.live("an event that does not decode stops the projection naming it", () =>
      run(Effect.gen(function*() {
        const store = yield* EventStore.EventStore
        yield* deposits("undecodable", 2)
        const bad = yield* Effect.map(Event.makeEventId, (eventId) => ({ eventId, type: "Teleported", data: "{}", metadata: "{}" }))
        yield* Effect.orDie(store.append({ streamId: sid("undecodable"), expected: ExpectedVersion.any, events: [bad] }))
        const model = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
        const error = yield* Effect.flip(Projection.run(totals(model), fastRun))
        expect(error).toMatchObject({ _tag: "ProjectionFailed", type: "Teleported", version: 3 })
        expect((yield* Ref.get(model)).get("undecodable")).toBe(3)
      })))

    it.live("only one runner leads a projection; another takes over when it stops", () =>
      run(Effect.gen(function*() {
        yield* deposits("lead", 5)
        const model = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
        const handled = yield* Ref.make(0)
        const a = yield* Effect.fork(Projection.run(totals(model, handled), { ...fastRun, runner: "a" }))
        yield* caughtUp("totals")
        const b = yield* Effect.fork(Projection.run(totals(model, handled), { ...fastRun, runner: "b" }))
        yield* deposits("lead", 2, 10)
        yield* eventually(Ref.get(handled), (n) => n >= 7)
        const whileA = Option.getOrThrow(yield* caughtUp("totals"))
        expect(whileA.runner).toBe("a")
        yield* Fiber.interrupt(a)
        yield* eventually(statusOf("totals"), (s) => Option.isSome(s) && s.value.runner === "b")
        yield* deposits("lead", 1, 100)
        yield* eventually(Ref.get(handled), (n) => n >= 8)
        yield* caughtUp("totals")
        expect(yield* Ref.get(handled)).toBe(8)
        expect((yield* Ref.get(model)).get("lead")).toBe(15 + 21 + 100)
        yield* Fiber.interrupt(b)
      })))

    it.live("rebuild resets the read model, replays the log with progress, and ends when caught up", () =>
      run(Effect.gen(function*() {
        yield* deposits("rebuild", 9)
        const model = yield* Ref.make<ReadonlyMap<string, number>>(new Map([["stale", 1]]))
        const progress = Chunk.toReadonlyArray(
          yield* Projection.rebuild(totals(model), { ...fastRun, batchSize: 4, reset: Ref.set(model, new Map()) }).pipe(
            Stream.runCollect
          )
        )
        const log = yield* wholeLog
        const last = log[log.length - 1]!.position
        expect(progress.map((p) => p.processed)).toEqual([4, 8, 9])
        expect(progress.map((p) => p.position)).toEqual([log[3]!.position, log[7]!.position, last])
        expect(progress.every((p) => p.head === last && p.rate > 0)).toBe(true)
        expect(Object.fromEntries(yield* Ref.get(model))).toEqual({ rebuild: 45 })
        const status = Option.getOrThrow(yield* statusOf("totals"))
        expect(status).toMatchObject({ lag: 0, runner: undefined })
      })))

    it.live("bad projections fail with InvalidArgument", () =>
      run(Effect.gen(function*() {
        const model = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
        const unnamed = yield* Effect.flip(Projection.run({ ...totals(model), name: "" }))
        expect(unnamed).toMatchObject({ _tag: "InvalidArgument", operation: "Projection.run" })
        const exit = yield* Effect.exit(Projection.run({ ...totals(model), types: [] }))
        expect(Exit.isFailure(exit)).toBe(true)
      })))
  })
}
