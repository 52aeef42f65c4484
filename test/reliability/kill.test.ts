/**
 * Reliability: a writer process SIGKILLed in the middle of an append, five times
 * in a row on the same stream, on SQLite and on PostgreSQL. Every append is one
 * batch of events; after each kill the stream must hold only whole batches, at
 * dense versions, and every batch the writer was acknowledged for.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import type { EventStore as EventStoreNs } from "eventfold"
import { EventStore, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"
import { databaseForFile, freshSchemaUrl } from "../postgres/support.ts"
import type { Worker } from "./support.ts"
import { readStream, seeded, startWorker, tempSqliteFile } from "./support.ts"

const db = databaseForFile("rel_kill")
const batch = 20
const kills = 5
const stream = StreamId.unsafeMake("killed")

/**
 * Lets a started writer go, waits until it has been acknowledged `acks` batches
 * and has started the next one, kills it with SIGKILL `delay` ms later, and
 * returns the last acknowledged batch.
 */
const killMidAppend = (worker: Worker, acks: number, delay: number) =>
  Effect.promise(async () => {
    worker.child.stdin.write("go\n")
    const first = Number((await worker.waitFor((line) => line.startsWith("appending "))).split(" ")[1])
    await worker.waitFor((line) => line === `appending ${first + acks}`)
    await new Promise((resolve) => setTimeout(resolve, delay))
    worker.child.kill("SIGKILL")
    const exit = await worker.exited
    if (exit.signal !== "SIGKILL") throw new Error(`the writer ended before the kill: ${exit.code} ${exit.stderr}`)
    const acked = worker.lines.filter((line) => line.startsWith("ack ")).map((line) => Number(line.split(" ")[1]))
    return Math.max(first - 1, ...acked)
  })

const killRepeatedly = (target: string, storeLayer: Layer.Layer<EventStoreNs.EventStore, unknown>) =>
  Effect.scoped(Effect.gen(function*() {
    const store = Context.get(yield* Layer.build(storeLayer), EventStore.EventStore)
    const random = seeded(14_8)
    const start = () => startWorker(["batches", target, stream, String(batch)])
    let next = start()
    for (let round = 1; round <= kills; round++) {
      // The next writer boots while this one runs; it reads the head only when let go.
      const worker = next
      yield* Effect.promise(() => worker.waitFor((line) => line === "ready"))
      if (round < kills) next = start()
      const acked = yield* killMidAppend(worker, 1 + Math.floor(random() * 3), Math.floor(random() * 4))
      const events = yield* readStream(store, stream)
      // Whole batches only, at dense versions, and every acknowledged batch is there.
      expect(events.length % batch).toBe(0)
      expect(events.map((e) => e.version)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1))
      const batches = events.length / batch
      expect(batches === acked || batches === acked + 1).toBe(true)
      expect(events.map((e) => JSON.parse(e.data) as { batch: number; i: number }).map(({ batch: b, i }) => [b, i])).toEqual(
        Array.from({ length: events.length }, (_, n) => [Math.floor(n / batch) + 1, n % batch])
      )
    }
  }))

describe("a writer SIGKILLed mid-append, 5 times", () => {
  it.live("on SQLite: only whole appends are stored, every acknowledged one, at dense versions", () => {
    const filename = tempSqliteFile("kill")
    return killRepeatedly(filename, SqliteEventStore.layer({ filename }))
  }, 150_000)

  it.live("on PostgreSQL: only whole appends are stored, every acknowledged one, at dense versions", () =>
    Effect.flatMap(freshSchemaUrl(db().url), (url) => killRepeatedly(url, PgEventStore.layer({ url: Redacted.make(url) }))), 150_000)
})
