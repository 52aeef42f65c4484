/**
 * Per-stream locks of one Executor: commands on the same streams run one after the
 * other, in arrival order, while commands on other streams run in parallel.
 *
 * - keyed: one FIFO lock per stream id, created when a command asks for it and
 *   deleted when no command holds or waits for it (the map never holds more
 *   entries than there are commands in flight);
 * - fair: a released lock is handed to the longest waiting command, never taken
 *   by a newcomer;
 * - no global lock: a command takes only its own streams' locks, in sorted order,
 *   so two multi-stream commands cannot wait for each other;
 * - interruptible while waiting: an interrupted waiter leaves the queue, and a
 *   lock handed to a fiber interrupted at that moment is passed on.
 */
import * as Effect from "effect/Effect"

interface Ticket {
  granted: boolean
  readonly wake: () => void
}

interface Lock {
  held: boolean
  /** Commands holding or waiting for the lock: the entry goes when it reaches 0. */
  users: number
  readonly queue: Array<Ticket>
}

/** @internal */
export interface KeyedLock {
  /** Runs `effect` holding the locks of `keys` (duplicates ignored). */
  readonly withLocks: (keys: ReadonlyArray<string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** How many keys have a lock now (held or waited for). */
  readonly size: () => number
}

/** @internal */
export const make = (): KeyedLock => {
  const locks = new Map<string, Lock>()

  const enter = (key: string): Lock => {
    let lock = locks.get(key)
    if (lock === undefined) {
      lock = { held: false, users: 0, queue: [] }
      locks.set(key, lock)
    }
    lock.users++
    return lock
  }

  const leave = (key: string, lock: Lock): void => {
    if (--lock.users === 0) locks.delete(key)
  }

  /** Hands the lock to the next waiter, or frees it. */
  const release = (key: string, lock: Lock): void => {
    const next = lock.queue.shift()
    if (next === undefined) lock.held = false
    else {
      next.granted = true
      next.wake()
    }
    leave(key, lock)
  }

  const take = (lock: Lock, ticket: { current?: Ticket }): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      if (!lock.held) {
        lock.held = true
        ticket.current = { granted: true, wake: () => undefined }
        resume(Effect.void)
        return
      }
      const waiting: Ticket = { granted: false, wake: () => resume(Effect.void) }
      ticket.current = waiting
      lock.queue.push(waiting)
      return Effect.sync(() => {
        const index = lock.queue.indexOf(waiting)
        if (index >= 0) lock.queue.splice(index, 1)
      })
    })

  const withLock = (key: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const lock = enter(key)
        const ticket: { current?: Ticket } = {}
        return restore(take(lock, ticket)).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              // granted at the moment of the interrupt: pass the lock on; else just leave
              if (ticket.current?.granted === true) release(key, lock)
              else leave(key, lock)
            })
          ),
          Effect.zipRight(Effect.ensuring(restore(effect), Effect.sync(() => release(key, lock))))
        )
      })
    )

  return {
    withLocks: (keys) => (effect) => {
      const sorted = [...new Set(keys)].sort()
      return sorted.reduceRight((inner, key) => withLock(key)(inner), effect)
    },
    size: () => locks.size
  }
}
