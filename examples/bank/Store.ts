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
import type { EventStore, StoreError } from "eventfold"
import { PgEventStore } from "eventfold/postgres"
import { SqliteEventStore } from "eventfold/sqlite"

/** SQLite in `directory/file`, creating the directory when missing. */
export const sqlite = (directory: string, file: string): Layer.Layer<EventStore.EventStore, StoreLayerError> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      yield* fs.makeDirectory(directory, { recursive: true })
      yield* Effect.logInfo(`Event store: SQLite at ${directory}/${file}`)
      return SqliteEventStore.layer({ filename: `${directory}/${file}` })
    })
  ).pipe(Layer.provide(NodeContext.layer))

/** What building the store can fail with. */
export type StoreLayerError = StoreError.StoreUnavailable | ConfigError.ConfigError | PlatformError

/** PostgreSQL on the secret `DATABASE_URL`. */
export const postgres: Layer.Layer<EventStore.EventStore, StoreLayerError> = Layer.merge(
  PgEventStore.layerConfig(),
  Layer.effectDiscard(Effect.logInfo("Event store: PostgreSQL (DATABASE_URL)"))
)

/** PostgreSQL when `DATABASE_URL` is set, else SQLite in `.data/bank.sqlite`. */
export const layer: Layer.Layer<EventStore.EventStore, StoreLayerError> = Layer.unwrapEffect(
  Effect.map(
    Config.option(Config.redacted("DATABASE_URL")),
    (url): Layer.Layer<EventStore.EventStore, StoreLayerError> => Option.isSome(url) ? postgres : sqlite(".data", "bank.sqlite")
  )
)
