import { Console, Effect, Either, Schema, Stream } from "effect"
import { Decider, EventCodec, EventStore, Executor, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}
const codec = EventCodec.make(Schema.Union(Deposited, Withdrawn))

const account = Decider.make({
  codec,
  initialState: 0,
  evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
  streams: (command: Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
  decide: (command, balance) =>
    balance < command.amount ? Either.left(new InsufficientFunds({ balance })) : Either.right([new Withdrawn({ amount: command.amount })])
})

const program = Effect.gen(function*() {
  const store = yield* EventStore.typed(codec)
  yield* store.append({ streamId: StreamId.unsafeMake("account-ada"), expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 100 })] })
  const { state } = yield* Executor.execute(account, new Withdraw({ account: "ada", amount: 30 }))
  yield* Console.log(`balance: ${state}`) // balance: 70
  const events = yield* Stream.runCount(store.read(StreamId.unsafeMake("account-ada")))
  yield* Console.log(`events: ${events}`) // events: 2
})

program.pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer())), Effect.runPromise)
