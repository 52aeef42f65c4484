/**
 * An `EventStore` over SQLite (`@effect/sql-sqlite-node`): the embedded default.
 *
 * - One table, `eventfold_events`, created by numbered migrations shipped in the
 *   package and run by `@effect/sql`'s Migrator (the layers run them unless
 *   `runMigrations: false`).
 * - The shape every backend module has: {@link make}, {@link layer},
 *   {@link layerConfig}, {@link migrate} and {@link layerFromClient} (the store
 *   over a `SqlClient` you bring).
 * - Reads are lazy keyset pages (`version >= next ORDER BY version LIMIT n`, and
 *   by `position` for `readAll`): a page is fetched only when the consumer pulls.
 * - An append is one transaction that takes SQLite's write lock first, then checks
 *   every expected version, inserts everything with multi-row INSERTs and commits.
 *   While another connection (in this process or another) holds the lock the append
 *   waits, asynchronously, up to `busyTimeout`; a writer that slips in after the
 *   check still surfaces as `WrongExpectedVersion`, never as a raw `SqlError`.
 * - A COMMIT that fails (a deferred foreign key of yours, an I/O error) is rolled
 *   back and gives `StoreUnavailable`, never a defect. After an I/O error the
 *   outcome is unknown; retrying the same events (same event ids) can never store
 *   them twice: if they were committed the retry fails with `DuplicateEventId`, or
 *   with `WrongExpectedVersion` when they moved the stream past its expected version.
 * - The file runs in WAL mode, so readers never block the writer; a file database
 *   on which SQLite refuses WAL mode fails to open with `StoreUnavailable`.
 * - An append inside `sql.withTransaction` joins that transaction (a savepoint).
 *   `@effect/sql`'s `SqlClient.TransactionConnection` is one context tag shared by
 *   every client: inside a transaction of another client the store would run on
 *   that client's connection, so join transactions of the store's own client only.
 *
 * See adr/0006-sqlite-backend.md.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
 * import { SqliteEventStore } from "eventfold/sqlite"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 *
 * const program = Effect.gen(function*() {
 *   const accounts = yield* EventStore.typed(EventCodec.make(Deposited))
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* accounts.append({ streamId, expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 10 })] })
 *   return yield* Stream.runCount(accounts.read(streamId))
 * })
 *
 * // a file name such as "events.db" in an application; an in-memory database here
 * Effect.runPromise(program.pipe(Effect.provide(SqliteEventStore.layer({ filename: ":memory:" }))))
 *   .then((count) => assert.strictEqual(count, 1))
 * ```
 *
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import type { SqliteClient, SqliteMigrator } from "@effect/sql-sqlite-node"
import type { ConfigError } from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { EventStore } from "../EventStore.ts"
import type { StoreUnavailable } from "../StoreError.ts"
import * as internal from "./internal/store.ts"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  /**
   * How long an operation keeps retrying while another connection holds the
   * database's write lock (`SQLITE_BUSY`) before failing with `StoreUnavailable`.
   * Default 5 seconds.
   */
  readonly busyTimeout?: Duration.DurationInput | undefined
  /** The page size of reads that do not pass one (default `EventStore.defaultPageSize`, 256). */
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
 * Options of {@link layer} and {@link layerConfig}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends StoreOptions {
  /** The database file (created if missing). `":memory:"` gives a private in-memory database. */
  readonly filename: string
}

/**
 * The default of {@link MakeOptions.busyTimeout}: 5 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBusyTimeout: Duration.Duration = internal.defaultBusyTimeout

/**
 * Builds the store over the `SqlClient` in context, which must be a SQLite client
 * whose schema is migrated ({@link migrate}). Bring your own client this way to
 * share it with your own tables; set `PRAGMA busy_timeout = 0` on it (as
 * {@link layerClient} does) so that waiting for a lock never blocks the event loop.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: MakeOptions) => Effect.Effect<EventStore.Service, never, SqlClient.SqlClient> = internal.make

/**
 * The migrations of the eventfold schema, for `@effect/sql`'s Migrator (they
 * ship in code; nothing is read from disk).
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrations: SqliteMigrator.Loader = internal.loader

/**
 * Runs the pending migrations on the `SqlClient` in context, recording them in
 * the `eventfold_migrations` table. Returns the `[id, name]` of those it ran.
 * Safe to run from several connections at once: one applies them, the others
 * wait for the lock (up to {@link defaultBusyTimeout}) and find nothing left to do.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrate: Effect.Effect<ReadonlyArray<readonly [id: number, name: string]>, StoreUnavailable, SqlClient.SqlClient> =
  internal.migrate()

/**
 * A SQLite client for the store: `@effect/sql-sqlite-node`'s client on `filename`
 * in WAL mode, with `PRAGMA busy_timeout = 0` so that a locked database is waited
 * for by the store's asynchronous retries, not by SQLite blocking the thread.
 * Provides both `SqliteClient` and `SqlClient`, for your own tables too.
 *
 * Fails with `StoreUnavailable` (operation `"open"`) when the file cannot be
 * opened (a missing directory, a file that is not a database) or, for a file
 * database, when SQLite does not accept WAL mode (a file system without shared
 * memory, a VFS without WAL support): the store's concurrency relies on it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient: (
  options: { readonly filename: string }
) => Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, StoreUnavailable> = internal.layerClient

/**
 * The store over the `SqlClient` in context (a SQLite client), migrating the
 * schema first unless `runMigrations` is `false`.
 *
 * @example
 * ```ts
 * import { SqlClient } from "@effect/sql"
 * import { Effect, Layer } from "effect"
 * import { SqliteEventStore } from "eventfold/sqlite"
 *
 * // the store and your own tables on one client
 * const Live = SqliteEventStore.layerFromClient().pipe(Layer.provideMerge(SqliteEventStore.layerClient({ filename: ":memory:" })))
 *
 * const program = Effect.gen(function*() {
 *   const sql = yield* SqlClient.SqlClient
 *   yield* sql`CREATE TABLE balances (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)`
 *   return yield* sql<{ readonly n: number }>`SELECT count(*) AS n FROM eventfold_events`
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Live))).then((rows) => assert.deepStrictEqual(rows, [{ n: 0 }]))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFromClient = (
  options?: StoreOptions
): Layer.Layer<EventStore, StoreUnavailable, SqlClient.SqlClient> =>
  Layer.effect(
    EventStore,
    Effect.zipRight(options?.runMigrations === false ? Effect.void : internal.migrate(options), make(options))
  )

/**
 * The store on a database file: client ({@link layerClient}), migrations and store
 * in one layer.
 *
 * @example
 * ```ts
 * import { SqliteEventStore } from "eventfold/sqlite"
 *
 * // opens ./data/events.db and migrates it when the layer is built
 * const Store = SqliteEventStore.layer({ filename: "./data/events.db" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<EventStore, StoreUnavailable> =>
  layerFromClient(options).pipe(Layer.provide(layerClient(options)))

/**
 * {@link layer} with its options read from `Config`. By default the file name is
 * `EVENTFOLD_SQLITE_FILE`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { SqliteEventStore } from "eventfold/sqlite"
 *
 * const Store = SqliteEventStore.layerConfig({ filename: Config.string("EVENTS_DB"), runMigrations: Config.succeed(false) })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = { filename: Config.string("EVENTFOLD_SQLITE_FILE") }
): Layer.Layer<EventStore, ConfigError | StoreUnavailable> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
