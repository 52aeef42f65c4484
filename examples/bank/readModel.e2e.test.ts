/**
 * End to end, the read side: two bank servers on one database (SQLite file,
 * then PostgreSQL), driven over real HTTP. After a burst of concurrent
 * transfers through both, the `accounts` read model converges to the balances
 * folded from the streams; the projection runs in one server only, and the
 * other takes it over when the first stops; `GET /events` streams the log as
 * Server-Sent Events and resumes with `Last-Event-ID`.
 */
import { FileSystem, HttpServer } from "@effect/platform"
import { NodeContext, NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Duration, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { createServer } from "node:http"
import { freshDatabase } from "../../test/support/postgres.ts"
import * as ReadModel from "./ReadModel.ts"
import * as Server from "./Server.ts"
import * as Store from "./Store.ts"

/** A server instance: its own store client on the shared database, on a random port. */
const instance = (store: Layer.Layer<Store.StoreAndClient, unknown>, runner: string) =>
  Server.make({ logRequests: false, readSide: ReadModel.layer({ runner, leaseDuration: Duration.seconds(1) }) }).pipe(
    Layer.provide(store),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0 })),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )

type Running = Context.Context<HttpServer.HttpServer>

const portOf = (server: Running) => {
  const address = Context.get(server, HttpServer.HttpServer).address
  return address._tag === "TcpAddress" ? address.port : 0
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies are checked by value
const call = (server: Running, method: "GET" | "POST", path: string, body?: unknown): Effect.Effect<{ status: number; body: any }> =>
  Effect.promise(async () => {
    const init: RequestInit = { method }
    if (body !== undefined) {
      init.headers = { "content-type": "application/json" }
      init.body = JSON.stringify(body)
    }
    const response = await fetch(`http://127.0.0.1:${portOf(server)}${path}`, init)
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
  })

interface Sse {
  readonly id: string
  readonly event: string
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- checked by value
  readonly data: any
}

/** Reads `count` Server-Sent Events from `path`, then hangs up. */
const readEvents = (server: Running, path: string, count: number, lastEventId?: string) =>
  Effect.promise(async () => {
    const abort = new AbortController()
    const response = await fetch(`http://127.0.0.1:${portOf(server)}${path}`, {
      headers: lastEventId === undefined ? {} : { "last-event-id": lastEventId },
      signal: abort.signal
    })
    const contentType = response.headers.get("content-type")
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    const events: Array<Sse> = []
    let buffer = ""
    while (events.length < count) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (block.startsWith(":")) continue
        const fields = Object.fromEntries(block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]))
        events.push({ id: fields["id"]!, event: fields["event"]!, data: JSON.parse(fields["data"]!) })
      }
    }
    abort.abort()
    return { contentType, events: events.slice(0, count) }
  })

const eventually = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean): Effect.Effect<A> =>
  Effect.flatMap(effect, (a) => done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep(Duration.millis(50)), eventually(effect, done)))

const accountsProjection = (server: Running) =>
  Effect.map(call(server, "GET", "/projections"), (reply) =>
    (reply.body as Array<{ name: string; lag: number; head: number; runner: string | null }>).find((p) => p.name === "accounts"))

/** Every account of the read model, a page of 4 at a time. */
const allAccounts = (server: Running) =>
  Effect.gen(function*() {
    const out: Record<string, { balance: number; owner: string; status: string; version: number }> = {}
    let after: string | null = null
    do {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- checked by value
      const reply: { status: number; body: any } = yield* call(server, "GET", `/accounts?limit=4${after === null ? "" : `&after=${after}`}`)
      expect(reply.status).toBe(200)
      for (const account of reply.body.accounts) out[account.id] = account
      after = reply.body.next
    } while (after !== null)
    return out
  })

const scenario = (openStore: Effect.Effect<() => Layer.Layer<Store.StoreAndClient, unknown>, unknown, Scope.Scope>) =>
  Effect.gen(function*() {
    const open = yield* openStore
    const scopeA = yield* Scope.make()
    const a = yield* Layer.buildWithScope(instance(open(), "server-a"), scopeA)
    const b = yield* Layer.build(instance(open(), "server-b"))

    // six accounts with 1000 each, opened through both servers
    const ids: Array<string> = []
    for (let i = 0; i < 6; i++) {
      const server = i % 2 === 0 ? a : b
      const opened = yield* call(server, "POST", "/accounts", { owner: `owner-${i}` })
      expect(opened.status).toBe(201)
      ids.push(opened.body.id)
      expect((yield* call(server, "POST", `/accounts/${opened.body.id}/deposits`, { amount: 1000 })).status).toBe(200)
    }

    // a burst of concurrent transfers through both servers
    yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) =>
      call(i % 2 === 0 ? a : b, "POST", "/transfers", { from: ids[i % 6], to: ids[(i * 5 + 1) % 6], amount: 1 + (i % 50) }), {
      concurrency: 12,
      discard: true
    })

    // the read model converges to the balances folded from the streams
    const status = yield* eventually(accountsProjection(b), (p) => p !== undefined && p.head > 0 && p.lag === 0)
    expect(status!.runner).toBe("server-a")
    const model = yield* allAccounts(b)
    expect(Object.keys(model).sort()).toEqual([...ids].sort())
    for (const id of ids) {
      const folded = (yield* call(a, "GET", `/accounts/${id}`)).body
      expect(model[id]!.balance).toBe(folded.balance)
      expect(model[id]!.owner).toBe(folded.owner)
      expect(model[id]!.status).toBe("open")
    }
    const total = Object.values(model).reduce((sum, account) => sum + account.balance, 0)
    expect(total).toBe(6000)

    // the log as Server-Sent Events, filtered, and resumed with Last-Event-ID
    const feed = yield* readEvents(b, "/events?from=start&prefix=account-&type=AccountOpened", 6)
    expect(feed.contentType).toContain("text/event-stream")
    expect(feed.events.map((e) => e.event)).toEqual(Array(6).fill("AccountOpened"))
    expect(feed.events.map((e) => e.data.streamId)).toEqual(ids.map((id) => `account-${id}`))
    const resumed = yield* readEvents(b, "/events?prefix=account-&type=AccountOpened", 3, feed.events[2]!.id)
    expect(resumed.events.map((e) => e.id)).toEqual(feed.events.slice(3).map((e) => e.id))
    expect((yield* call(b, "GET", "/events?from=nonsense")).status).toBe(400)

    // server A stops; B takes the projection over and keeps the model current
    yield* Scope.close(scopeA, Exit.void)
    expect((yield* call(b, "POST", `/accounts/${ids[0]}/deposits`, { amount: 7 })).status).toBe(200)
    const after = yield* eventually(accountsProjection(b), (p) => p !== undefined && p.runner === "server-b" && p.lag === 0)
    expect(after!.runner).toBe("server-b")
    const folded = (yield* call(b, "GET", `/accounts/${ids[0]}`)).body.balance
    expect((yield* eventually(allAccounts(b), (m) => m[ids[0]!]!.balance === folded))[ids[0]!]!.balance).toBe(folded)
  }).pipe(Effect.scoped)

describe("the bank's read side", () => {
  it.live("two servers on one SQLite file: the read model converges, one runner, takeover, live events", () =>
    scenario(
      Effect.map(
        Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "eventfold-bank-read-" })),
        (directory) => () => Store.sqlite(directory, "bank.sqlite")
      ).pipe(Effect.provide(NodeContext.layer))
    ), 60_000)

  it.live("two servers on one PostgreSQL database: the read model converges, one runner, takeover, live events", () =>
    scenario(
      Effect.map(
        Effect.acquireRelease(Effect.promise(() => freshDatabase("bank_read")), (db) => Effect.promise(() => db.drop())),
        (db) => () =>
          Store.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DATABASE_URL", db.url]])))))
      )
    ), 60_000)
})
