/**
 * Reliability: two OS processes appending to one stream at once, on one SQLite
 * file and on one PostgreSQL database. Each process appends with exact expected
 * versions and reads the head again after a conflict; together they must store
 * exactly the events they were acknowledged for, each once, at versions 1..n.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import { EventStore, StreamId } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"
import { databaseForFile, freshSchemaUrl } from "../postgres/support.ts"
import { readStream, startWorker, tempSqliteFile } from "./support.ts"

const db = databaseForFile("rel_processes")
const perProcess = 40

const contend = (target: string, storeLayer: Layer.Layer<EventStore.EventStore, unknown>) =>
  Effect.scoped(Effect.gen(function*() {
    const store = Context.get(yield* Layer.build(storeLayer), EventStore.EventStore)
    const workers = ["a", "b"].map((label) => ({ label, worker: startWorker(["contend", target, "contended", label, String(perProcess)]) }))
    yield* Effect.promise(() => Promise.all(workers.map(({ worker }) => worker.waitFor((line) => line === "ready"))))
    for (const { worker } of workers) worker.child.stdin.write("go\n")
    const reports = yield* Effect.promise(() =>
      Promise.all(workers.map(async ({ label, worker }) => {
        const exit = await worker.exited
        if (exit.code !== 0) throw new Error(`worker ${label} failed: ${exit.stderr}`)
        return { label, ...(JSON.parse(worker.lines.at(-1)!) as { versions: Array<number>; conflicts: number }) }
      }))
    )
    const events = yield* readStream(store, StreamId.unsafeMake("contended"))
    // Exactly 2 × perProcess events, versions dense from 1, nothing lost or doubled.
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: 2 * perProcess }, (_, i) => i + 1))
    const stored = events.map((e) => JSON.parse(e.data) as { label: string; i: number })
    for (const { label, versions } of reports) {
      // Each process's acknowledged versions hold its own events, in its order.
      expect(versions).toHaveLength(perProcess)
      expect(versions.map((v) => stored[v - 1])).toEqual(Array.from({ length: perProcess }, (_, i) => ({ label, i })))
    }
    expect(new Set(events.map((e) => e.eventId)).size).toBe(2 * perProcess)
    return reports.reduce((n, r) => n + r.conflicts, 0)
  }))

describe("two OS processes contending on one stream", () => {
  it.live("on one SQLite file: exactly 80 events, versions 1..80, each acknowledged event stored once at its version", () =>
    Effect.gen(function*() {
      const filename = tempSqliteFile("contend")
      const storeLayer = SqliteEventStore.layer({ filename })
      yield* contend(filename, storeLayer)
    }), 120_000)

  it.live("on one PostgreSQL database: exactly 80 events, versions 1..80, each acknowledged event stored once at its version", () =>
    Effect.gen(function*() {
      const url = yield* freshSchemaUrl(db().url)
      const storeLayer = PgEventStore.layer({ url: Redacted.make(url) })
      yield* contend(url, storeLayer)
    }), 120_000)
})
