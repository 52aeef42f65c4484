/**
 * Naming the stream of a conflict, shared by the SQL backends: after an append
 * collided on `(stream_id, version)` (or its checks failed), the store re-reads
 * the heads of the streams it wrote and reports one `WrongExpectedVersion`.
 *
 * @internal
 */
import type { StreamWrite } from "../EventStore.ts"
import * as ExpectedVersion from "../ExpectedVersion.ts"
import { WrongExpectedVersion } from "../StoreError.ts"

/**
 * The conflict of `writes` given each stream's current head (`heads[i]` for
 * `writes[i]`): the first write whose expected version no longer holds, else
 * the write `collided()` names (the backend's reading of the violation, when it
 * has one), else the first write with events, else the first write.
 */
export const conflictOf = (
  writes: ReadonlyArray<StreamWrite>,
  heads: ReadonlyArray<number>,
  collided: () => number = () => -1
): WrongExpectedVersion => {
  let index = writes.findIndex((write, i) => !ExpectedVersion.matches(write.expected, heads[i]!))
  if (index < 0) index = collided()
  if (index < 0) index = Math.max(writes.findIndex((write) => write.events.length > 0), 0)
  const write = writes[index]!
  return new WrongExpectedVersion({ streamId: write.streamId, expected: write.expected, actual: heads[index]! })
}
