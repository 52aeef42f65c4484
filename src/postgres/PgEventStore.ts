/**
 * An `EventStore` over PostgreSQL (`@effect/sql-pg`), for applications that run
 * many instances against one database.
 *
 * - One table, `eventfold_events`, created by numbered migrations shipped in the
 *   package and run by `@effect/sql`'s Migrator (the layers run them unless
 *   `runMigrations: false`). `data` and `metadata` are `jsonb`; what PostgreSQL
 *   refuses to store (a NUL character in a type, a `\u0000` escape in JSON) is
 *   rejected with `InvalidArgument`, as is, before any SQL, what no backend
 *   stores (ids that are not lowercase UUIDs, data that is not JSON).
 * - Reads are lazy keyset pages (the version range `[next, next + n)` of a
 *   stream; for `readAll`, the rows after a cursor in `(transaction_id,
 *   position)` order): one short query per page, run only when the consumer
 *   pulls; no connection is held between pages, so a consumer that stops early
 *   holds nothing. For long reads pass a larger `pageSize` (1000 reads about
 *   twice as fast as the default 256). See adr/0003-postgres-reads.md.
 * - An append is one call of the `eventfold_append` function, in a transaction
 *   of its own (autocommit): one round trip checks every expected version and,
 *   only when all match, inserts every event (positions follow the order of the
 *   writes and of their events). No lock is held across the commit, so appends
 *   to different streams run, and flush, in parallel. Optimistic concurrency
 *   per stream stays exact (`UNIQUE (stream_id, version)` behind the check), and
 *   a multi-stream append is one transaction. The function and the stream-page
 *   function `eventfold_read_forward` run with cached (generic) plans, and live
 *   subscriptions are notified right after the append's commit rather than in
 *   it, so that concurrent commits never queue on PostgreSQL's notification
 *   lock (migration 5, adr/0012).
 * - The global order is `(transaction id, position)`: every row records the
 *   `xid8` of the transaction that wrote it, and `readAll` reads only rows of
 *   transactions older than every transaction still running. So it never passes
 *   an event whose transaction commits later, and never yields a rolled-back
 *   one. Resume with an event's `cursor` (`<xid>:<position>`), not with its
 *   position. The price: a long-running write transaction anywhere on the
 *   server holds `readAll` back until it ends (monitor
 *   `pg_stat_activity.backend_xid`), and after a restore into a new cluster
 *   (pg_dump, not a physical copy or a replica) cursors must be reset. See
 *   adr/0012-postgres-global-order.md.
 * - A read whose connection was killed (`pg_terminate_backend`, a server
 *   restart) is run again once on a fresh connection; an append is run again
 *   only when the driver refused it before sending it (a dead pooled
 *   connection), since otherwise its outcome is unknown (below).
 * - Constraint violations and serialization failures surface as
 *   `WrongExpectedVersion` / `DuplicateEventId`, never as a raw `SqlError`; lost
 *   connections and timeouts as `StoreUnavailable`, never as a defect.
 * - A COMMIT that fails, or a connection lost during the append, gives
 *   `StoreUnavailable`, and then **the outcome is unknown**: the server may have
 *   committed before the acknowledgement was lost. Event ids are the idempotency
 *   key, so retrying the same events (same ids) can never store them twice: if
 *   the first attempt committed, the retry fails with `DuplicateEventId` (or,
 *   when its expected version no longer matches because the first attempt moved
 *   the stream, with `WrongExpectedVersion`; read the stream back and look for
 *   the ids to tell the two apart).
 * - An append run inside `sql.withTransaction` joins that transaction (in a
 *   savepoint): your own writes and the events commit together, and the events
 *   reach `readAll` when your transaction ends. Such a transaction must run at
 *   READ COMMITTED (the default): under REPEATABLE READ or SERIALIZABLE its
 *   snapshot predates appends committed since it began, the version checks could
 *   never see a newer head, and a conflict would repeat forever; so an append
 *   with events fails there at once with `InvalidArgument`.
 * - Beware: `@effect/sql`'s `SqlClient.TransactionConnection` is one context tag
 *   shared by every client. Inside `withTransaction` of *any* client (another
 *   pool, another database, even SQLite) this store runs its statements on that
 *   transaction's connection. Run appends inside transactions of the client the
 *   store was built on only.
 *
 * @example
 * ```ts
 * import { Effect, Redacted, Stream } from "effect"
 * import { EventStore, StreamId } from "eventfold"
 * import { PgEventStore } from "eventfold/postgres"
 *
 * const program = Effect.flatMap(EventStore.EventStore, (store) => Stream.runCount(store.read(StreamId.unsafeMake("account-ada"))))
 *
 * // connects, migrates and runs when the effect runs
 * const runnable = program.pipe(Effect.provide(PgEventStore.layer({ url: Redacted.make("postgres://localhost/app") })))
 * ```
 *
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import type { PgMigrator } from "@effect/sql-pg"
import { PgClient } from "@effect/sql-pg"
import type { SqlError } from "@effect/sql/SqlError"
import type { ConfigError } from "effect/ConfigError"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { EventStore } from "../EventStore.ts"
import { StoreUnavailable } from "../StoreError.ts"
import { withReadSide } from "./internal/readSide.ts"
import { makeStore, migrate as runMigrations, migrationLoader } from "./internal/store.ts"

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export interface MakeOptions {
  /**
   * The page size of reads that do not pass one (default {@link defaultPageSize},
   * 1,000: each page is a round trip, so PostgreSQL reads want larger pages than
   * SQLite's 256; adr/0007).
   */
  readonly pageSize?: number | undefined
}

/**
 * Options of {@link layerFromClient}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions extends MakeOptions {
  /** Run the schema migrations when the layer is built. Default `true`. */
  readonly runMigrations?: boolean | undefined
}

/**
 * Options of {@link layer}: the `@effect/sql-pg` client configuration (URL or
 * host, pool size, ...) and the store's own options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends PgClient.PgClientConfig, StoreOptions {}

/**
 * The PostgreSQL store's default page size: 1,000 events per round trip (the
 * fastest of 256, 1,000 and 4,000 in `npm run bench`, adr/0007).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultPageSize = 1000

/**
 * Builds the store over the `SqlClient` in context, which must be a PostgreSQL
 * client (`PgClient`) whose schema is migrated ({@link migrate}). Bring your own
 * client this way to share its pool with your own tables.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: MakeOptions): Effect.Effect<EventStore.Service, never, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => withReadSide(sql, makeStore(sql, options?.pageSize ?? defaultPageSize)))

/**
 * The migrations of the eventfold schema, for `@effect/sql`'s Migrator (they
 * ship in code; nothing is read from disk).
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrations: PgMigrator.Loader = migrationLoader

/**
 * Runs the pending migrations on the `SqlClient` in context, recording them in
 * the `eventfold_migrations` table of the first schema on the `search_path`.
 * Returns the `[id, name]` of those it ran. Safe to run from several instances at
 * once: they take turns under an advisory lock, and the later ones find nothing
 * left to do. Interrupting it never loses a pool connection.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrate: Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, StoreUnavailable, SqlClient.SqlClient> =
  runMigrations

/**
 * The store over the `SqlClient` in context (a `PgClient`), migrating the schema
 * first unless `runMigrations` is `false`.
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import { PgClient } from "@effect/sql-pg"
 * import { PgEventStore } from "eventfold/postgres"
 *
 * const url = Redacted.make("postgres://app@db/app")
 * // the store on a pool you also use for your own tables (SqlClient and PgClient stay provided)
 * const Store = PgEventStore.layerFromClient().pipe(Layer.provideMerge(PgClient.layer({ url, maxConnections: 20 })))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFromClient = (options?: StoreOptions): Layer.Layer<EventStore, StoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(EventStore, Effect.zipRight(options?.runMigrations === false ? Effect.void : migrate, make(options)))

const connectFailure = <E extends { readonly _tag: string }>(error: E | SqlError) =>
  error._tag === "SqlError" ? new StoreUnavailable({ operation: "connect", cause: error }) : error as Exclude<E, SqlError>

/**
 * The store on its own `@effect/sql-pg` pool: client, migrations and store in one
 * layer. The pool is closed when the layer is released.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { PgEventStore } from "eventfold/postgres"
 *
 * const Store = PgEventStore.layer({ url: Redacted.make("postgres://app@db/app"), maxConnections: 10 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<EventStore, StoreUnavailable> => {
  const { pageSize, runMigrations, ...client } = options
  return layerFromClient({ pageSize, runMigrations }).pipe(
    Layer.provide(PgClient.layer(client)),
    Layer.catchAll((error) => Layer.fail(connectFailure(error)))
  )
}

/**
 * {@link layer} with its options (client configuration and the store's own) read
 * from `Config`. By default the connection URL is the secret `DATABASE_URL`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { PgEventStore } from "eventfold/postgres"
 *
 * const Store = PgEventStore.layerConfig({ url: Config.redacted("EVENTS_DATABASE_URL"), maxConnections: Config.succeed(20) })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = { url: Config.redacted("DATABASE_URL") }
): Layer.Layer<EventStore, ConfigError | StoreUnavailable> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
