/**
 * Snapshots of command state: the pure pipeline fed a snapshot, the executor
 * starting from one and saving new ones, snapshots that must be ignored, and a
 * model-based property: with snapshots every k events (k drawn) and corrupt,
 * stale and diverged snapshots injected, every command's outcome equals the
 * outcome without snapshots.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Either, FastCheck as fc, Layer, Metric, Option, Schedule, Schema, Stream } from "effect"
import { EventStore, Executor, Pipeline, Snapshot, StoreError } from "eventfold"
import type { StreamId } from "eventfold"
import { MemoryEventStore, MemorySnapshotStore } from "eventfold/memory"
import { Property, Scenario } from "eventfold/testing"
import type { Account, AccountCommand, AccountEvent } from "./fixtures/bank.ts"
import {
  account,
  accountStream,
  closed,
  Deposit,
  Deposited,
  evolveAccount,
  Open,
  Opened,
  Transfer,
  transfer,
  Withdraw,
  Withdrawn
} from "./fixtures/bank.ts"
import * as Toolkit from "./testing/fixtures/Account.ts"

const AccountState = Schema.Struct({ opened: Schema.Boolean, balance: Schema.Number, feeAccount: Schema.NullOr(Schema.String) })
const Accounts = Schema.Record({ key: Schema.String, value: AccountState })

const snappedAccount = (every: number) => Snapshot.enable(account, { schema: AccountState, version: 1, every })
const snappedTransfer = (every: number) => Snapshot.enable({ schema: Accounts, version: 1, every })(transfer)

const inline = Executor.layer({ snapshots: { writes: "inline" } })
const withSnapshots = inline.pipe(Layer.provideMerge(Layer.merge(MemoryEventStore.layer(), MemorySnapshotStore.layer())))
const withoutSnapshots = Executor.layerOn(MemoryEventStore.layer())

const counter = (metric: Metric.Metric.Counter<number>) => Effect.map(Metric.value(metric), (state) => state.count)
const tagged = (metric: Metric.Metric.Counter<number>, reason: string) => counter(Metric.tagged(metric, "reason", reason))

const latest = (decider: string, id: string, schemaVersion = 1) =>
  Effect.flatMap(Snapshot.SnapshotStore, (store) => store.load({ decider, streamId: accountStream(id), schemaVersion }))

/** The stored event at `version` of an account's stream (its position, for hand-made snapshots). */
const eventAt = (id: string, version: number) =>
  Effect.flatMap(EventStore.EventStore, (store) =>
    Stream.runHead(store.read(accountStream(id), { from: version, pageSize: 1 }))).pipe(Effect.map(Option.getOrUndefined))

const opened: Account = { opened: true, balance: 0, feeAccount: null }

describe("Pipeline fed a snapshot", () => {
  const history = (deposits: ReadonlyArray<number>): ReadonlyArray<AccountEvent> => [
    new Opened({ owner: "ada", feeAccount: null }),
    ...deposits.map((amount) => new Deposited({ amount }))
  ]

  it.prop(
    "a snapshot of any prefix of the primary stream gives the same step as folding that prefix",
    [fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 20 }), fc.nat(), fc.integer({ min: 0, max: 150 })],
    ([deposits, cut, amount]) => {
      const events = history(deposits)
      const version = cut % (events.length + 1)
      const state = events.slice(0, version).reduce(evolveAccount, closed)
      const streams = new Map([[accountStream("ada"), events]])
      const command = new Withdraw({ id: "ada", amount })
      const without = Pipeline.runPure(account, command, streams)
      const withSnapshot = Pipeline.runPure(account, command, streams, { snapshot: { version, state } })
      expect(Scenario.equivalent(withSnapshot, without)).toBe(true)
    }
  )

  it("the state after a snapshot is the snapshot's, and its version counts toward the expected version", () => {
    const ada = accountStream("ada")
    const start = Pipeline.start(account, new Deposit({ id: "ada", amount: 5 }))
    expect(start._tag).toBe("Read")
    if (start._tag !== "Read") return
    const fed = Pipeline.feed(start, Pipeline.SnapshotLoaded(ada, 7, { ...opened, balance: 70 }))
    expect(fed._tag === "Read" && [fed.pipeline.state.balance, fed.pipeline.count]).toEqual([70, 7])
    if (fed._tag !== "Read") return
    const more = Pipeline.feed(fed, Pipeline.StreamEvent(ada, new Deposited({ amount: 1 })))
    if (more._tag !== "Read") return expect.unreachable()
    const step = Pipeline.feed(more, Pipeline.StreamEnded(ada))
    expect(step._tag === "Append" && step.writes).toEqual([{ streamId: ada, expected: { _tag: "Exact", version: 8 }, events: [new Deposited({ amount: 5 })] }])
  })

  it("a snapshot fed after an event, for another stream or for a later stream is an unexpected input", () => {
    const ada = accountStream("ada")
    const bob = accountStream("bob")
    const read = Pipeline.start(transfer, new Transfer({ from: "ada", to: "bob", amount: 1 }))
    if (read._tag !== "Read") return expect.unreachable()
    const afterEvent = Pipeline.feed(read, Pipeline.StreamEvent(ada, new Opened({ owner: "ada", feeAccount: null })))
    if (afterEvent._tag !== "Read") return expect.unreachable()
    const cases: ReadonlyArray<Pipeline.Step<Transfer, Record<string, Account>, AccountEvent, unknown>> = [
      Pipeline.feed(afterEvent, Pipeline.SnapshotLoaded(ada, 1, {})),
      Pipeline.feed(read, Pipeline.SnapshotLoaded(bob, 1, {})),
      Pipeline.feed(read, Pipeline.SnapshotLoaded(ada, -1, {})),
      (() => {
        const second = Pipeline.feed(afterEvent, Pipeline.StreamEnded(ada))
        return second._tag === "Read" ? Pipeline.feed(second, Pipeline.SnapshotLoaded(bob, 1, {})) : second
      })()
    ]
    for (const step of cases) {
      expect(step._tag === "Failed" && step.reason === "invalid" && step.error._tag).toBe("UnexpectedInput")
    }
  })
})

describe("Executor with snapshots", () => {
  it.effect("saves a snapshot every k events and starts the next command from it, reading only what follows", () =>
    Effect.gen(function*() {
      const decider = snappedAccount(5)
      yield* Executor.execute(decider, new Open({ id: "ada", owner: "Ada", feeAccount: null }))
      for (let i = 1; i <= 8; i++) yield* Executor.execute(decider, new Deposit({ id: "ada", amount: i }))
      // 9 events: saved at 5 only (the next one is due at 10)
      expect(Option.map(yield* latest("Account", "ada"), (s) => s.version)).toEqual(Option.some(5))
      yield* Executor.execute(decider, new Deposit({ id: "ada", amount: 9 }))
      const snapshot = Option.getOrThrow(yield* latest("Account", "ada"))
      expect([snapshot.version, JSON.parse(snapshot.state)]).toEqual([10, { opened: true, balance: 45, feeAccount: null }])
      expect(snapshot.position).toBe((yield* eventAt("ada", 10))!.position)

      const [readBefore, loadedBefore] = [yield* counter(Executor.eventsRead), yield* counter(Snapshot.loaded)]
      const result = yield* Executor.execute(decider, new Withdraw({ id: "ada", amount: 40 }))
      expect(result.state.balance).toBe(5)
      expect(result.streams).toEqual([{ streamId: accountStream("ada"), version: 11 }])
      expect((yield* counter(Executor.eventsRead)) - readBefore).toBe(0)
      expect((yield* counter(Snapshot.loaded)) - loadedBefore).toBe(1)
      // only one snapshot is kept per stream
      expect(Option.map(yield* latest("Account", "ada"), (s) => s.version)).toEqual(Option.some(10))
    }).pipe(Effect.provide(withSnapshots)))

  it.effect("Executor.load starts from the snapshot too, and returns what a full fold returns", () =>
    Effect.gen(function*() {
      const decider = snappedAccount(4)
      yield* Executor.execute(decider, new Open({ id: "ada", owner: "Ada", feeAccount: null }))
      for (let i = 1; i <= 5; i++) yield* Executor.execute(decider, new Deposit({ id: "ada", amount: i }))
      const [readBefore, loadedBefore] = [yield* counter(Executor.eventsRead), yield* counter(Snapshot.loaded)]
      const loaded = yield* Executor.load(decider, new Deposit({ id: "ada", amount: 0 }))
      expect((yield* counter(Snapshot.loaded)) - loadedBefore).toBe(1)
      expect((yield* counter(Executor.eventsRead)) - readBefore).toBe(2) // versions 5 and 6, after the snapshot at 4
      expect(loaded).toEqual(yield* Executor.load(account, new Deposit({ id: "ada", amount: 0 })))
      expect(loaded).toEqual({ state: { opened: true, balance: 15, feeAccount: null }, versions: [{ streamId: accountStream("ada"), version: 6 }] })
      // loading saves nothing
      expect(Option.map(yield* latest("Account", "ada"), (s) => s.version)).toEqual(Option.some(4))
    }).pipe(Effect.provide(withSnapshots)))

  it.effect("a snapshot that does not decode is ignored, counted, and replaced by the next save", () =>
    Effect.gen(function*() {
      const decider = snappedAccount(3)
      const store = yield* Snapshot.SnapshotStore
      yield* Executor.execute(Snapshot.disable(decider), new Open({ id: "ada", owner: "Ada", feeAccount: null }))
      yield* Executor.execute(Snapshot.disable(decider), new Deposit({ id: "ada", amount: 10 }))
      const at2 = (yield* eventAt("ada", 2))!
      yield* store.save({
        decider: "Account",
        streamId: accountStream("ada"),
        schemaVersion: 1,
        version: 2,
        position: at2.position,
        state: "{\"opened\":\"yes\"}",
        takenAt: new Date()
      })
      const ignoredBefore = yield* tagged(Snapshot.ignored, "decode")
      const result = yield* Executor.execute(decider, new Deposit({ id: "ada", amount: 5 }))
      expect(result.state).toEqual({ opened: true, balance: 15, feeAccount: null })
      expect((yield* tagged(Snapshot.ignored, "decode")) - ignoredBefore).toBe(1)
      // started from nothing, 3 events past 0: a good snapshot replaces the bad one
      const snapshot = Option.getOrThrow(yield* latest("Account", "ada"))
      expect([snapshot.version, JSON.parse(snapshot.state)]).toEqual([3, { opened: true, balance: 15, feeAccount: null }])
    }).pipe(Effect.provide(withSnapshots)))

  it.effect("snapshots of another schema version are never used, and are pruned by the first save of the current one", () =>
    Effect.gen(function*() {
      const decider = Snapshot.enable(account, { schema: AccountState, version: 2, every: 2 })
      const store = yield* Snapshot.SnapshotStore
      yield* Executor.execute(decider, new Open({ id: "ada", owner: "Ada", feeAccount: null }))
      const at1 = (yield* eventAt("ada", 1))!
      yield* store.save({
        decider: "Account",
        streamId: accountStream("ada"),
        schemaVersion: 1,
        version: 1,
        position: at1.position,
        state: JSON.stringify({ opened: true, balance: 1_000_000, feeAccount: null }),
        takenAt: new Date()
      })
      const result = yield* Executor.execute(decider, new Deposit({ id: "ada", amount: 5 }))
      expect(result.state.balance).toBe(5)
      expect(Option.map(yield* latest("Account", "ada", 2), (s) => s.version)).toEqual(Option.some(2))
      expect(yield* latest("Account", "ada", 1)).toEqual(Option.none())
    }).pipe(Effect.provide(withSnapshots)))

  it.effect("a snapshot that no longer matches its stream (past its end, or another event at its version) is ignored", () =>
    Effect.gen(function*() {
      const decider = snappedAccount(100)
      const store = yield* Snapshot.SnapshotStore
      yield* Executor.execute(decider, new Open({ id: "ada", owner: "Ada", feeAccount: null }))
      yield* Executor.execute(decider, new Deposit({ id: "ada", amount: 10 }))
      const bad = (version: number, position: number) =>
        store.save({
          decider: "Account",
          streamId: accountStream("ada"),
          schemaVersion: 1,
          version,
          position,
          state: JSON.stringify({ opened: true, balance: 1_000_000, feeAccount: null }),
          takenAt: new Date()
        })
      const before = yield* tagged(Snapshot.ignored, "diverged")
      yield* bad(2, (yield* eventAt("ada", 2))!.position + 1000)
      const first = yield* Executor.execute(decider, new Withdraw({ id: "ada", amount: 10 }))
      expect(first.state.balance).toBe(0)
      yield* bad(50, 50)
      const second = yield* Effect.either(Executor.execute(decider, new Withdraw({ id: "ada", amount: 1 })))
      expect(Either.isLeft(second) && second.left._tag).toBe("InsufficientFunds")
      expect((yield* tagged(Snapshot.ignored, "diverged")) - before).toBe(2)
    }).pipe(Effect.provide(withSnapshots)))

  it.effect("a failing snapshot store never fails a command: loads and saves are counted and skipped", () => {
    const failing = Layer.succeed(
      Snapshot.SnapshotStore,
      Snapshot.SnapshotStore.of({
        load: () => Effect.fail(new StoreError.StoreUnavailable({ operation: "loadSnapshot", cause: new Error("down") })),
        save: () => Effect.fail(new StoreError.StoreUnavailable({ operation: "saveSnapshot", cause: new Error("down") })),
        prune: () => Effect.succeed(0)
      })
    )
    return Effect.gen(function*() {
      const decider = snappedAccount(1)
      const [loads, saves] = [yield* tagged(Snapshot.ignored, "unavailable"), yield* tagged(Snapshot.writeFailures, "unavailable")]
      yield* Executor.execute(decider, new Open({ id: "ada", owner: "Ada", feeAccount: null }))
      const result = yield* Executor.execute(decider, new Deposit({ id: "ada", amount: 3 }))
      expect(result.state.balance).toBe(3)
      expect((yield* tagged(Snapshot.ignored, "unavailable")) - loads).toBe(2)
      expect((yield* tagged(Snapshot.writeFailures, "unavailable")) - saves).toBe(2)
    }).pipe(Effect.provide(inline.pipe(Layer.provideMerge(Layer.merge(MemoryEventStore.layer(), failing)))))
  })

  it.effect("a multi-stream decider snapshots its primary stream alone and reads the others in full", () =>
    Effect.gen(function*() {
      const decider = snappedTransfer(1)
      for (const id of ["ada", "bob", "fee"]) {
        yield* Executor.execute(account, new Open({ id, owner: id, feeAccount: id === "ada" ? "fee" : null }))
      }
      yield* Executor.execute(account, new Deposit({ id: "ada", amount: 1000 }))
      yield* Executor.execute(decider, new Transfer({ from: "ada", to: "bob", amount: 200 }))
      const snapshot = Option.getOrThrow(yield* latest("Transfer", "ada"))
      expect([snapshot.version, JSON.parse(snapshot.state)]).toEqual([
        3,
        { [accountStream("ada")]: { opened: true, balance: 798, feeAccount: "fee" } }
      ])
      expect(yield* latest("Transfer", "bob")).toEqual(Option.none())
      const result = yield* Executor.execute(decider, new Transfer({ from: "ada", to: "bob", amount: 100 }))
      expect(result.state).toEqual({
        [accountStream("ada")]: { opened: true, balance: 697, feeAccount: "fee" },
        [accountStream("bob")]: { opened: true, balance: 300, feeAccount: null },
        [accountStream("fee")]: { opened: true, balance: 3, feeAccount: null }
      })
    }).pipe(Effect.provide(withSnapshots)))

  it.live("by default snapshots are saved in the background, after the command has returned", () =>
    Effect.gen(function*() {
      const decider = snappedAccount(2)
      yield* Executor.execute(decider, new Open({ id: "ada", owner: "Ada", feeAccount: null }))
      yield* Executor.execute(decider, new Deposit({ id: "ada", amount: 1 }))
      const saved = yield* latest("Account", "ada").pipe(
        Effect.flatMap(Option.match({ onNone: () => Effect.fail("not saved yet"), onSome: Effect.succeed })),
        Effect.retry(Schedule.spaced("5 millis")),
        Effect.timeout("5 seconds")
      )
      expect(saved.version).toBe(2)
    }).pipe(
      Effect.provide(Executor.layerOn(Layer.merge(MemoryEventStore.layer(), MemorySnapshotStore.layer())))
    ))
})

// ---------------------------------------------------------------------------
// Model-based: with snapshots equals without
// ---------------------------------------------------------------------------

const ids = ["a", "b", "c"] as const
const id = fc.constantFrom(...ids)

type Injection = {
  readonly _tag: "Inject"
  readonly id: string
  readonly decider: "Account" | "Transfer"
  readonly kind: "undecodable" | "stale" | "ahead" | "moved"
}
type Action = AccountCommand | Transfer | Injection

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ id, feeAccount: fc.option(id, { nil: null }) }).map((r) => new Open({ id: r.id, owner: r.id, feeAccount: r.feeAccount })) },
  { weight: 4, arbitrary: fc.record({ id, amount: fc.integer({ min: 1, max: 300 }) }).map((r) => new Deposit(r)) },
  { weight: 3, arbitrary: fc.record({ id, amount: fc.integer({ min: 0, max: 300 }) }).map((r) => new Withdraw(r)) },
  { weight: 4, arbitrary: fc.record({ from: id, to: id, amount: fc.integer({ min: 1, max: 400 }) }).map((r) => new Transfer(r)) },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("Inject" as const),
      id,
      decider: fc.constantFrom("Account" as const, "Transfer" as const),
      kind: fc.constantFrom("undecodable" as const, "stale" as const, "ahead" as const, "moved" as const)
    })
  }
)

/** A hand-made bad snapshot of `target`'s stream, in the snapshot store of the executor with snapshots. */
const inject = (target: Injection, store: EventStore.EventStore.Service, snapshots: Snapshot.SnapshotStore.Service) =>
  Effect.gen(function*() {
    const streamId: StreamId.StreamId = accountStream(target.id)
    const last = yield* Stream.runHead(store.read(streamId, { direction: "backward", pageSize: 1 }))
    const version = Option.match(last, { onNone: () => 1, onSome: (e) => e.version })
    const position = Option.match(last, { onNone: () => 1, onSome: (e) => e.position })
    const rich: Account = { opened: true, balance: 1_000_000, feeAccount: null }
    const state = target.decider === "Account" ? JSON.stringify(rich) : JSON.stringify({ [streamId]: rich })
    const snapshot = { decider: target.decider, streamId, schemaVersion: 1, version, position, state, takenAt: new Date(0) }
    switch (target.kind) {
      case "undecodable":
        return yield* snapshots.save({ ...snapshot, state: "{\"balance\":" })
      case "stale":
        return yield* snapshots.save({ ...snapshot, schemaVersion: 0 })
      case "ahead":
        return yield* snapshots.save({ ...snapshot, version: version + 3, position: position + 1000 })
      case "moved":
        return yield* snapshots.save({ ...snapshot, position: position + 1000 })
    }
  })

/** What a command's outcome must agree on with and without snapshots (event ids differ). */
const outcome = (result: Either.Either<Executor.Result<unknown, unknown>, unknown>) =>
  Either.match(result, {
    onLeft: (error) => ({ error }),
    onRight: (done) => ({ state: done.state, events: done.events, streams: done.streams, positions: done.positions })
  })

const readAll = Effect.flatMap(EventStore.EventStore, (store) => Stream.runCollect(store.readAll())).pipe(
  Effect.map((events) => Chunk.toReadonlyArray(events).map((e) => [e.streamId, e.version, e.position, e.type, e.data]))
)

/**
 * Runs `actions` on two executors, one without snapshots and one with snapshots
 * every `k` events (and the injected bad ones), and fails at the first command
 * whose outcome differs. Returns how many commands started from a snapshot.
 */
const compare = (actions: ReadonlyArray<Action>, k: number) =>
  Effect.gen(function*() {
    const plain = yield* Layer.build(withoutSnapshots)
    const snapped = yield* Layer.build(withSnapshots)
    const accountK = snappedAccount(k)
    const transferK = snappedTransfer(k)
    let used = 0
    for (const [step, next] of actions.entries()) {
      if (next._tag === "Inject") {
        yield* inject(next, Context.get(snapped, EventStore.EventStore), Context.get(snapped, Snapshot.SnapshotStore))
        continue
      }
      const run = (snapshots: boolean): Effect.Effect<Executor.Result<unknown, AccountEvent>, unknown, Executor.Executor> =>
        next._tag === "Transfer"
          ? Executor.execute(snapshots ? transferK : transfer, next)
          : Executor.execute(snapshots ? accountK : account, next)
      const without = yield* Effect.either(Effect.provide(run(false), plain))
      const loadedBefore = yield* counter(Snapshot.loaded)
      const withSnapshot = yield* Effect.either(Effect.provide(run(true), snapped))
      used += (yield* counter(Snapshot.loaded)) - loadedBefore
      if (!Scenario.equivalent(outcome(withSnapshot), outcome(without))) {
        return yield* Effect.dieMessage(
          `step ${step} (${next._tag}, k = ${k}) differs:\n${JSON.stringify(outcome(withSnapshot))}\n${JSON.stringify(outcome(without))}`
        )
      }
    }
    expect(yield* Effect.provide(readAll, snapped)).toEqual(yield* Effect.provide(readAll, plain))
    return used
  }).pipe(Effect.scoped)

describe("Snapshots never change a result", () => {
  it.effect.prop(
    "for any command sequence, outcomes and stored events with snapshots every k events equal those without, whatever bad snapshots are injected",
    [fc.array(action, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 6 })],
    ([actions, k]) => Effect.asVoid(compare(actions, k)),
    { fastCheck: { numRuns: 40 } }
  )

  it.effect("the comparison really starts commands from snapshots and really meets bad ones", () =>
    Effect.gen(function*() {
      const actions = fc.sample(fc.array(action, { minLength: 120, maxLength: 120 }), { seed: 18, numRuns: 1 })[0]!
      const reasons = ["decode", "diverged"] as const
      const ignored = Effect.forEach(reasons, (reason) => tagged(Snapshot.ignored, reason))
      const before = yield* ignored
      const used = yield* compare(actions, 2)
      const after = yield* ignored
      expect(used).toBeGreaterThan(20)
      for (const i of reasons.keys()) expect(after[i]! - before[i]!).toBeGreaterThan(0)
    }))

  it.effect.prop(
    "Property.checkModel holds for the account with snapshots every k events, as without",
    [Property.commands(Toolkit.command, { maxLength: 30 }), fc.integer({ min: 1, max: 4 })],
    ([commands, k]) => {
      const decider = Snapshot.enable(Toolkit.account, {
        schema: Schema.Struct({ open: Schema.Boolean, balance: Schema.Number }),
        version: 1,
        every: k
      })
      return Effect.asVoid(Property.checkModel(decider, Toolkit.model, commands).pipe(Effect.provide(withSnapshots)))
    },
    { fastCheck: { numRuns: 30 } }
  )
})

describe("Scenario with snapshots", () => {
  it.effect("an executor scenario runs with a snapshot store given in the executor options, as without", () =>
    Effect.gen(function*() {
      const snapshots = yield* MemorySnapshotStore.make()
      const history = [
        { streamId: accountStream("ada"), event: new Opened({ owner: "Ada", feeAccount: null }) },
        { streamId: accountStream("ada"), event: new Deposited({ amount: 30 }) }
      ]
      const command = new Withdraw({ id: "ada", amount: 20 })
      yield* Scenario.executor(snappedAccount(1), { executor: { snapshots: { store: snapshots, writes: "inline" } } })
        .given(history).when(command).then([new Withdrawn({ amount: 20 })])
      yield* Scenario.executor(account).given(history).when(command).then([new Withdrawn({ amount: 20 })])
      const saved = yield* snapshots.load({ decider: "Account", streamId: accountStream("ada"), schemaVersion: 1 })
      expect(Option.map(saved, (s) => [s.version, JSON.parse(s.state)])).toEqual(
        Option.some([3, { opened: true, balance: 10, feeAccount: null }])
      )
    }))
})
