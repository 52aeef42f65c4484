/**
 * The todo list's event store, chosen by configuration:
 *
 * - `EVENTFOLD_STORE`: `file` (default), `sqlite` or `memory`.
 * - `EVENTFOLD_FILE_DIRECTORY` (file; default `.data/todolist`).
 * - `EVENTFOLD_SQLITE_FILE` (sqlite; default `.data/todolist.sqlite`).
 */
import { Config, Effect, Layer } from "effect"
import type { EventStore } from "eventfold"
import { FileEventStore } from "eventfold/file"
import { MemoryEventStore } from "eventfold/memory"
import { SqliteEventStore } from "eventfold/sqlite"
import * as fs from "node:fs"
import * as path from "node:path"

/** Which store the service runs on. */
export const kind = Config.literal("file", "sqlite", "memory")("EVENTFOLD_STORE").pipe(Config.withDefault("file" as const))

/** The store named by `EVENTFOLD_STORE`, opened on its configured path. */
export const layer = Layer.unwrapEffect(
  Effect.gen(function*() {
    const store = yield* kind
    switch (store) {
      case "memory":
        return MemoryEventStore.layer() as Layer.Layer<EventStore.EventStore, unknown>
      case "sqlite": {
        const filename = yield* Config.string("EVENTFOLD_SQLITE_FILE").pipe(Config.withDefault(".data/todolist.sqlite"))
        // SQLite does not create the directory of its file
        yield* Effect.sync(() => fs.mkdirSync(path.dirname(filename), { recursive: true }))
        return SqliteEventStore.layer({ filename })
      }
      case "file":
        return FileEventStore.layer({
          directory: yield* Config.string("EVENTFOLD_FILE_DIRECTORY").pipe(Config.withDefault(".data/todolist"))
        })
    }
  })
)
