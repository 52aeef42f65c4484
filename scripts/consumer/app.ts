// The consumer of the packed tarball (scripts/consumer-check.mjs): the only file of that check
// that uses eventfold's API; adapt it here when the API changes. It is type-checked (NodeNext and
// Bundler, strict, skipLibCheck false), compiled with declarations (it exports layers built
// from eventfold: the TS2742 case), and the compiled app.js is run by plain node. contract.test.ts
// runs StoreContract.suite on `memoryStore` under vitest.
import { Effect, Either, Schema, Stream } from "effect"
import { Decider, EventCodec, EventStore, Executor, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { SqliteEventStore } from "eventfold/sqlite"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}

const codec = EventCodec.make(Schema.Union(Deposited, Withdrawn))

export const account = Decider.make({
  codec,
  initialState: 0,
  evolve: (balance, event) => (event._tag === "Deposited" ? balance + event.amount : balance - event.amount),
  streams: (command: Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
  decide: (command, balance) =>
    balance < command.amount
      ? Either.left(new InsufficientFunds({ balance }))
      : Either.right([new Withdrawn({ amount: command.amount })])
})

/** Layers built from eventfold, exported: their declared types must be nameable (TS2742). */
export const memoryStore = MemoryEventStore.layer()
export const memoryApp = Executor.layerOn(MemoryEventStore.layer())
export const sqliteApp = Executor.layerOn(SqliteEventStore.layer({ filename: ":memory:" }))

/** Appends, executes one command, reads the stream back: one line of output per backend. */
export const program = (backend: string) =>
  Effect.gen(function*() {
    const store = yield* EventStore.typed(codec)
    const streamId = StreamId.unsafeMake("account-ada")
    yield* store.append({ streamId, expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 100 })] })
    const { state } = yield* Executor.execute(account, new Withdraw({ account: "ada", amount: 30 }))
    const events = yield* Stream.runCollect(store.read(streamId))
    const tags = Array.from(events, (event) => `${event.version}:${event.data._tag}`).join(",")
    return `${backend}: balance=${state} events=${tags}`
  })

export const main = Effect.all([
  Effect.provide(program("memory"), memoryApp),
  Effect.provide(program("sqlite"), sqliteApp)
])

if (process.argv[2] === "run") {
  Effect.runPromise(main).then((lines) => console.log(lines.join("\n")))
}
