/**
 * Quickstart: define events with Schema, append them, and read them back as a
 * typed stream folded into a balance.
 *
 * Run: npx tsx examples/quickstart.ts
 */
import { Console, Effect, Schema, Stream } from "effect"
import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"

class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
class Withdrawn extends Schema.TaggedClass<Withdrawn>()("Withdrawn", { amount: Schema.Number }) {}
const AccountEvent = Schema.Union(Deposited, Withdrawn)
const codec = EventCodec.make(AccountEvent)

const program = Effect.gen(function*() {
  const accounts = yield* EventStore.typed(codec)
  const account = yield* StreamId.make("account-ada")

  yield* accounts.append({
    streamId: account,
    expected: ExpectedVersion.noStream,
    events: [new Deposited({ amount: 100 }), new Withdrawn({ amount: 30 }), new Deposited({ amount: 5 })]
  })

  const balance = yield* accounts.read(account).pipe(
    Stream.tap((event) => Console.log(`v${event.version} ${event.type} ${JSON.stringify(event.data)}`)),
    Stream.runFold(0, (sum, { data }) => data._tag === "Deposited" ? sum + data.amount : sum - data.amount)
  )
  yield* Console.log(`balance of ${account}: ${balance}`)
})

Effect.runPromise(program.pipe(Effect.provide(MemoryEventStore.layer()))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
