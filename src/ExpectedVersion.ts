/**
 * What an append expects a stream's current version to be: the optimistic
 * concurrency check.
 *
 * - `Any`: no check.
 * - `NoStream`: the stream must have no events.
 * - `StreamExists`: the stream must have at least one event.
 * - `Exact(n)`: the stream's last version must be `n` (`Exact(0)` means no events).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/**
 * Append whatever the stream's version.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Any = Schema.TaggedStruct("Any", {})
/**
 * Append only if the stream has no events yet.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NoStream = Schema.TaggedStruct("NoStream", {})
/**
 * Append only if the stream has at least one event.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StreamExists = Schema.TaggedStruct("StreamExists", {})
/**
 * Append only if the stream's last version is exactly `version` (0: no events).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Exact = Schema.TaggedStruct("Exact", { version: Schema.NonNegativeInt })

/**
 * Schema of an expected version (for errors, logs and HTTP payloads).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExpectedVersion = Schema.Union(Any, NoStream, StreamExists, Exact)

/**
 * The version an append expects a stream to be at: `Any`, `NoStream`, `StreamExists` or `Exact(n)`.
 *
 * @since 0.1.0
 * @category models
 */
export type ExpectedVersion = typeof ExpectedVersion.Type

/**
 * Expect nothing: the append never conflicts.
 *
 * @since 0.1.0
 * @category constants
 */
export const any: ExpectedVersion = Any.make({})
/**
 * Expect the stream to have no events.
 *
 * @since 0.1.0
 * @category constants
 */
export const noStream: ExpectedVersion = NoStream.make({})
/**
 * Expect the stream to have at least one event.
 *
 * @since 0.1.0
 * @category constants
 */
export const streamExists: ExpectedVersion = StreamExists.make({})

/**
 * Expect the stream's last version to be exactly `version`.
 * Fails with a `ParseError` when `version` is not a non-negative integer.
 *
 * @since 0.1.0
 * @category combinators
 */
export const exact = (version: number) => Schema.decodeEither(Exact)({ _tag: "Exact", version })

/**
 * Like {@link exact} but throws on a negative or fractional version. For literals.
 *
 * @since 0.1.0
 * @category combinators
 */
export const unsafeExact = (version: number): ExpectedVersion => Either.getOrThrowWith(exact(version), (error) => error)

/**
 * The expected version that matches a stream whose last version is `version`:
 * `NoStream` for 0, `Exact(version)` otherwise. This is what the command pipeline
 * sends after reading a stream.
 *
 * @since 0.1.0
 * @category combinators
 */
export const fromCurrent = (version: number): ExpectedVersion =>
  version === 0 ? noStream : Exact.make({ version }, { disableValidation: true })

/**
 * Whether a stream whose last version is `current` (0 when it has no events)
 * satisfies `expected`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const matches = (expected: ExpectedVersion, current: number): boolean => {
  switch (expected._tag) {
    case "Any":
      return true
    case "NoStream":
      return current === 0
    case "StreamExists":
      return current > 0
    case "Exact":
      return current === expected.version
  }
}

/**
 * A short human form: `any`, `no stream`, `stream exists`, `version 3`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const format = (expected: ExpectedVersion): string => {
  switch (expected._tag) {
    case "Any":
      return "any"
    case "NoStream":
      return "no stream"
    case "StreamExists":
      return "stream exists"
    case "Exact":
      return `version ${expected.version}`
  }
}
