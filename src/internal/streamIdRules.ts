/**
 * The rules of a stream id (internal): shared by the `StreamId` schema and by
 * the stores' boundary checks, which see ids that may have been made by a cast.
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/u
/** A UTF-16 surrogate without its partner: not text, and no backend can store it as given. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why `s` is not a valid stream id, or undefined when it is one. */
export const streamIdProblem = (s: unknown): string | undefined => {
  if (typeof s !== "string") return `a stream id must be a string, got ${typeof s}`
  const length = [...s].length
  if (length < 1) return "a stream id must not be empty"
  if (length > 200) return `a stream id has at most 200 characters, got ${length}`
  if (controlCharacters.test(s)) return "a stream id must not contain control characters"
  if (loneSurrogate.test(s)) return "a stream id must be well-formed Unicode (it contains a lone surrogate)"
  return undefined
}
