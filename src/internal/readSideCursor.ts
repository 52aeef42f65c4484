/**
 * The places where the read side touches cursors (internal): the cursor after
 * an event, a `readAll` after a cursor, and the cursor of a position on stores
 * whose log is ordered by position. Everything else treats a cursor as opaque.
 */
import type * as Stream from "effect/Stream"
import type { Cursor } from "../Cursor.ts"
import type { StoredEvent } from "../Event.ts"
import type { EventStore, ReadAllOptions } from "../EventStore.ts"
import type { ReadError } from "../StoreError.ts"
import { ofPosition } from "./cursor.ts"

/** The cursor just after `event`. */
export const cursorOf = (event: StoredEvent): Cursor => event.cursor

/** The events after `after`, with the other options of `readAll`. */
export const readAfter = (
  store: EventStore.Service,
  after: Cursor,
  options: Omit<ReadAllOptions, "after">
): Stream.Stream<StoredEvent, ReadError> => store.readAll({ ...options, after })

/** The cursor after the event at `position`, on a store whose log is ordered by position. */
export const cursorAtPosition = (position: number): Cursor => ofPosition(position)
