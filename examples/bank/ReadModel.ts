/**
 * The bank's read side: an `accounts` table kept by a projection, and three
 * routes that read it or follow the log.
 *
 * - `bank_accounts (id, owner, balance, status, version)`, in the store's own
 *   database, written by the `accounts` projection in the same transaction as
 *   its checkpoint: every event is applied exactly once, whatever crashes.
 *   Several server instances on one database run it once between them: the
 *   others stand by and take over when the runner stops.
 * - `GET /accounts?limit=50&after=<id>`: the accounts, by id, a page at a time
 *   (`next` is the `after` of the next page, `null` on the last).
 * - `GET /events`: the log, live, as Server-Sent Events. Each event's `id` is
 *   its cursor, so a client that reconnects with `Last-Event-ID` resumes after
 *   the last event it got. Query: `prefix` (stream-id prefix, e.g. `account-`),
 *   `type` (repeatable), `from` (`start`, `end` (default) or a cursor).
 * - `GET /projections`: every projection's checkpoint, head, lag and runner.
 */
import { SqlClient } from "@effect/sql"
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Either, Layer, Stream } from "effect"
import type { Event } from "eventfold"
import { Cursor, EventStore, Projection, Subscription } from "eventfold"
import type { AccountEvent } from "./Domain.ts"
import { codec } from "./Domain.ts"

const accountPrefix = "account-"

/** Creates the `bank_accounts` table when missing (SQLite and PostgreSQL). */
export const createTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`CREATE TABLE IF NOT EXISTS bank_accounts (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    balance BIGINT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL
  )`)

/** Applies one event to its account's row. */
const apply = (sql: SqlClient.SqlClient, event: Event.RecordedEvent<AccountEvent>) => {
  const id = event.streamId.slice(accountPrefix.length)
  const version = event.version
  switch (event.data._tag) {
    case "AccountOpened":
      return sql`INSERT INTO bank_accounts (id, owner, balance, status, version)
        VALUES (${id}, ${event.data.owner}, 0, 'open', ${version})
        ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, status = 'open', version = excluded.version`
    case "Deposited":
    case "TransferredIn":
      return sql`UPDATE bank_accounts SET balance = balance + ${event.data.amount}, version = ${version} WHERE id = ${id}`
    case "Withdrawn":
    case "TransferredOut":
      return sql`UPDATE bank_accounts SET balance = balance - ${event.data.amount}, version = ${version} WHERE id = ${id}`
    case "AccountClosed":
      return sql`UPDATE bank_accounts SET status = 'closed', version = ${version} WHERE id = ${id}`
  }
}

/** The `accounts` projection: account events into `bank_accounts`. */
export const accounts = Projection.make({
  name: "accounts",
  codec,
  streamPrefix: accountPrefix,
  handle: (events) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(events, (event) => apply(sql, event), { discard: true }))
})

/** A row of `bank_accounts`, as `GET /accounts` returns it. */
export interface AccountRow {
  readonly id: string
  readonly owner: string
  readonly balance: number
  readonly status: string
  readonly version: number
}

/** One page of accounts, by id, after `after`. */
export const listAccounts = (limit: number, after: string | undefined) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(
      after === undefined
        ? sql<AccountRow>`SELECT id, owner, balance, status, version FROM bank_accounts ORDER BY id LIMIT ${limit + 1}`
        : sql<AccountRow>`SELECT id, owner, balance, status, version FROM bank_accounts WHERE id > ${after} ORDER BY id LIMIT ${
          limit + 1
        }`,
      (rows) => {
        // PostgreSQL returns bigint as text
        const page = rows.slice(0, limit).map((row) => ({ ...row, balance: Number(row.balance), version: Number(row.version) }))
        return { accounts: page, next: rows.length > limit ? page[page.length - 1]!.id : null }
      }
    ))

const encoder = new TextEncoder()

/** One Server-Sent Event: the cursor as its id, the type as its name, the event as JSON data. */
const sse = (event: Event.StoredEvent): Uint8Array =>
  encoder.encode(
    `id: ${event.cursor}\nevent: ${event.type}\ndata: ${
      JSON.stringify({
        streamId: event.streamId,
        version: event.version,
        position: event.position,
        type: event.type,
        data: JSON.parse(event.data),
        recordedAt: event.recordedAt.toISOString()
      })
    }\n\n`
  )

const keepAlive = encoder.encode(": keep-alive\n\n")

const badRequest = (message: string) => HttpServerResponse.unsafeJson({ _tag: "BadRequest", message }, { status: 400 })

const first = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

/** Where a client's event feed starts: `Last-Event-ID`, else `from`, else the end. */
const startOf = (lastEventId: string | undefined, from: string | undefined): Either.Either<Subscription.From, string> => {
  const text = lastEventId ?? from
  if (text === undefined || text === "end") return Either.right("end")
  if (text === "start") return Either.right("start")
  return Either.mapLeft(Cursor.decode(text), () => `not a cursor: ${JSON.stringify(text)}`)
}

/** The three read routes, on the API's router. */
export const routes = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const store = yield* EventStore.EventStore
    const sql = yield* SqlClient.SqlClient

    yield* router.get(
      "/accounts",
      Effect.gen(function*() {
        const params = yield* HttpServerRequest.ParsedSearchParams
        const limit = Number(first(params["limit"]) ?? 50)
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return badRequest("limit must be a whole number from 1 to 1000")
        const page = yield* Effect.orDie(Effect.provideService(listAccounts(limit, first(params["after"])), SqlClient.SqlClient, sql))
        return HttpServerResponse.unsafeJson(page)
      })
    )

    yield* router.get(
      "/projections",
      Effect.map(
        Effect.orDie(Effect.provideService(Projection.status, EventStore.EventStore, store)),
        (all) =>
          HttpServerResponse.unsafeJson(all.map((s) => ({
            name: s.name,
            cursor: s.checkpoint.cursor,
            position: s.checkpoint.position,
            head: s.head,
            lag: s.lag,
            runner: s.runner ?? null,
            updatedAt: s.updatedAt?.toISOString() ?? null
          })))
      )
    )

    yield* router.get(
      "/events",
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const params = yield* HttpServerRequest.ParsedSearchParams
        const from = startOf(request.headers["last-event-id"], first(params["from"]))
        if (Either.isLeft(from)) return badRequest(from.left)
        const typeParam = params["type"]
        const types = typeParam === undefined ? undefined : typeof typeParam === "string" ? [typeParam] : typeParam
        const events = Subscription.fromStore(store, { from: from.right, streamPrefix: first(params["prefix"]), types }).pipe(
          Stream.map(sse),
          Stream.merge(Stream.as(Stream.tick(Duration.seconds(15)), keepAlive), { haltStrategy: "left" }),
          Stream.tapErrorCause((cause) => Effect.logError("event feed failed", cause))
        )
        return HttpServerResponse.stream(events, {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache" }
        })
      })
    )
  })
)

/** Options of {@link layer}. */
export interface Options {
  /** The projection runner's id (shown by `GET /projections`). */
  readonly runner?: string
  /** How long a runner's lead lasts without renewal (default 10 s). */
  readonly leaseDuration?: Duration.DurationInput
}

/**
 * The read side: the table, the projection running in the background, and the
 * routes. Needs the store and the `SqlClient` it is built on.
 */
export const layer = (options: Options = {}) =>
  Layer.mergeAll(
    routes,
    Projection.layer(accounts, { runner: options.runner, leaseDuration: options.leaseDuration })
  ).pipe(Layer.provide(Layer.effectDiscard(Effect.orDie(createTable))))
