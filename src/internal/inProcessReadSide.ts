/**
 * The read side of the in-memory store (internal): wake-ups through a
 * `PubSub`, filters applied while reading, checkpoints and leadership in
 * memory (one runner per projection per store).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import type { EventStore } from "../EventStore.ts"
import type { Checkpoint, CheckpointStore, Record } from "../Projection.ts"
import { LeadershipLost } from "../Projection.ts"
import type { ReadSide } from "../Subscription.ts"
import * as Duration from "effect/Duration"
import { cursorAtPosition } from "./readSideCursor.ts"
import { predicate } from "./subscription.ts"

interface Entry {
  checkpoint: Checkpoint | undefined
  runner: string | undefined
  updatedAt: Date | undefined
  readonly lock: Effect.Semaphore
}

/**
 * Adds the read side to a memory store: `head()` is the position of its last
 * event. Appends publish a wake-up; `readAll` filters by `streamPrefix` and
 * `types`.
 */
export const withReadSide = (service: EventStore.Service, head: () => number): Effect.Effect<EventStore.Service> =>
  Effect.map(PubSub.sliding<void>(1), (pubsub) => {
    const entries = new Map<string, Entry>()
    const entry = (name: string): Entry => {
      let found = entries.get(name)
      if (found === undefined) {
        found = { checkpoint: undefined, runner: undefined, updatedAt: undefined, lock: Effect.unsafeMakeSemaphore(1) }
        entries.set(name, found)
      }
      return found
    }

    const checkpoints: CheckpointStore = {
      load: (name) => Effect.sync(() => Option.fromNullable(entries.get(name)?.checkpoint)),
      commit: (name, runner, checkpoint, body) =>
        Effect.suspend(() => {
          const lost = () => Effect.fail(new LeadershipLost({ projection: name, runner }))
          if (entry(name).runner !== runner) return lost()
          return Effect.flatMap(body, (result) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              const current = entry(name)
              if (current.runner !== runner) return lost()
              current.checkpoint = checkpoint
              current.updatedAt = new Date(now)
              return Effect.succeed(result)
            }))
        }),
      lead: (name, runner) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            const current = entry(name)
            yield* restore(current.lock.take(1))
            current.runner = runner
            yield* Effect.addFinalizer(() =>
              Effect.suspend(() => {
                if (current.runner === runner) current.runner = undefined
                return current.lock.release(1)
              })
            )
            return Effect.never
          })
        ),
      list: Effect.sync(() =>
        Array.from(entries, ([name, e]): Record => ({
          name,
          checkpoint: e.checkpoint ?? { cursor: cursorAtPosition(0), position: 0 },
          runner: e.runner,
          leaseExpiresAt: undefined,
          updatedAt: e.updatedAt
        }))
      ),
      head: Effect.sync(head)
    }

    const readSide: ReadSide = {
      wakeups: PubSub.subscribe(pubsub),
      end: Effect.sync(() => cursorAtPosition(head())),
      pollInterval: Duration.seconds(1),
      checkpoints
    }

    return {
      ...service,
      readAll: (options) => {
        const keep = options === undefined ? undefined : predicate(options)
        return keep === undefined ? service.readAll(options) : Stream.filter(service.readAll(options), keep)
      },
      append: (writes) => Effect.tap(service.append(writes), () => PubSub.publish(pubsub, undefined)),
      readSide
    }
  })
