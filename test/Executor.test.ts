import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Duration, Effect, Either, Fiber, Layer, Metric, Schedule, Schema, Stream, TestClock, TestServices, Tracer } from "effect"
import { Decider, Event, EventStore, Executor, ExpectedVersion, InstrumentedEventStore, Pipeline, StoreError, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { TrackingEventStore } from "eventfold/testing"
import {
  account,
  accountStream,
  AccountNotOpen,
  codec,
  Deposit,
  Deposited,
  InsufficientFunds,
  Open,
  Opened,
  Transfer,
  transfer,
  Withdraw,
  Withdrawn
} from "./fixtures/bank.ts"

const ada = accountStream("ada")
const bob = accountStream("bob")
const fees = accountStream("fees")

/**
 * A store that lets a "concurrent writer" deposit 1 into `target` just before each
 * of the next `control.moves` appends, so that those appends conflict.
 */
const movingStore = (control: { moves: number; target: StreamId.StreamId }) =>
  Layer.effect(
    EventStore.EventStore,
    Effect.map(EventStore.EventStore, (inner) =>
      EventStore.EventStore.of({
        ...inner,
        append: (writes) =>
          Effect.suspend(() => {
            if (control.moves <= 0) return inner.append(writes)
            control.moves--
            return Effect.zipRight(
              inner.append({ streamId: control.target, expected: ExpectedVersion.any, events: [deposit(1)] }).pipe(Effect.orDie),
              inner.append(writes)
            )
          })
      }))
  ).pipe(Layer.provide(MemoryEventStore.layer()))

/** The memory store with a yield before each append, so that concurrent commands interleave. */
const slowAppends = Layer.effect(
  EventStore.EventStore,
  Effect.map(EventStore.EventStore, (inner) =>
    EventStore.EventStore.of({ ...inner, append: (writes) => Effect.zipRight(Effect.sleep("1 millis"), inner.append(writes)) }))
).pipe(Layer.provide(MemoryEventStore.layer()))

const deposit = (amount: number): Event.EventData => ({
  eventId: Event.EventId.make(crypto.randomUUID(), { disableValidation: true }),
  type: "Deposited",
  data: JSON.stringify({ amount }),
  metadata: "{}"
})

const withExecutor = (store: Layer.Layer<EventStore.EventStore>, options?: Executor.Options) =>
  Effect.provide(Executor.layerOn(store, options))

const readBack = (streamId: StreamId.StreamId) =>
  Effect.flatMap(EventStore.typed(codec), (store) => Stream.runCollect(store.read(streamId))).pipe(
    Effect.map((events) => Chunk.toReadonlyArray(events).map((e) => e.data))
  )

const openAccount = (id: string, balance: number, feeAccount: string | null = null) =>
  Effect.gen(function*() {
    yield* Executor.execute(account, new Open({ id, owner: id, feeAccount }))
    if (balance > 0) yield* Executor.execute(account, new Deposit({ id, amount: balance }))
  })

const counter = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)

/** Records the spans made while running an effect. */
const recordingSpans = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const base = yield* Effect.tracer
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (...args) => {
        const span = base.span(...args)
        spans.push(span)
        return span
      },
      context: (f, fiber) => base.context(f, fiber)
    })
    const result = yield* Effect.withTracer(effect, tracer)
    return { result, spans }
  })

describe("Executor over the memory store", () => {
  it.effect("runs single-stream commands: each reads the account, decides and appends", () =>
    Effect.gen(function*() {
      const opened = yield* Executor.execute(account, new Open({ id: "ada", owner: "Ada", feeAccount: null }))
      expect(opened.streams).toEqual([{ streamId: ada, version: 1 }])
      yield* Executor.execute(account, new Deposit({ id: "ada", amount: 100 }))
      const result = yield* Executor.execute(account, new Withdraw({ id: "ada", amount: 30 }))
      expect(result).toEqual({
        state: { opened: true, balance: 70, feeAccount: null },
        events: [{ streamId: ada, event: new Withdrawn({ amount: 30 }) }],
        streams: [{ streamId: ada, version: 3 }],
        positions: [3]
      })
      expect(yield* readBack(ada)).toEqual([
        new Opened({ owner: "Ada", feeAccount: null }),
        new Deposited({ amount: 100 }),
        new Withdrawn({ amount: 30 })
      ])
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("runs a multi-stream transfer as one atomic append to both accounts", () =>
    Effect.gen(function*() {
      yield* openAccount("ada", 80)
      yield* openAccount("bob", 0)
      const result = yield* Executor.execute(transfer, new Transfer({ from: "ada", to: "bob", amount: 50 }))
      expect(result.streams).toEqual([{ streamId: ada, version: 3 }, { streamId: bob, version: 2 }])
      expect(result.positions).toEqual([4, 5])
      expect(result.state[ada]!.balance).toBe(30)
      expect(result.state[bob]!.balance).toBe(50)
      expect(yield* readBack(bob)).toEqual([new Opened({ owner: "bob", feeAccount: null }), new Deposited({ amount: 50 })])
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("discovers the fee account from the source account's state and pays the fee into it", () =>
    Effect.gen(function*() {
      yield* openAccount("fees", 0)
      yield* openAccount("ada", 1000, "fees")
      yield* openAccount("bob", 0)
      const result = yield* Executor.execute(transfer, new Transfer({ from: "ada", to: "bob", amount: 500 }))
      expect(result.events).toEqual([
        { streamId: ada, event: new Withdrawn({ amount: 505 }) },
        { streamId: bob, event: new Deposited({ amount: 500 }) },
        { streamId: fees, event: new Deposited({ amount: 5 }) }
      ])
      expect(result.streams).toEqual([
        { streamId: ada, version: 3 },
        { streamId: bob, version: 2 },
        { streamId: fees, version: 2 }
      ])
      expect(result.state[fees]!.balance).toBe(5)
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("returns a domain error as a typed failure, appends nothing and does not retry", () =>
    Effect.gen(function*() {
      yield* openAccount("ada", 20)
      const rejectedBefore = yield* counter(Metric.tagged(Executor.commands, "outcome", "rejected"))
      const retriesBefore = yield* counter(Executor.retries)
      const error = yield* Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 50 })))
      expect(error).toEqual(new InsufficientFunds({ account: "ada", balance: 20, requested: 50 }))
      expect(yield* readBack(ada)).toHaveLength(2)
      expect((yield* counter(Metric.tagged(Executor.commands, "outcome", "rejected"))) - rejectedBefore).toBe(1)
      expect((yield* counter(Executor.retries)) - retriesBefore).toBe(0)

      const notOpen = yield* Effect.flip(Executor.execute(transfer, new Transfer({ from: "ada", to: "zoe", amount: 1 })))
      expect(notOpen).toEqual(new AccountNotOpen({ account: "zoe" }))
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("a command whose stream id cannot be built fails with InvalidStreamId, typed, and appends nothing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Executor.execute(account, new Deposit({ id: "x".repeat(300), amount: 1 })))
      expect(error).toBeInstanceOf(StreamId.InvalidStreamId)
      expect(error.message).toContain("at most 200 characters")
      const store = yield* EventStore.EventStore
      expect(yield* Stream.runCount(store.readAll())).toBe(0)
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("with an idempotencyKey a command run twice (say, after a lost reply) appends once; the rerun fails with DuplicateEventId", () =>
    Effect.gen(function*() {
      yield* openAccount("ada", 100)
      const command = new Withdraw({ id: "ada", amount: 30 })
      const first = yield* Executor.execute(account, command, { idempotencyKey: "request-1" })
      expect(first.state.balance).toBe(70)
      const rerun = yield* Effect.flip(Executor.execute(account, command, { idempotencyKey: "request-1" }))
      expect(rerun).toMatchObject({ _tag: "DuplicateEventId", streamId: ada, eventId: yield* Event.eventIdFrom("request-1", 0) })
      expect((yield* readBack(ada)).filter((e) => e._tag === "Withdrawn")).toHaveLength(1)
      // another key is another request
      expect((yield* Executor.execute(account, command, { idempotencyKey: "request-2" })).state.balance).toBe(40)
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("an idempotent multi-stream command numbers its events across streams and survives a conflict retry", () => {
    const control = { moves: 0, target: ada }
    return Effect.gen(function*() {
      yield* openAccount("ada", 100)
      yield* openAccount("bob", 0)
      control.moves = 1
      const retriesBefore = yield* counter(Executor.retries)
      const fiber = yield* Effect.fork(Executor.execute(transfer, new Transfer({ from: "ada", to: "bob", amount: 10 }), { idempotencyKey: "t-1" }))
      // deriving the ids is asynchronous (WebCrypto): wait for the retry's sleep, then move the clock
      while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* Effect.sleep("1 millis").pipe(TestServices.provideLive)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      const store = yield* EventStore.EventStore
      const ids = (yield* Stream.runCollect(store.readAll())).pipe(Chunk.toReadonlyArray).slice(-2).map((e) => e.eventId)
      expect(ids).toEqual([yield* Event.eventIdFrom("t-1", 0), yield* Event.eventIdFrom("t-1", 1)])
      expect((yield* counter(Executor.retries)) - retriesBefore).toBe(1)
    }).pipe(withExecutor(movingStore(control)))
  })

  it.effect("stores the execution's metadata with every appended event", () =>
    Effect.gen(function*() {
      yield* Executor.execute(account, new Open({ id: "ada", owner: "Ada", feeAccount: null }), {
        metadata: { correlationId: "req-1" }
      })
      const store = yield* EventStore.typed(codec)
      const [event] = Chunk.toReadonlyArray(yield* Stream.runCollect(store.read(ada)))
      expect(event!.metadata).toEqual({ correlationId: "req-1" })
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("fails with EventDecodeError naming the row when a stored event does not decode", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({
        streamId: ada,
        expected: ExpectedVersion.noStream,
        events: [{ ...deposit(1), type: "Opened", data: "{\"owner\":3}" }]
      })
      const error = yield* Effect.flip(Executor.execute(account, new Deposit({ id: "ada", amount: 1 })))
      expect(error._tag).toBe("EventDecodeError")
      expect(error).toMatchObject({ streamId: ada, version: 1, position: 1, type: "Opened" })
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("passes a store's InvalidArgument through typed (page size 0)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Executor.execute(account, new Deposit({ id: "ada", amount: 1 })))
      expect(error).toMatchObject({ _tag: "InvalidArgument", operation: "read" })
    }).pipe(withExecutor(MemoryEventStore.layer(), { pageSize: 0 })))
})

describe("Executor retries", () => {
  it.effect("runs the command again from a fresh read after a conflict, and succeeds", () => {
    const control = { moves: 0, target: ada }
    return Effect.gen(function*() {
      yield* openAccount("ada", 100)
      const conflictsBefore = yield* counter(Executor.conflicts)
      const retriesBefore = yield* counter(Executor.retries)
      control.moves = 1
      const fiber = yield* Effect.fork(Executor.execute(account, new Withdraw({ id: "ada", amount: 30 })))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      // the second attempt saw the concurrent deposit of 1
      expect(result.state.balance).toBe(71)
      expect(result.streams).toEqual([{ streamId: ada, version: 4 }])
      expect(yield* readBack(ada)).toEqual([
        new Opened({ owner: "ada", feeAccount: null }),
        new Deposited({ amount: 100 }),
        new Deposited({ amount: 1 }),
        new Withdrawn({ amount: 30 })
      ])
      expect((yield* counter(Executor.conflicts)) - conflictsBefore).toBe(1)
      expect((yield* counter(Executor.retries)) - retriesBefore).toBe(1)
    }).pipe(withExecutor(movingStore(control)))
  })

  it.effect("conflicts when a stream it only read moved: a fee account that takes no fee is still checked", () => {
    const control = { moves: 0, target: fees }
    return Effect.gen(function*() {
      yield* openAccount("fees", 0)
      yield* openAccount("ada", 100, "fees")
      yield* openAccount("bob", 0)
      const conflictsBefore = yield* counter(Executor.conflicts)
      control.moves = 1
      const fiber = yield* Effect.fork(Executor.execute(transfer, new Transfer({ from: "ada", to: "bob", amount: 50 })))
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      expect((yield* counter(Executor.conflicts)) - conflictsBefore).toBe(1)
      expect(result.events.map((e) => e.streamId)).toEqual([ada, bob])
      expect(result.streams).toEqual([
        { streamId: ada, version: 3 },
        { streamId: bob, version: 2 },
        { streamId: fees, version: 2 }
      ])
      expect(result.state[fees]!.balance).toBe(1)
    }).pipe(withExecutor(movingStore(control)))
  })

  it.effect("gives up after its 10-second budget by default with RetriesExhausted carrying the last conflict", () => {
    const control = { moves: 0, target: ada }
    return Effect.gen(function*() {
      yield* openAccount("ada", 100)
      const conflictsBefore = yield* counter(Executor.conflicts)
      control.moves = Number.POSITIVE_INFINITY
      const fiber = yield* Effect.fork(Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 30 }))))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("RetriesExhausted")
      if (error._tag !== "RetriesExhausted") return
      // waits of 5 to 250 ms within 10 s: far more than the 5 attempts of 0.1.0, each one a conflict
      expect(error.attempts).toBeGreaterThan(40)
      expect((yield* counter(Executor.conflicts)) - conflictsBefore).toBe(error.attempts)
      expect(error.last.streamId).toBe(ada)
      expect(error.last.actual).toBe(2 + error.attempts)
      expect(error.message).toBe(`Command gave up after ${error.attempts} attempts: ${error.last.message}`)
      expect(Executor.isExecuteError(error)).toBe(true)
      // nothing of the command was written: only the concurrent deposits
      expect((yield* readBack(ada)).filter((e) => e._tag === "Withdrawn")).toEqual([])
    }).pipe(withExecutor(movingStore(control)))
  })

  it.effect("waits with decorrelated jitter by default: each wait between 5 ms and 3 times the last, at most 250 ms, for at most 10 s", () => {
    const control = { moves: 0, target: ada }
    return Effect.gen(function*() {
      yield* openAccount("ada", 100)
      control.moves = Number.POSITIVE_INFINITY
      const fiber = yield* Effect.fork(Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 30 }))))
      const started = yield* Clock.currentTimeMillis
      const delays: Array<number> = []
      while (fiber.unsafePoll() === null) {
        const sleeps = yield* TestClock.sleeps()
        if (Chunk.isEmpty(sleeps)) {
          yield* Effect.yieldNow()
          continue
        }
        const delay = Chunk.unsafeHead(sleeps) - (yield* Clock.currentTimeMillis)
        delays.push(delay)
        yield* TestClock.adjust(Duration.millis(delay))
      }
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "RetriesExhausted", attempts: delays.length + 1 })
      let previous = 5
      for (const delay of delays) {
        expect(delay).toBeGreaterThanOrEqual(5)
        expect(delay).toBeLessThanOrEqual(Math.min(250, previous * 3))
        expect(Number.isInteger(delay)).toBe(true)
        previous = delay
      }
      expect(new Set(delays).size).toBeGreaterThan(5) // jittered, not a fixed ladder
      const spent = (yield* Clock.currentTimeMillis) - started
      expect(spent).toBeGreaterThanOrEqual(10_000 - 250)
      expect(spent).toBeLessThanOrEqual(10_000 + 250)
    }).pipe(withExecutor(movingStore(control)))
  })

  it.effect("waits between attempts: without the clock moving, the second attempt has not run", () => {
    const control = { moves: 0, target: ada }
    return Effect.gen(function*() {
      yield* openAccount("ada", 100)
      control.moves = 2
      const fiber = yield* Effect.fork(Executor.execute(account, new Withdraw({ id: "ada", amount: 30 })))
      // let the first attempt run until it sleeps before the second
      while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* Effect.yieldNow()
      expect(control.moves).toBe(1)
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).state.balance).toBe(72)
      expect(control.moves).toBe(0)
    }).pipe(withExecutor(movingStore(control)))
  })

  it.effect("follows a user schedule: Schedule.recurs(1) makes 2 attempts", () => {
    const control = { moves: 0, target: ada }
    return Effect.gen(function*() {
      yield* openAccount("ada", 100)
      control.moves = Number.POSITIVE_INFINITY
      const error = yield* Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 30 })))
      expect(error).toMatchObject({ _tag: "RetriesExhausted", attempts: 2 })
    }).pipe(withExecutor(movingStore(control), { retry: Schedule.recurs(1) }))
  })
})

describe("Executor memory and observability", () => {
  it.effect("folds a 100,000-event stream while holding no more than one page of fetched, unfolded events", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      const stream = StreamId.unsafeMake("big")
      yield* store.append({
        streamId: stream,
        expected: ExpectedVersion.noStream,
        events: [{ ...deposit(0), type: "Opened", data: "{\"owner\":\"big\",\"feeAccount\":null}" }]
      })
      for (let batch = 0; batch < 100; batch++) {
        const events = Array.from({ length: batch === 0 ? 999 : 1000 }, () => deposit(1))
        yield* store.append({ streamId: stream, expected: ExpectedVersion.any, events })
      }

      const fetched = () => Effect.runSync(Metric.value(EventStore.rowsFetched)).count
      const fetchedBefore = fetched()
      let folded = 0
      let maxAhead = 0
      const probe = Decider.make({
        name: "Probe",
        codec,
        initialState: 0,
        evolve: (sum, event) => {
          folded++
          if (folded % 8 === 1) maxAhead = Math.max(maxAhead, fetched() - fetchedBefore - folded)
          return event._tag === "Deposited" ? sum + event.amount : sum
        },
        streams: (_: "sum") => stream,
        decide: () => Either.right([])
      })
      const result = yield* Executor.execute(probe, "sum")
      expect(result.state).toBe(99_999)
      expect(result.streams).toEqual([{ streamId: stream, version: 100_000 }])
      expect(folded).toBe(100_000)
      expect(fetched() - fetchedBefore).toBe(100_000)
      expect(maxAhead).toBeGreaterThan(0)
      expect(maxAhead).toBeLessThanOrEqual(256)
    }).pipe(withExecutor(MemoryEventStore.layer(), { pageSize: 256 })))

  it.effect("traces execute, read and append with the decider, streams, versions, attempts and event counts", () =>
    Effect.gen(function*() {
      yield* openAccount("ada", 40)
      const { spans } = yield* recordingSpans(Executor.execute(account, new Withdraw({ id: "ada", amount: 15 })))
      const byName = (name: string) => spans.filter((s) => s.name === name)
      const [execute] = byName("eventfold.execute")
      expect(Object.fromEntries(execute!.attributes)).toEqual({
        "eventfold.decider": "Account",
        "eventfold.stream_ids": [ada],
        "eventfold.events_appended": 1,
        "eventfold.versions": [3],
        "eventfold.attempts": 1,
        "eventfold.outcome": "done"
      })
      const [read] = byName("eventfold.execute.read")
      expect(Object.fromEntries(read!.attributes)).toEqual({
        "eventfold.stream_id": ada,
        "eventfold.attempt": 1,
        "eventfold.events_read": 2
      })
      const [append] = byName("eventfold.execute.append")
      expect(Object.fromEntries(append!.attributes)).toEqual({
        "eventfold.attempt": 1,
        "eventfold.stream_ids": [ada],
        "eventfold.expected": ["version 2"],
        "eventfold.events_appended": 1,
        "eventfold.versions": [3],
        "eventfold.positions": [3, 3]
      })
      expect(read!.parent._tag === "Some" && read!.parent.value.spanId).toBe(execute!.spanId)
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("counts commands by outcome and the events they read and appended", () =>
    Effect.gen(function*() {
      const done = Metric.tagged(Executor.commands, "outcome", "done")
      const before = {
        done: yield* counter(done),
        read: yield* counter(Executor.eventsRead),
        appended: yield* counter(Executor.eventsAppended),
        durations: (yield* Metric.value(Executor.duration)).count
      }
      yield* openAccount("ada", 10) // 2 commands: read 0 + 1 events, append 2
      yield* Executor.execute(account, new Withdraw({ id: "ada", amount: 0 })) // reads 2, appends nothing
      expect((yield* counter(done)) - before.done).toBe(3)
      expect((yield* counter(Executor.eventsRead)) - before.read).toBe(3)
      expect((yield* counter(Executor.eventsAppended)) - before.appended).toBe(2)
      expect((yield* Metric.value(Executor.duration)).count - before.durations).toBe(3)
    }).pipe(withExecutor(MemoryEventStore.layer())))
})

describe("Executor spans", () => {
  it.effect("a domain rejection ends the execute span as a success, with the outcome and the error's tag as attributes", () =>
    Effect.gen(function*() {
      yield* openAccount("ada", 20)
      const { spans } = yield* recordingSpans(Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 50 }))))
      const execute = spans.find((s) => s.name === "eventfold.execute")!
      expect(execute.status._tag === "Ended" && execute.status.exit._tag).toBe("Success")
      expect(execute.attributes.get("eventfold.outcome")).toBe("rejected")
      expect(execute.attributes.get("eventfold.rejection")).toBe("InsufficientFunds")
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("an infrastructure failure ends the execute span as a failure", () =>
    Effect.gen(function*() {
      const { spans } = yield* recordingSpans(Effect.flip(Executor.execute(account, new Deposit({ id: "ada", amount: 1 }))))
      const execute = spans.find((s) => s.name === "eventfold.execute")!
      expect(execute.status._tag === "Ended" && execute.status.exit._tag).toBe("Failure")
      expect(execute.attributes.get("eventfold.outcome")).toBe("failed")
    }).pipe(withExecutor(MemoryEventStore.layer(), { pageSize: 0 })))

  it.effect("an InstrumentedEventStore under the Executor adds no second read or append span", () =>
    Effect.gen(function*() {
      yield* openAccount("ada", 40)
      const { spans } = yield* recordingSpans(Executor.execute(account, new Withdraw({ id: "ada", amount: 15 })))
      expect(spans.map((s) => s.name)).toEqual(["eventfold.execute", "eventfold.execute.read", "eventfold.execute.append"])
      // outside the Executor the store still traces its operations
      const store = yield* EventStore.EventStore
      const direct = yield* recordingSpans(Stream.runDrain(store.read(ada)))
      expect(direct.spans.map((s) => s.name)).toEqual(["eventfold.read"])
    }).pipe(withExecutor(InstrumentedEventStore.layer.pipe(Layer.provide(MemoryEventStore.layer())))))
})

describe("Executor.load", () => {
  it.effect("folds the command's streams and returns the state and each stream's version, appending nothing", () =>
    Effect.gen(function*() {
      yield* openAccount("ada", 40)
      const loaded = yield* Executor.load(account, new Withdraw({ id: "ada", amount: 0 }))
      expect(loaded).toEqual({
        state: { opened: true, balance: 40, feeAccount: null },
        versions: [{ streamId: ada, version: 2 }]
      })
      const store = yield* EventStore.EventStore
      expect(yield* Stream.runCount(store.readAll())).toBe(2)
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("reads the streams discover names too, and gives version 0 for a stream with no events", () =>
    Effect.gen(function*() {
      yield* openAccount("fees", 0)
      yield* openAccount("ada", 1000, "fees")
      const loaded = yield* Executor.load(transfer, new Transfer({ from: "ada", to: "zoe", amount: 0 }))
      expect(loaded.versions).toEqual([
        { streamId: ada, version: 2 },
        { streamId: accountStream("zoe"), version: 0 },
        { streamId: fees, version: 1 }
      ])
      expect(loaded.state[ada]!.balance).toBe(1000)
      expect(loaded.state[fees]!.opened).toBe(true)
      expect(loaded.state[accountStream("zoe")]).toBeUndefined()
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("does not decide: a command the decider would reject still loads", () =>
    Effect.gen(function*() {
      const loaded = yield* Executor.load(account, new Withdraw({ id: "nobody", amount: 5 }))
      expect(loaded.state).toEqual({ opened: false, balance: 0, feeAccount: null })
      expect(loaded.versions).toEqual([{ streamId: accountStream("nobody"), version: 0 }])
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it.effect("fails with the executor's typed errors: InvalidStreamId, EventDecodeError, InvalidArgument (page size per call)", () =>
    Effect.gen(function*() {
      const invalid = yield* Effect.flip(Executor.load(account, new Deposit({ id: "x".repeat(300), amount: 1 })))
      expect(invalid).toBeInstanceOf(StreamId.InvalidStreamId)
      const store = yield* EventStore.EventStore
      yield* store.append({
        streamId: ada,
        expected: ExpectedVersion.noStream,
        events: [{ ...deposit(1), type: "Opened", data: "{\"owner\":3}" }]
      })
      const undecodable = yield* Effect.flip(Executor.load(account, new Deposit({ id: "ada", amount: 1 })))
      expect(undecodable).toMatchObject({ _tag: "EventDecodeError", streamId: ada, version: 1 })
      const badPage = yield* Effect.flip(Executor.load(account, new Deposit({ id: "bob", amount: 1 }), { pageSize: 0 }))
      expect(badPage).toMatchObject({ _tag: "InvalidArgument", operation: "read" })
      for (const error of [invalid, undecodable, badPage]) expect(Executor.isExecuteError(error)).toBe(true)
    }).pipe(withExecutor(MemoryEventStore.layer())))
})

describe("Executor errors", () => {
  it.effect("isExecuteError holds for store, stream id, pipeline and retry errors, never for a domain error", () =>
    Effect.gen(function*() {
      yield* openAccount("ada", 20)
      const domain = yield* Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 50 })))
      expect(domain._tag).toBe("InsufficientFunds")
      expect(Executor.isExecuteError(domain)).toBe(false)
      const noStreams = Decider.make({
        name: "Nowhere",
        codec,
        initialState: 0,
        evolve: (n) => n,
        streams: (_: "go") => [],
        decide: () => Either.right([])
      })
      const invalid = yield* Effect.flip(Executor.execute(noStreams, "go"))
      expect(invalid).toBeInstanceOf(Pipeline.InvalidDecision)
      expect(Executor.isExecuteError(invalid)).toBe(true)
      const conflict = new StoreError.WrongExpectedVersion({ streamId: ada, expected: ExpectedVersion.noStream, actual: 1 })
      expect(Executor.isExecuteError(conflict)).toBe(true)
      expect(Executor.isExecuteError(new Executor.RetriesExhausted({ attempts: 2, last: conflict }))).toBe(true)
      expect(Executor.isExecuteError(new Error("boom"))).toBe(false)
      expect(Executor.isExecuteError({ _tag: "RetriesExhausted" })).toBe(false)
    }).pipe(withExecutor(MemoryEventStore.layer())))

  it("RetriesExhausted, InvalidDecision and UnexpectedInput are Schema.TaggedErrors that round-trip through their schemas", () => {
    const last = new StoreError.WrongExpectedVersion({ streamId: ada, expected: ExpectedVersion.unsafeExact(3), actual: 4 })
    const errors = [
      new Executor.RetriesExhausted({ attempts: 7, last }),
      new Pipeline.InvalidDecision({ decider: "Account", reason: "streams(command) named no stream" }),
      new Pipeline.UnexpectedInput({ awaiting: "the append's outcome", input: "StreamEnded" })
    ] as const
    const schemas = [Executor.RetriesExhausted, Pipeline.InvalidDecision, Pipeline.UnexpectedInput] as const
    errors.forEach((error, i) => {
      const schema = schemas[i]! as unknown as Schema.Schema<unknown, unknown>
      const encoded = Schema.encodeSync(schema)(error)
      expect(JSON.parse(JSON.stringify(encoded))).toEqual(encoded)
      const decoded = Schema.decodeUnknownSync(schema)(encoded)
      expect(decoded).toEqual(error)
      expect(Executor.isExecuteError(decoded)).toBe(true)
    })
  })
})

describe("Executor options per layer and per call", () => {
  it.effect("a call's retry schedule overrides the layer's", () => {
    const control = { moves: 0, target: ada }
    return Effect.gen(function*() {
      yield* openAccount("ada", 100)
      control.moves = Number.POSITIVE_INFINITY
      const once = yield* Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 1 }), { retry: Schedule.stop }))
      expect(once).toMatchObject({ _tag: "RetriesExhausted", attempts: 1 })
      const layers = yield* Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 1 })))
      expect(layers).toMatchObject({ _tag: "RetriesExhausted", attempts: 4 })
    }).pipe(withExecutor(movingStore(control), { retry: Schedule.recurs(3) }))
  })

  it.effect("a call's page size overrides the layer's (the layer's 0 is refused, the call's 1 reads)", () =>
    Effect.gen(function*() {
      const store = yield* EventStore.EventStore
      yield* store.append({
        streamId: ada,
        expected: ExpectedVersion.noStream,
        events: [{ ...deposit(0), type: "Opened", data: "{\"owner\":\"ada\",\"feeAccount\":null}" }, deposit(5)]
      })
      const refused = yield* Effect.flip(Executor.execute(account, new Withdraw({ id: "ada", amount: 0 })))
      expect(refused).toMatchObject({ _tag: "InvalidArgument", operation: "read" })
      const result = yield* Executor.execute(account, new Withdraw({ id: "ada", amount: 0 }), { pageSize: 1 })
      expect(result.streams).toEqual([{ streamId: ada, version: 2 }])
      expect(result.state.balance).toBe(5)
    }).pipe(withExecutor(MemoryEventStore.layer(), { pageSize: 0 })))
})

describe("Executor on a hot stream", () => {
  it.live("16 fibers × 50 increments of one stream in one process: exactly 800 events and no conflict", () =>
    Effect.gen(function*() {
      const tracking = yield* TrackingEventStore.Tracking
      yield* Executor.execute(account, new Open({ id: "hot", owner: "hot", feeAccount: null }))
      const conflictsBefore = yield* counter(Executor.conflicts)
      const retriesBefore = yield* counter(Executor.retries)
      yield* Effect.forEach(
        Array.from({ length: 16 }, (_, i) => i),
        () => Effect.repeatN(Executor.execute(account, new Deposit({ id: "hot", amount: 1 })), 49),
        { concurrency: "unbounded", discard: true }
      )
      const { state, versions } = yield* Executor.load(account, new Deposit({ id: "hot", amount: 0 }))
      expect(state.balance).toBe(800)
      expect(versions).toEqual([{ streamId: accountStream("hot"), version: 801 }])
      expect((yield* counter(Executor.conflicts)) - conflictsBefore).toBe(0)
      expect((yield* counter(Executor.retries)) - retriesBefore).toBe(0)
      expect(yield* tracking.appends).toHaveLength(801)
    }).pipe(
      Effect.provide(Executor.layerOn(TrackingEventStore.layer.pipe(Layer.provideMerge(slowAppends))))
    ))

  it.live("without serialization fibers of one process conflict with each other (what serialization saves)", () =>
    Effect.gen(function*() {
      yield* Executor.execute(account, new Open({ id: "hot", owner: "hot", feeAccount: null }))
      const conflictsBefore = yield* counter(Executor.conflicts)
      yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => i),
        () => Effect.repeatN(Executor.execute(account, new Deposit({ id: "hot", amount: 1 })), 9),
        { concurrency: "unbounded", discard: true }
      )
      expect((yield* Executor.load(account, new Deposit({ id: "hot", amount: 0 }))).state.balance).toBe(80)
      expect((yield* counter(Executor.conflicts)) - conflictsBefore).toBeGreaterThan(0)
    }).pipe(Effect.provide(Executor.layerOn(slowAppends, { serialize: false, retry: Schedule.forever }))))
})
