/**
 * `eventfold/file`: the event store in a directory of plain files.
 *
 * @since 0.2.0
 */
export * as FileEventStore from "./FileEventStore.ts"
