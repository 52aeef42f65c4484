/**
 * Profiling aid: runs one eventfold case in a loop so that `node --cpu-prof`
 * shows its hot frames.
 *
 *   node --import tsx --cpu-prof --cpu-prof-dir=.tmp test/bench/profile.ts read|readAll|append|single|executor [events] [sqlite|postgres]
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, ManagedRuntime, Stream } from "effect"
import { EventStore, Executor, ExpectedVersion, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"
import { Redacted } from "effect"
import { createBenchDatabase, startPgServer } from "./pgServer.ts"
import { codec, Deposit, account, eventAt, evolve } from "./domain.ts"
import { createDatabase, fillStream, openRaw } from "./sqlite.ts"

const which = process.argv[2] ?? "read"
const events = Number(process.argv[3] ?? 100_000)
const dir = mkdtempSync(join(tmpdir(), "eventfold-profile-"))
const file = join(dir, "p.db")
await createDatabase(file)
const stream = StreamId.unsafeMake("account-p")
if (which === "read" || which === "readAll") {
  const db = openRaw(file)
  fillStream(db, stream, events)
  db.close()
}
const backend = process.argv[4] ?? "sqlite"
const server = backend === "postgres" ? await startPgServer() : undefined
const database = server === undefined ? undefined : await createBenchDatabase(server.url)
const storeLayer = database === undefined
  ? SqliteEventStore.layer({ filename: file })
  : PgEventStore.layer({ url: Redacted.make(database.url) })
const runtime = ManagedRuntime.make(Executor.layerOn(storeLayer))
const store = await runtime.runPromise(EventStore.typed(codec))
const start = performance.now()
let units = 0
for (let rep = 0; rep < 5; rep++) {
  switch (which) {
    case "read":
      units += await runtime.runPromise(store.read(stream).pipe(Stream.runFold(0, (n, e) => (evolve(0, e.data), n + 1))))
      break
    case "readAll":
      units += await runtime.runPromise(store.readAll().pipe(Stream.runFold(0, (n, e) => (evolve(0, e.data), n + 1))))
      break
    case "single":
      units += await runtime.runPromise(Effect.gen(function*() {
        const s = StreamId.unsafeMake(`single-${rep}`)
        for (let i = 0; i < events; i++) {
          yield* store.append({ streamId: s, expected: ExpectedVersion.unsafeExact(i), events: [eventAt(i)] })
        }
        return events
      }))
      break
    case "append":
      units += await runtime.runPromise(Effect.gen(function*() {
        const s = StreamId.unsafeMake(`batch-${rep}`)
        for (let i = 0; i < events; i += 100) {
          yield* store.append({ streamId: s, expected: ExpectedVersion.unsafeExact(i), events: Array.from({ length: 100 }, (_, k) => eventAt(i + k)) })
        }
        return events
      }))
      break
    case "executor":
      units += await runtime.runPromise(Effect.map(
        Effect.forEach(Array.from({ length: events }, (_, i) => new Deposit({ account: `r${rep}-${i % 1000}`, amount: 1 })),
          (c) => Executor.execute(account, c), { concurrency: Number(process.env["PROFILE_FIBERS"] ?? 8) }), (r) => r.length))
      break
  }
}
console.log(`${which}: ${Math.round(units / ((performance.now() - start) / 1000))} units/s`)
await runtime.dispose()
await database?.drop()
await server?.stop()
rmSync(dir, { recursive: true, force: true })
