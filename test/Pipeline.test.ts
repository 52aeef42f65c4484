import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { Decider, EventCodec, ExpectedVersion, Pipeline, StoreError, StreamId } from "eventfold"
import type { EventStore } from "eventfold"
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

type Step<C, S, E extends { readonly _tag: string }, Err> = Pipeline.Step<C, S, E, Err>

/** Narrows a step to a tag, failing the test when it is another one. */
const as = <T extends Step<unknown, unknown, { readonly _tag: string }, unknown>["_tag"]>(tag: T) =>
<C, S, E extends { readonly _tag: string }, Err>(step: Step<C, S, E, Err>): Extract<Step<C, S, E, Err>, { _tag: T }> => {
  expect(step._tag).toBe(tag)
  return step as Extract<Step<C, S, E, Err>, { _tag: T }>
}
const asRead = as("Read")
const asAppend = as("Append")
const asDone = as("Done")
const asFailed = as("Failed")

/** Feeds the events of one stream and its end. */
const feedStream = <C, S, E extends { readonly _tag: string }, Err>(
  step: Step<C, S, E, Err>,
  events: ReadonlyArray<E>
): Step<C, S, E, Err> => {
  let current = asRead(step)
  const streamId = current.streamId
  for (const event of events) current = asRead(Pipeline.feed(current, Pipeline.StreamEvent(streamId, event)))
  return Pipeline.feed(current, Pipeline.StreamEnded(streamId))
}

const ada = accountStream("ada")
const bob = accountStream("bob")
const fees = accountStream("fees")

const opened = (feeAccount: string | null = null) => new Opened({ owner: "someone", feeAccount })

const appended = (streams: ReadonlyArray<[StreamId.StreamId, number]>, positions: ReadonlyArray<number>): EventStore.AppendResult => ({
  streams: streams.map(([streamId, version]) => ({ streamId, version })),
  positions
})

describe("Pipeline, single stream", () => {
  it("starts by requesting a read of the command's stream", () => {
    const step = asRead(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })))
    expect(step.streamId).toBe("account-ada")
    expect(step.pipeline.count).toBe(0)
    expect(step.pipeline.state).toEqual({ opened: false, balance: 0, feeAccount: null })
  })

  it("folds each event as it is fed and keeps only the state and a count", () => {
    let step = asRead(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })))
    step = asRead(Pipeline.feed(step, Pipeline.StreamEvent(ada, opened())))
    step = asRead(Pipeline.feed(step, Pipeline.StreamEvent(ada, new Deposited({ amount: 10 }))))
    step = asRead(Pipeline.feed(step, Pipeline.StreamEvent(ada, new Withdrawn({ amount: 3 }))))
    expect(step.pipeline.state).toEqual({ opened: true, balance: 7, feeAccount: null })
    expect(step.pipeline.count).toBe(3)
    expect(Object.keys(step.pipeline).sort()).toEqual(["command", "count", "decider", "purpose", "state", "streams", "versions"])
  })

  it("folds a page of events in one step, as the same events fed one by one do", () => {
    const start = asRead(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })))
    const events = [opened(), new Deposited({ amount: 10 }), new Withdrawn({ amount: 3 })]
    const paged = asRead(Pipeline.feed(start, Pipeline.StreamEvents(ada, events)))
    let single = start
    for (const event of events) single = asRead(Pipeline.feed(single, Pipeline.StreamEvent(ada, event)))
    expect(paged).toEqual(single)
    expect(paged.pipeline.count).toBe(3)
    const other = asFailed(Pipeline.feed(start, Pipeline.StreamEvents(accountStream("bob"), events)))
    expect(other.error._tag).toBe("UnexpectedInput")
  })

  it("load reads what start reads, discovered streams included, and ends with the state and versions instead of deciding", () => {
    let step = Pipeline.load(transfer, new Transfer({ from: "ada", to: "bob", amount: 1_000_000 }))
    step = feedStream(step, [new Opened({ owner: "Ada", feeAccount: "fees" }), new Deposited({ amount: 10 })])
    step = feedStream(step, [])
    step = feedStream(step, [opened()])
    const done = asDone(step)
    expect(done.result.events).toEqual([])
    expect(done.result.positions).toEqual([])
    expect(done.result.streams).toEqual([
      { streamId: ada, version: 2 },
      { streamId: accountStream("bob"), version: 0 },
      { streamId: accountStream("fees"), version: 1 }
    ])
    expect(done.result.state[ada]!.balance).toBe(10)
  })

  it("never changes a step it is fed: feeding the same step twice gives equal steps", () => {
    const start = asRead(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })))
    const first = Pipeline.feed(start, Pipeline.StreamEvent(ada, opened()))
    const second = Pipeline.feed(start, Pipeline.StreamEvent(ada, opened()))
    expect(first).toEqual(second)
    expect(start.pipeline.count).toBe(0)
    expect(start.pipeline.state.opened).toBe(false)
  })

  it("requests an append expecting the version read, then ends with the state after the new events", () => {
    const step = feedStream(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })), [
      opened(),
      new Deposited({ amount: 10 })
    ])
    const append = asAppend(step)
    expect(append.writes).toEqual([
      { streamId: ada, expected: ExpectedVersion.unsafeExact(2), events: [new Deposited({ amount: 5 })] }
    ])
    const done = asDone(Pipeline.feed(append, Pipeline.Appended(appended([[ada, 3]], [42]))))
    expect(done.result).toEqual({
      state: { opened: true, balance: 15, feeAccount: null },
      events: [{ streamId: ada, event: new Deposited({ amount: 5 }) }],
      streams: [{ streamId: ada, version: 3 }],
      positions: [42]
    })
  })

  it("expects NoStream of a stream that had no events", () => {
    const append = asAppend(feedStream(Pipeline.start(account, new Open({ id: "ada", owner: "Ada", feeAccount: null })), []))
    expect(append.writes).toEqual([{ streamId: ada, expected: ExpectedVersion.noStream, events: [new Opened({ owner: "Ada", feeAccount: null })] }])
  })

  it("fails with the domain error when decide rejects the command", () => {
    const failed = asFailed(feedStream(Pipeline.start(account, new Withdraw({ id: "ada", amount: 50 })), [
      opened(),
      new Deposited({ amount: 20 })
    ]))
    expect(failed.reason).toBe("rejected")
    expect(failed.error).toEqual(new InsufficientFunds({ account: "ada", balance: 20, requested: 50 }))
  })

  it("ends without an append when decide returns no events, reporting the versions read", () => {
    const done = asDone(feedStream(Pipeline.start(account, new Withdraw({ id: "ada", amount: 0 })), [opened()]))
    expect(done.result).toEqual({
      state: { opened: true, balance: 0, feeAccount: null },
      events: [],
      streams: [{ streamId: ada, version: 1 }],
      positions: []
    })
  })

  it("fails with the read error when reading fails", () => {
    const read = asRead(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })))
    const error = new StoreError.StoreUnavailable({ operation: "read", cause: "connection reset" })
    const failed = asFailed(Pipeline.feed(read, Pipeline.ReadFailed(error)))
    expect(failed.reason).toBe("read")
    expect(failed.error).toBe(error)
  })

  it("fails with the conflict when the append is refused", () => {
    const append = asAppend(feedStream(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })), [opened()]))
    const conflict = new StoreError.WrongExpectedVersion({ streamId: ada, expected: ExpectedVersion.unsafeExact(1), actual: 2 })
    const failed = asFailed(Pipeline.feed(append, Pipeline.Conflicted(conflict)))
    expect(failed.reason).toBe("conflict")
    expect(failed.error).toBe(conflict)
  })
})

describe("Pipeline, several streams", () => {
  const openWithFees = (balance: number) => [opened("fees"), new Deposited({ amount: balance })]

  it("reads the declared streams in order, then the discovered fee account, then appends to all three", () => {
    let step = Pipeline.start(transfer, new Transfer({ from: "ada", to: "bob", amount: 200 }))
    expect(asRead(step).streamId).toBe(ada)
    step = feedStream(step, openWithFees(500))
    expect(asRead(step).streamId).toBe(bob)
    step = feedStream(step, [opened()])
    const discovered = asRead(step)
    expect(discovered.streamId).toBe(fees)
    expect(discovered.pipeline.streams).toEqual([ada, bob, fees])
    expect(discovered.pipeline.versions).toEqual([2, 1])
    step = feedStream(step, [opened(), new Deposited({ amount: 7 })])

    const append = asAppend(step)
    expect(append.writes).toEqual([
      { streamId: ada, expected: ExpectedVersion.unsafeExact(2), events: [new Withdrawn({ amount: 202 })] },
      { streamId: bob, expected: ExpectedVersion.unsafeExact(1), events: [new Deposited({ amount: 200 })] },
      { streamId: fees, expected: ExpectedVersion.unsafeExact(2), events: [new Deposited({ amount: 2 })] }
    ])
    const done = asDone(Pipeline.feed(append, Pipeline.Appended(appended([[ada, 3], [bob, 2], [fees, 3]], [10, 11, 12]))))
    expect(done.result.state).toEqual({
      [ada]: { opened: true, balance: 298, feeAccount: "fees" },
      [bob]: { opened: true, balance: 200, feeAccount: null },
      [fees]: { opened: true, balance: 9, feeAccount: null }
    })
    expect(done.result.events.map((e) => e.streamId)).toEqual([ada, bob, fees])
  })

  it("checks a stream it only read: the fee account goes into the append with no events and its version", () => {
    let step = Pipeline.start(transfer, new Transfer({ from: "ada", to: "bob", amount: 50 }))
    step = feedStream(step, openWithFees(500))
    step = feedStream(step, [opened()])
    step = feedStream(step, [opened(), new Deposited({ amount: 7 }), new Deposited({ amount: 1 })])
    const append = asAppend(step)
    expect(append.writes[2]).toEqual({ streamId: fees, expected: ExpectedVersion.unsafeExact(3), events: [] })

    const moved = new StoreError.WrongExpectedVersion({ streamId: fees, expected: ExpectedVersion.unsafeExact(3), actual: 4 })
    const failed = asFailed(Pipeline.feed(append, Pipeline.Conflicted(moved)))
    expect(failed).toEqual({ _tag: "Failed", reason: "conflict", error: moved })
  })

  it("does not read a discovered stream twice when discover names a stream already read", () => {
    let step = Pipeline.start(transfer, new Transfer({ from: "ada", to: "bob", amount: 300 }))
    step = feedStream(step, [new Opened({ owner: "Ada", feeAccount: "bob" }), new Deposited({ amount: 500 })])
    step = feedStream(step, [opened()])
    const append = asAppend(step)
    expect(append.writes.map((w) => w.streamId)).toEqual([ada, bob])
    expect(append.writes[1]!.events).toEqual([new Deposited({ amount: 300 }), new Deposited({ amount: 3 })])
  })

  it("asks discover again after each round until it names nothing new", () => {
    class Linked extends Schema.TaggedClass<Linked>()("Linked", { next: Schema.String }) {}
    class Touched extends Schema.TaggedClass<Touched>()("Touched", {}) {}
    const chain = Decider.make({
      codec: EventCodec.make(Schema.Union(Linked, Touched)),
      initialState: [] as ReadonlyArray<string>,
      evolve: (links, event) => event._tag === "Linked" ? [...links, event.next] : links,
      streams: (start: string) => StreamId.unsafeMake(start),
      discover: (_, links) => links.map(StreamId.unsafeMake),
      decide: () => Either.right([new Touched()])
    })
    const a = StreamId.unsafeMake("a")
    const b = StreamId.unsafeMake("b")
    const c = StreamId.unsafeMake("c")
    let step = Pipeline.start(chain, "a")
    step = feedStream(step, [new Linked({ next: "b" })])
    expect(asRead(step).streamId).toBe(b)
    step = feedStream(step, [new Linked({ next: "c" }), new Linked({ next: "a" })])
    expect(asRead(step).streamId).toBe(c)
    step = feedStream(step, [])
    const append = asAppend(step)
    expect(append.writes).toEqual([
      { streamId: a, expected: ExpectedVersion.unsafeExact(1), events: [new Touched()] },
      { streamId: b, expected: ExpectedVersion.unsafeExact(2), events: [] },
      { streamId: c, expected: ExpectedVersion.noStream, events: [] }
    ])
  })

  it("fails with InvalidDecision when discover keeps naming new streams, past Pipeline.maxStreams", () => {
    class Touched extends Schema.TaggedClass<Touched>()("Touched", {}) {}
    let asked = 0
    const endless = Decider.make({
      name: "Endless",
      codec: EventCodec.make(Touched),
      initialState: 0,
      evolve: (n) => n,
      streams: (first: string) => StreamId.unsafeMake(first),
      // names one more stream each time it is asked, forever
      discover: () => [StreamId.unsafeMake(`s-${++asked}`)],
      decide: () => Either.right([new Touched()])
    })
    let step = Pipeline.start(endless, "s-0")
    let reads = 0
    while (step._tag === "Read") {
      reads++
      step = Pipeline.feed(step, Pipeline.StreamEnded(step.streamId))
    }
    expect(reads).toBe(Pipeline.maxStreams)
    const failed = asFailed(step)
    expect(failed.reason).toBe("invalid")
    expect(failed.error).toMatchObject({ _tag: "InvalidDecision", decider: "Endless" })
    expect(failed.error.message).toContain(`more than ${Pipeline.maxStreams} streams`)
  })

  it("a stream id that streams or discover cannot build is a typed InvalidStreamId failure, not a defect", () => {
    const tooLong = "x".repeat(300)
    const fromCommand = asFailed(Pipeline.start(account, new Deposit({ id: tooLong, amount: 1 })))
    expect(fromCommand.reason).toBe("invalid")
    expect(fromCommand.error).toBeInstanceOf(StreamId.InvalidStreamId)
    expect(fromCommand.error).toMatchObject({ input: `account-${tooLong}` })

    let step = Pipeline.start(transfer, new Transfer({ from: "ada", to: "bob", amount: 5 }))
    step = feedStream(step, [new Opened({ owner: "Ada", feeAccount: "bad\nfee" }), new Deposited({ amount: 50 })])
    const discovered = asFailed(feedStream(step, [opened()]))
    expect(discovered.error).toBeInstanceOf(StreamId.InvalidStreamId)
    expect(discovered.error.message).toContain("control characters")
  })

  it("fails with the first domain error of a multi-stream decision", () => {
    let step = Pipeline.start(transfer, new Transfer({ from: "ada", to: "bob", amount: 5 }))
    step = feedStream(step, [opened()])
    step = feedStream(step, [])
    const failed = asFailed(step)
    expect(failed.reason).toBe("rejected")
    expect(failed.error).toEqual(new AccountNotOpen({ account: "bob" }))
  })
})

describe("Pipeline protocol errors", () => {
  it("fails with UnexpectedInput when fed an event of another stream than the one it reads", () => {
    const read = asRead(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })))
    const failed = asFailed(Pipeline.feed(read, Pipeline.StreamEvent(bob, opened())))
    expect(failed.reason).toBe("invalid")
    expect(failed.error._tag).toBe("UnexpectedInput")
    expect(failed.error.message).toBe(
      "The command pipeline was awaiting events of \"account-ada\" and was fed StreamEvent(\"account-bob\")"
    )
  })

  it("fails with UnexpectedInput when fed an append result while reading, or an event while appending", () => {
    const read = asRead(Pipeline.start(account, new Deposit({ id: "ada", amount: 5 })))
    expect(asFailed(Pipeline.feed(read, Pipeline.Appended(appended([], [])))).error._tag).toBe("UnexpectedInput")
    const append = asAppend(feedStream(read, [opened()]))
    const failed = asFailed(Pipeline.feed(append, Pipeline.StreamEnded(ada)))
    expect(failed.reason).toBe("invalid")
    expect((failed.error as Error).message).toBe(
      "The command pipeline was awaiting the append's outcome and was fed StreamEnded(\"account-ada\")"
    )
  })

  it("fails with InvalidDecision when decide writes to a stream it did not read", () => {
    const sloppy = Decider.make({
      name: "Sloppy",
      codec,
      initialState: null,
      evolve: (state) => state,
      streams: (_: "go") => ada,
      decide: () => Either.right([{ streamId: bob, event: new Deposited({ amount: 1 }) }])
    })
    const failed = asFailed(feedStream(Pipeline.start(sloppy, "go"), []))
    expect(failed.reason).toBe("invalid")
    expect(failed.error.message).toBe(
      "Decider \"Sloppy\": decide wrote to stream \"account-bob\", which was not read; name it in streams or discover"
    )
  })

  it("fails with InvalidDecision when streams names no stream", () => {
    const empty = Decider.make({
      name: "Empty",
      codec,
      initialState: null,
      evolve: (state) => state,
      streams: (_: "go") => [],
      decide: () => Either.right([])
    })
    const failed = asFailed(Pipeline.start(empty, "go"))
    expect(failed.error).toEqual(new Pipeline.InvalidDecision({ decider: "Empty", reason: "streams(command) named no stream" }))
  })
})

describe("Pipeline.runPure", () => {
  it("runs a transfer over given histories with no store, positions following the 4 given events", () => {
    const done = asDone(Pipeline.runPure(
      transfer,
      new Transfer({ from: "ada", to: "bob", amount: 100 }),
      new Map([[ada, [opened("fees"), new Deposited({ amount: 300 })]], [bob, [opened()]], [fees, [opened()]]])
    ))
    expect(done.result.streams).toEqual([
      { streamId: ada, version: 3 },
      { streamId: bob, version: 2 },
      { streamId: fees, version: 2 }
    ])
    expect(done.result.positions).toEqual([5, 6, 7])
    expect(done.result.state[ada]!.balance).toBe(199)
  })

  it("returns the domain error of a rejected command", () => {
    const failed = asFailed(Pipeline.runPure(account, new Deposit({ id: "ada", amount: 1 }), new Map()))
    expect(failed.error).toEqual(new AccountNotOpen({ account: "ada" }))
  })
})
