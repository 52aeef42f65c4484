/**
 * An `EventStore` in a directory of plain files, on `@effect/platform`'s
 * `FileSystem`: no native module, for single-process apps, CLIs, desktop and
 * edge deployments, and for fixtures checked into git.
 *
 * - One append-only log, `events.log`. Every append is one record, framed with its
 *   length and a CRC-32 of its payload, written with one write and, by default,
 *   `fsync`ed before the append returns (`durability: "none"` trades that away).
 *   An append is atomic across streams: its record is either entirely in the log
 *   or not at all.
 * - On open the log is scanned and the index rebuilt in memory. A record cut
 *   short by a crash (a torn tail) fails its length or checksum: it is cut off,
 *   never read as an event, and the cut bytes are kept beside the log
 *   (`events.log.cut-<offset>-<time>`) with a warning in the log.
 * - Reads are lazy pages: each page reads just the records it needs, by offset.
 *   Memory: the index holds about 50 bytes per event (a record number per event,
 *   a hash of its id) plus each stream id once; a read holds one page of events.
 * - A lock file, `eventfold.lock`, holds the process id: a second process (or a
 *   second store in the same process) fails to open with `StoreUnavailable`
 *   whose cause is a {@link StoreLocked} naming the lock file. A lock left by a
 *   process that no longer runs is taken over.
 *
 * The format and its rules are in adr/0013-file-store.md.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { EventCodec, EventStore, ExpectedVersion, StreamId } from "eventfold"
 * import { FileEventStore } from "eventfold/file"
 * import { mkdtempSync, rmSync } from "node:fs"
 * import { tmpdir } from "node:os"
 * import { join } from "node:path"
 *
 * class Deposited extends Schema.TaggedClass<Deposited>()("Deposited", { amount: Schema.Number }) {}
 * const AccountEvents = EventCodec.make(Deposited)
 *
 * const program = Effect.gen(function*() {
 *   const accounts = yield* EventStore.typed(AccountEvents)
 *   const streamId = StreamId.unsafeMake("account-ada")
 *   yield* accounts.append({ streamId, expected: ExpectedVersion.noStream, events: [new Deposited({ amount: 10 })] })
 *   return yield* Stream.runCount(accounts.read(streamId))
 * })
 *
 * const directory = mkdtempSync(join(tmpdir(), "eventfold-"))
 * Effect.runPromise(program.pipe(Effect.provide(FileEventStore.layer({ directory }))))
 *   .then((count) => assert.strictEqual(count, 1))
 *   .finally(() => rmSync(directory, { recursive: true }))
 * ```
 *
 * @since 0.2.0
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import type { ConfigError } from "effect/ConfigError"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { defaultPageSize, EventStore } from "../EventStore.ts"
import { InvalidArgument } from "../StoreError.ts"
import type { StoreUnavailable } from "../StoreError.ts"
import * as Lock from "./internal/lock.ts"
import * as internal from "./internal/store.ts"

/**
 * Options of {@link make}, {@link layer} and {@link layerConfig}.
 *
 * @since 0.2.0
 * @category options
 */
export interface Options {
  /** The store directory, created if missing. It holds `events.log` and `eventfold.lock`. */
  readonly directory: string
  /** Events per page of a read that does not give its own `pageSize`. Default 256. */
  readonly pageSize?: number | undefined
  /**
   * `"fsync"` (default): an append returns once its record is on disk, so a
   * crash of the process or of the machine keeps it. `"none"`: an append returns
   * once the record is handed to the operating system; a crash of the process
   * keeps it, a power loss may not (the log then ends at an earlier record).
   */
  readonly durability?: "fsync" | "none" | undefined
}

/**
 * The cause of the `StoreUnavailable` that opening fails with when another
 * process holds the directory's lock file; names the file and the holder's pid.
 *
 * @since 0.2.0
 * @category errors
 */
export const StoreLocked = Lock.StoreLocked

/**
 * The cause of the `StoreUnavailable` that opening fails with when the
 * directory is locked.
 *
 * @since 0.2.0
 * @category errors
 */
export type StoreLocked = Lock.StoreLocked

/**
 * The name of the log file inside the store directory.
 *
 * @since 0.2.0
 * @category constants
 */
export const logFileName: string = internal.logFileName

/**
 * The name of the lock file inside the store directory.
 *
 * @since 0.2.0
 * @category constants
 */
export const lockFileName: string = internal.lockFileName

const settings = (options: Options): Effect.Effect<internal.Settings, InvalidArgument> => {
  const pageSize = options.pageSize ?? defaultPageSize
  const durability = options.durability ?? "fsync"
  if (typeof options.directory !== "string" || options.directory.length === 0) {
    return Effect.fail(new InvalidArgument({ operation: "open", reason: "directory must be a non-empty path" }))
  }
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    return Effect.fail(new InvalidArgument({ operation: "open", reason: `pageSize must be a positive integer, got ${pageSize}` }))
  }
  if (durability !== "fsync" && durability !== "none") {
    return Effect.fail(
      new InvalidArgument({ operation: "open", reason: `durability must be "fsync" or "none", got ${JSON.stringify(durability)}` })
    )
  }
  return Effect.succeed({ directory: options.directory, pageSize, durability })
}

/**
 * Opens the store in `options.directory` with the `FileSystem` in context (any
 * platform's): takes the lock, scans the log, cuts back a torn tail. The lock
 * and the files are held until the scope closes.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<EventStore.Service, StoreUnavailable | InvalidArgument, FileSystem.FileSystem | Scope.Scope> =>
  Effect.flatMap(settings(options), (resolved) => Effect.flatMap(FileSystem.FileSystem, (fs) => internal.open(fs, resolved)))

/**
 * The store in a directory, on Node's file system.
 *
 * @example
 * ```ts
 * import { FileEventStore } from "eventfold/file"
 *
 * // opens (and locks) ./data/events when the layer is built
 * const Store = FileEventStore.layer({ directory: "./data/events", durability: "fsync" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<EventStore, StoreUnavailable | InvalidArgument> =>
  Layer.scoped(EventStore, make(options)).pipe(Layer.provide(NodeFileSystem.layer))

/**
 * {@link layer} with its options read from `Config`. By default the directory
 * is `EVENTFOLD_FILE_DIRECTORY`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { FileEventStore } from "eventfold/file"
 *
 * const Store = FileEventStore.layerConfig({ directory: Config.string("EVENTS_DIR"), durability: Config.succeed("none") })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = { directory: Config.string("EVENTFOLD_FILE_DIRECTORY") }
): Layer.Layer<EventStore, ConfigError | StoreUnavailable | InvalidArgument> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
