import { NodeSdk } from "@effect/opentelemetry"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Either, Schema } from "effect"
import { Decider, EventCodec, Executor, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { account: Schema.String, amount: Schema.Number }) {}
class Withdraw extends Schema.TaggedClass<Withdraw>()("Withdraw", { account: Schema.String, amount: Schema.Number }) {}
class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", { balance: Schema.Number }) {}

const account = Decider.make({
  name: "Account",
  codec: EventCodec.make(Schema.Union(Deposited, Withdrawn)),
  initialState: 0,
  evolve: (balance, event) => event._tag === "Deposited" ? balance + event.amount : balance - event.amount,
  streams: (command: Deposit | Withdraw) => StreamId.unsafeMake(`account-${command.account}`),
  decide: (command, balance): Either.Either<ReadonlyArray<Deposited | Withdrawn>, InsufficientFunds> =>
    command._tag === "Deposit"
      ? Either.right([new Deposited({ amount: command.amount })])
      : balance < command.amount
      ? Either.left(new InsufficientFunds({ balance }))
      : Either.right([new Withdrawn({ amount: command.amount })])
})

// Any OpenTelemetry exporter goes here (OTLP in production); this one keeps the spans in memory.
export const exporter = new InMemorySpanExporter()
const Tracing = NodeSdk.layer(() => ({
  resource: { serviceName: "bank" },
  spanProcessor: new SimpleSpanProcessor(exporter)
}))

export const program = Effect.gen(function*() {
  yield* Executor.execute(account, new Deposit({ account: "ada", amount: 50 }))
  // rejected: a normal outcome, so the span is not an error
  const rejected = yield* Effect.flip(Executor.execute(account, new Withdraw({ account: "ada", amount: 80 })))
  // read before the layer closes: shutting the SDK down empties the in-memory exporter
  return { rejected: rejected._tag, spans: exporter.getFinishedSpans() }
}).pipe(Effect.provide(Executor.layerOn(MemoryEventStore.layer())), Effect.provide(Tracing))
