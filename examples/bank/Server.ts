/**
 * The bank's HTTP server: the handlers of `BankApi`, the Swagger page at
 * `/docs`, the OpenAPI document at `/openapi.json`, and JSON bodies on every
 * error response.
 *
 * The server layer needs an `EventStore` and an `HttpServer`: `main.ts` gives it
 * SQLite or PostgreSQL and a Node server; the end-to-end test gives it a
 * temporary SQLite file and a random port. The store is a layer swap.
 */
import {
  HttpApiBuilder,
  HttpApiSwagger,
  HttpMiddleware,
  HttpServerError,
  HttpServerResponse
} from "@effect/platform"
import { Cause, Effect, identity, Layer, Option, Schedule } from "effect"
import { Executor } from "eventfold"
import type { Pipeline, StoreError } from "eventfold"
import { BankApi, Conflict, InternalError, ServiceUnavailable } from "./Api.ts"
import * as Bank from "./Bank.ts"

// ---------------------------------------------------------------------------
// Store and executor failures -> HTTP errors
// ---------------------------------------------------------------------------

/** The failures that are not domain rules: the executor's and the store's (`Executor.isExecuteError`). */
type InfrastructureError = Executor.ExecuteError | StoreError.StoreError | Pipeline.UnexpectedInput

const toHttpError = (error: InfrastructureError): Effect.Effect<never, Conflict | ServiceUnavailable | InternalError> => {
  switch (error._tag) {
    case "RetriesExhausted":
      return Effect.fail(new Conflict({ message: `${error.message}; please try again` }))
    case "StoreUnavailable":
      return Effect.zipRight(
        Effect.logError("event store unavailable", error),
        Effect.fail(new ServiceUnavailable({ message: "The event store is unavailable; please try again later" }))
      )
    default:
      return Effect.zipRight(
        Effect.logError("request failed", error),
        Effect.fail(new InternalError({ message: `Internal error (${error._tag})` }))
      )
  }
}

/** Keeps domain errors as they are and maps store and executor failures to HTTP errors. */
const httpErrors = <A, E, R>(self: Effect.Effect<A, E, R>) => {
  return Effect.catchIf(self, Executor.isExecuteError, (error): Effect.Effect<never, Conflict | ServiceUnavailable | InternalError> => toHttpError(error))
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/** The `accounts` group's handlers. */
export const AccountsLive = HttpApiBuilder.group(BankApi, "accounts", (handlers) =>
  handlers
    .handle("open", ({ payload }) => httpErrors(Bank.openAccount(payload.owner)))
    .handle("get", ({ path }) => httpErrors(Bank.getAccount(path.id)))
    .handle("deposit", ({ path, payload }) => httpErrors(Bank.deposit(path.id, payload.amount)))
    .handle("withdraw", ({ path, payload }) => httpErrors(Bank.withdraw(path.id, payload.amount)))
    .handle("close", ({ path }) => httpErrors(Bank.closeAccount(path.id))))

/** The `transfers` group's handlers. */
export const TransfersLive = HttpApiBuilder.group(BankApi, "transfers", (handlers) =>
  handlers.handle("transfer", ({ payload }) => httpErrors(Bank.transfer(payload.from, payload.to, payload.amount))))

/** The whole API, implemented. */
export const ApiLive = HttpApiBuilder.api(BankApi).pipe(Layer.provide([AccountsLive, TransfersLive]))

// ---------------------------------------------------------------------------
// Errors outside the API's schema: bad JSON, unknown routes, defects
// ---------------------------------------------------------------------------

const jsonResponse = (status: number, body: Readonly<Record<string, unknown>>) =>
  HttpServerResponse.unsafeJson(body, { status })

/**
 * Gives a JSON body to the errors `HttpApi` would answer with an empty one: a
 * body that is not JSON becomes a 400 `HttpApiDecodeError` (the same shape as a
 * body that does not match its schema), a route that does not exist a 404
 * `RouteNotFound`, and a defect a 500 `InternalError`. Typed failures pass
 * through to the API's own error encoding.
 */
export const JsonErrorsLive = HttpApiBuilder.middleware((app) =>
  Effect.catchAllCause(app, (cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
    const error = Cause.squash(cause)
    if (HttpServerError.isServerError(error)) {
      switch (error._tag) {
        case "RequestError":
          return Effect.succeed(
            jsonResponse(400, {
              _tag: "HttpApiDecodeError",
              issues: [],
              message: error.reason === "Decode" ? "The request body is not valid JSON" : error.message
            })
          )
        case "RouteNotFound":
          return Effect.succeed(
            jsonResponse(404, { _tag: "RouteNotFound", message: `No route for ${error.request.method} ${error.request.url}` })
          )
        default:
          break
      }
    }
    if (Option.isSome(Cause.failureOption(cause))) return Effect.failCause(cause)
    return Effect.as(
      Effect.logError("unhandled defect", cause),
      jsonResponse(500, { _tag: "InternalError", message: "Internal error" })
    )
  }))

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

/**
 * The bank's retry policy on conflicts: up to 12 attempts, exponential backoff
 * from 5 ms capped at 100 ms, jittered. Transfers between the same busy
 * accounts conflict often; each retry reads the accounts again and decides anew.
 */
export const retry = Schedule.exponential("5 millis").pipe(
  Schedule.union(Schedule.spaced("100 millis")),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(11))
)

/** Options of {@link make}. */
export interface Options<R = never> {
  /** Log every request (method, url, status). Default true. */
  readonly logRequests?: boolean
  /** More routes and background work on the API's router: the read side (`ReadModel.layer()`). */
  readonly readSide?: Layer.Layer<never, never, R>
}

/**
 * The bank server: the API with Swagger and OpenAPI, on the `HttpServer` and
 * over the `EventStore` the caller provides.
 */
export const make = <R = never>(options: Options<R> = {}) =>
  HttpApiBuilder.serve(options.logRequests === false ? identity : HttpMiddleware.logger).pipe(
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(options.readSide ?? Layer.empty),
    Layer.provide(JsonErrorsLive),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(ApiLive),
    Layer.provide(Executor.layer({ retry }))
  )

/** The bank server, logging requests. */
export const layer = make()
