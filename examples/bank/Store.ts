/**
 * The bank's event store, chosen by configuration: PostgreSQL when
 * `DATABASE_URL` is set, otherwise SQLite in `.data/bank.sqlite` (the directory is
 * created on first run). The rest of the application sees only the
 * `EventStore` service: switching stores is a layer swap, not a code change.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import type { PlatformError } from "@effect/platform/Error"
import type { ConfigError } from "effect"
import { Config, Effect, Layer, Option } from "effect"
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import type { EventStore } from "eventfold"
import { StoreError } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"

/** The store and the SQL client it is built on (the read model's tables live next to the events). */
export type StoreAndClient = EventStore.EventStore | SqlClient.SqlClient

/** SQLite in `directory/file`, creating the directory when missing. */
export const sqlite = (directory: string, file: string): Layer.Layer<StoreAndClient, StoreLayerError> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      yield* fs.makeDirectory(directory, { recursive: true })
      yield* Effect.logInfo(`Event store: SQLite at ${directory}/${file}`)
      const filename = `${directory}/${file}`
      return SqliteEventStore.layerFromClient().pipe(Layer.provideMerge(SqliteEventStore.layerClient({ filename })))
    })
  ).pipe(Layer.provide(NodeContext.layer))

/** What building the store can fail with. */
export type StoreLayerError = StoreError.StoreUnavailable | ConfigError.ConfigError | PlatformError

/** PostgreSQL on the secret `DATABASE_URL`. */
export const postgres: Layer.Layer<StoreAndClient, StoreLayerError> = Layer.merge(
  PgEventStore.layerFromClient().pipe(
    Layer.provideMerge(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") })),
    Layer.mapError((error) => error._tag === "SqlError" ? new StoreError.StoreUnavailable({ operation: "connect", cause: error }) : error)
  ),
  Layer.effectDiscard(Effect.logInfo("Event store: PostgreSQL (DATABASE_URL)"))
)

/** PostgreSQL when `DATABASE_URL` is set, else SQLite in `.data/bank.sqlite`. */
export const layer: Layer.Layer<StoreAndClient, StoreLayerError> = Layer.unwrapEffect(
  Effect.map(
    Config.option(Config.redacted("DATABASE_URL")),
    (url): Layer.Layer<StoreAndClient, StoreLayerError> => Option.isSome(url) ? postgres : sqlite(".data", "bank.sqlite")
  )
)
