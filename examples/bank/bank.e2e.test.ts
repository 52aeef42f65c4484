/**
 * End to end: the bank server on a temporary SQLite file and a random port,
 * driven over real HTTP with `fetch`.
 */
import { FileSystem, HttpServer } from "@effect/platform"
import { NodeContext, NodeHttpServer } from "@effect/platform-node"
import { describe, expect, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, identity, Layer, Logger, LogLevel, Metric } from "effect"
import type { EventStore } from "eventfold"
import { Executor } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { SqliteEventStore } from "eventfold/sqlite"
import { ChaosEventStore } from "eventfold/testing"
import { createServer } from "node:http"
import { freshDatabase } from "../../test/support/postgres.ts"
import * as Server from "./Server.ts"
import * as Store from "./Store.ts"

/** The bank server over a store layer, on a random port; exposes the `HttpServer`. */
const serverOn = <E>(store: Layer.Layer<EventStore.EventStore, E>) =>
  Server.make({ logRequests: false }).pipe(
    Layer.provide(store),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0 }))
  )

/**
 * The server over SQLite in a temporary directory, removed when the server
 * stops; `wrap` may put a layer between the server and the store.
 */
const sqliteServer = (
  wrap: (store: Layer.Layer<EventStore.EventStore, unknown>) => Layer.Layer<EventStore.EventStore, unknown> = identity
) =>
  Layer.unwrapScoped(
    Effect.map(
      Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "eventfold-bank-" })),
      (directory) => serverOn(wrap(SqliteEventStore.layer({ filename: `${directory}/bank.sqlite` })))
    )
  ).pipe(Layer.provide(NodeContext.layer))

interface Reply {
  readonly status: number
  readonly contentType: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are checked by value in the tests
  readonly body: any
}

/** Sends a request to the server in context; the body is parsed as JSON when it is JSON. */
const call = (method: "GET" | "POST", path: string, body?: unknown, rawBody?: string) =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return yield* Effect.promise(async (): Promise<Reply> => {
      const init: RequestInit = { method }
      if (body !== undefined || rawBody !== undefined) {
        init.headers = { "content-type": "application/json" }
        init.body = rawBody ?? JSON.stringify(body)
      }
      const response = await fetch(`http://127.0.0.1:${port}${path}`, init)
      const contentType = response.headers.get("content-type") ?? ""
      const text = await response.text()
      return {
        status: response.status,
        contentType,
        body: contentType.includes("json") ? JSON.parse(text) : text
      }
    })
  })

const open = (owner: string) =>
  Effect.map(call("POST", "/accounts", { owner }), (reply) => {
    expect(reply.status).toBe(201)
    return reply.body.id as string
  })

const deposit = (id: string, amount: number) => call("POST", `/accounts/${id}/deposits`, { amount })
const balanceOf = (id: string) => Effect.map(call("GET", `/accounts/${id}`), (reply) => reply.body.balance as number)

const unknownId = "7f8a3c1e-0000-4000-8000-000000000000"

layer(sqliteServer(), { timeout: "60 seconds", excludeTestServices: true })("bank over HTTP on SQLite", (it) => {
  it.effect("opens an account, takes deposits and withdrawals, and reads back balance 700 at version 3", () =>
    Effect.gen(function*() {
      const id = yield* open("Ada")
      expect((yield* deposit(id, 1000)).body).toEqual({ id, owner: "Ada", status: "open", balance: 1000, version: 2 })
      const withdrawn = yield* call("POST", `/accounts/${id}/withdrawals`, { amount: 300 })
      expect(withdrawn.status).toBe(200)
      const read = yield* call("GET", `/accounts/${id}`)
      expect(read.status).toBe(200)
      expect(read.body).toEqual({ id, owner: "Ada", status: "open", balance: 700, version: 3 })
    }))

  it.effect("answers 400 with a JSON body to a request body that is not JSON", () =>
    Effect.gen(function*() {
      const reply = yield* call("POST", "/accounts", undefined, "{\"owner\": ")
      expect(reply.status).toBe(400)
      expect(reply.contentType).toContain("application/json")
      expect(reply.body).toEqual({ _tag: "HttpApiDecodeError", issues: [], message: "The request body is not valid JSON" })
    }))

  it.effect("answers 400 naming the field to a body that does not match the schema and to a malformed id", () =>
    Effect.gen(function*() {
      const id = yield* open("Ada")
      const negative = yield* deposit(id, -5)
      expect(negative.status).toBe(400)
      expect(negative.body._tag).toBe("HttpApiDecodeError")
      expect(negative.body.issues[0].path).toEqual(["amount"])
      const fraction = yield* deposit(id, 1.5)
      expect(fraction.status).toBe(400)
      const noOwner = yield* call("POST", "/accounts", {})
      expect(noOwner.status).toBe(400)
      expect(noOwner.body.issues[0].path).toEqual(["owner"])
      const badId = yield* call("GET", "/accounts/not-a-uuid")
      expect(badId.status).toBe(400)
      expect(badId.body.issues[0].path).toEqual(["id"])
    }))

  it.effect("answers 404 AccountNotFound for an unknown account, on reads, deposits and transfers", () =>
    Effect.gen(function*() {
      expect(yield* call("GET", `/accounts/${unknownId}`)).toMatchObject({
        status: 404,
        body: { _tag: "AccountNotFound", accountId: unknownId }
      })
      expect((yield* deposit(unknownId, 5)).status).toBe(404)
      const known = yield* open("Ada")
      yield* deposit(known, 100)
      const transfer = yield* call("POST", "/transfers", { from: known, to: unknownId, amount: 10 })
      expect(transfer).toMatchObject({ status: 404, body: { _tag: "AccountNotFound", accountId: unknownId } })
      expect(yield* balanceOf(known)).toBe(100)
    }))

  it.effect("answers 422 to domain rules: insufficient funds, transfer to self, closing a funded or closed account", () =>
    Effect.gen(function*() {
      const id = yield* open("Ada")
      yield* deposit(id, 100)
      expect(yield* call("POST", `/accounts/${id}/withdrawals`, { amount: 101 })).toMatchObject({
        status: 422,
        body: { _tag: "InsufficientFunds", accountId: id, balance: 100, requested: 101 }
      })
      const other = yield* open("Bob")
      expect(yield* call("POST", "/transfers", { from: other, to: id, amount: 1 })).toMatchObject({
        status: 422,
        body: { _tag: "InsufficientFunds", accountId: other, balance: 0, requested: 1 }
      })
      expect(yield* call("POST", "/transfers", { from: id, to: id, amount: 1 })).toMatchObject({
        status: 422,
        body: { _tag: "SameAccountTransfer" }
      })
      expect(yield* call("POST", `/accounts/${id}/close`)).toMatchObject({
        status: 422,
        body: { _tag: "BalanceNotZero", balance: 100 }
      })
      yield* call("POST", `/accounts/${id}/withdrawals`, { amount: 100 })
      expect(yield* call("POST", `/accounts/${id}/close`)).toMatchObject({ status: 200, body: { status: "closed", balance: 0 } })
      expect(yield* deposit(id, 1)).toMatchObject({ status: 422, body: { _tag: "AccountIsClosed", accountId: id } })
      expect(yield* call("POST", "/transfers", { from: other, to: id, amount: 1 })).toMatchObject({ status: 422 })
    }))

  it.effect("serves the Swagger page at /docs and the OpenAPI document at /openapi.json", () =>
    Effect.gen(function*() {
      const docs = yield* call("GET", "/docs")
      expect(docs.status).toBe(200)
      expect(docs.contentType).toContain("text/html")
      expect(docs.body).toContain("SwaggerUIBundle")
      const spec = yield* call("GET", "/openapi.json")
      expect(spec.status).toBe(200)
      expect(spec.body.info.title).toBe("eventfold bank")
      expect(Object.keys(spec.body.paths).sort()).toEqual([
        "/accounts",
        "/accounts/{id}",
        "/accounts/{id}/close",
        "/accounts/{id}/deposits",
        "/accounts/{id}/withdrawals",
        "/transfers"
      ])
      expect(Object.keys(spec.body.paths["/accounts/{id}/withdrawals"].post.responses).sort()).toEqual(
        ["200", "400", "404", "409", "422", "500", "503"]
      )
    }))

  it.effect("answers 404 with a JSON body to a route that does not exist", () =>
    Effect.gen(function*() {
      expect(yield* call("GET", "/nowhere")).toMatchObject({
        status: 404,
        contentType: "application/json",
        body: { _tag: "RouteNotFound", message: "No route for GET /nowhere" }
      })
    }))
})

/**
 * Opens two accounts with 100 each and runs `count` transfers of 10 to 99 between
 * them at once, half each way, so that racing transfers could overdraw an
 * account if the version check let two of them decide on the same balance. While
 * they run, balances are sampled. Then: money is conserved, no balance (sampled,
 * reported or final) was ever negative, and each account's history, as the
 * successful transfers report it, chains version by version.
 */
const concurrentTransfers = (count: number) =>
  Effect.gen(function*() {
    const start = 100
    const a = yield* open("A")
    const b = yield* open("B")
    yield* deposit(a, start)
    yield* deposit(b, start)
    const transfers = Array.from({ length: count }, (_, i) => ({
      from: i % 2 === 0 ? a : b,
      to: i % 2 === 0 ? b : a,
      amount: 10 + ((i * 37) % 90)
    }))
    const conflictsBefore = (yield* Metric.value(Executor.conflicts)).count
    const samples: Array<number> = []
    const sampler = Effect.gen(function*() {
      samples.push(yield* balanceOf(a), yield* balanceOf(b))
    }).pipe(Effect.forever, Effect.fork)
    const sampling = yield* sampler
    const replies = yield* Effect.forEach(transfers, (t) => call("POST", "/transfers", t), { concurrency: "unbounded" })
    yield* Fiber.interrupt(sampling)

    for (const reply of replies) expect([200, 409, 422]).toContain(reply.status)
    const succeeded = replies.filter((reply) => reply.status === 200).map((reply) => reply.body)
    expect(succeeded.length).toBeGreaterThan(0)
    const net = succeeded.reduce((sum, t) => sum + (t.from.id === a ? -t.amount : t.amount), 0)

    const [balanceA, balanceB] = [yield* balanceOf(a), yield* balanceOf(b)]
    expect(balanceA + balanceB).toBe(2 * start)
    expect(balanceA).toBe(start + net)
    expect(balanceB).toBe(start - net)
    expect(samples.length).toBeGreaterThan(0)
    expect(samples.filter((balance) => balance < 0)).toEqual([])
    // Each success reports, for both accounts, the version it appended and the balance
    // after it. Ordered by version they must chain: start, then each balance the one
    // before plus this transfer's amount. A transfer decided on a stale balance
    // breaks the chain even when the totals happen to add up.
    for (const [account, final] of [[a, balanceA], [b, balanceB]] as const) {
      const history = succeeded
        .map((t) => t.from.id === account
          ? { version: t.from.version, balance: t.from.balance, delta: -t.amount }
          : { version: t.to.version, balance: t.to.balance, delta: t.amount })
        .sort((x, y) => x.version - y.version)
      expect(history.map((entry) => entry.version)).toEqual(history.map((_, i) => 3 + i))
      let expected = start
      for (const entry of history) {
        expected += entry.delta
        expect(entry).toEqual({ ...entry, balance: expected })
        expect(entry.balance).toBeGreaterThanOrEqual(0)
      }
      expect(final).toBe(expected)
    }
    // one server's executor runs commands on the same accounts one at a time: no append met a moved stream
    expect((yield* Metric.value(Executor.conflicts)).count).toBe(conflictsBefore)
  })

/**
 * A store that waits up to 3 ms before some reads and appends. SQLite answers
 * synchronously, so without waits one request's command runs start to end before
 * the next begins; with them, concurrent transfers read the same versions and
 * conflict, as they would on a busy server.
 */
const withJitter = (store: Layer.Layer<EventStore.EventStore, unknown>) =>
  ChaosEventStore.layer({ seed: 7, delayRate: 0.5, maxDelay: "3 millis" }).pipe(Layer.provide(store))

layer(sqliteServer(withJitter), { timeout: "60 seconds", excludeTestServices: true })("concurrent transfers over HTTP on SQLite", (it) => {
  it.effect("conserves money under 32 concurrent transfers in both directions between the same two accounts", () =>
    concurrentTransfers(32))
})

describe("bank over HTTP on a faulty store", () => {
  /** The server logs store failures; these tests cause them on purpose. */
  const quiet = Logger.minimumLogLevel(LogLevel.None)
  const AlwaysConflicting = serverOn(
    ChaosEventStore.layer({ seed: 1, appendConflictRate: 1 }).pipe(Layer.provide(MemoryEventStore.layer()))
  )
  layer(AlwaysConflicting, { timeout: "30 seconds", excludeTestServices: true })((it) => {
    it.effect("answers 409 Conflict when every attempt meets a concurrent change", () =>
      Effect.gen(function*() {
        const reply = yield* call("POST", "/accounts", { owner: "Ada" })
        expect(reply.status).toBe(409)
        expect(reply.body._tag).toBe("Conflict")
        expect(reply.body.message).toMatch(/^Command gave up after 12 attempts/)
      }))
  })

  const Unavailable = serverOn(
    ChaosEventStore.layer({ seed: 1, appendFailureRate: 1 }).pipe(Layer.provide(MemoryEventStore.layer()))
  )
  layer(Layer.provide(Unavailable, quiet), { timeout: "30 seconds", excludeTestServices: true })((it) => {
    it.effect("answers 503 ServiceUnavailable when the store cannot be reached", () =>
      Effect.gen(function*() {
        expect(yield* call("POST", "/accounts", { owner: "Ada" })).toMatchObject({
          status: 503,
          body: { _tag: "ServiceUnavailable", message: "The event store is unavailable; please try again later" }
        })
      }))
  })
})

/**
 * The server over `Store.layer`, the store `npm start` uses, with `DATABASE_URL`
 * pointing at a fresh database: the same code, a different layer.
 */
const PostgresServer = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(Effect.promise(() => freshDatabase("bank_e2e")), (db) => Effect.promise(() => db.drop())),
    (db) =>
      serverOn(
        Store.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", db.url]])))))
      )
  )
)

layer(Layer.provide(PostgresServer, Logger.minimumLogLevel(LogLevel.Warning)), {
  timeout: "60 seconds",
  excludeTestServices: true
})("bank over HTTP on PostgreSQL (DATABASE_URL set)", (it) => {
  it.effect("conserves money under 24 concurrent transfers between the same two accounts", () => concurrentTransfers(24))

  it.effect("answers 404 for an unknown account and 422 for insufficient funds", () =>
    Effect.gen(function*() {
      expect((yield* call("GET", `/accounts/${unknownId}`)).status).toBe(404)
      const id = yield* open("Ada")
      expect((yield* call("POST", `/accounts/${id}/withdrawals`, { amount: 1 })).body).toEqual({
        _tag: "InsufficientFunds",
        accountId: id,
        balance: 0,
        requested: 1
      })
    }))
})
