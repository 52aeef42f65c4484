/**
 * Writing an encoded event as JSON, refusing what JSON would not carry back
 * faithfully. `JSON.stringify` alone turns a `Date` into a string, a `Map` into
 * `{}`, drops functions and `undefined`, and writes `NaN` as `null`: each stored
 * silently and read back as something else.
 *
 * One pass: the native serializer with a replacer that checks each value before
 * it is written (the holder's raw value, before any `toJSON`). Only when a value
 * is refused does a second, slow walk find its path for the error.
 *
 * @internal
 */
import * as Either from "effect/Either"

/** A value JSON cannot carry, where it is and why. */
export interface Unfaithful {
  /** From the root name, e.g. `data.items[2].when`. */
  readonly path: string
  readonly value: unknown
  readonly reason: string
}

/** Why `value` cannot be written faithfully, or `undefined` when it can. */
const refusal = (value: unknown): string | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : `${value} (JSON writes it as null)`
    case "object": {
      if (value === null || Array.isArray(value)) return undefined
      const proto: unknown = Object.getPrototypeOf(value)
      if (proto === Object.prototype || proto === null) return undefined
      if (value instanceof Date) return "a Date object (JSON writes it as a string; encode it with a schema such as Schema.Date)"
      if (value instanceof Map) return "a Map (JSON writes it as {})"
      if (value instanceof Set) return "a Set (JSON writes it as {})"
      const name = (value as { readonly constructor?: { readonly name?: unknown } }).constructor?.name
      return `an instance of ${typeof name === "string" && name !== "" ? name : "a class"} (JSON keeps only its plain fields)`
    }
    case "undefined":
      return "undefined (JSON drops it, or writes null in an array; omit an absent optional field instead)"
    case "function":
      return "a function (JSON drops it)"
    case "bigint":
      return "a bigint (JSON cannot write it)"
    case "symbol":
      return "a symbol (JSON drops it)"
  }
}

const segment = (key: string, inArray: boolean): string =>
  inArray ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`

/** The slow walk, on the failure path only: the first refused value and its path. */
const locate = (value: unknown, path: string, ancestors: Set<object>): Unfaithful | undefined => {
  const reason = refusal(value)
  if (reason !== undefined) return { path, value, reason }
  if (typeof value !== "object" || value === null) return undefined
  if (ancestors.has(value)) return { path, value, reason: "a cycle (the value contains itself)" }
  ancestors.add(value)
  const inArray = Array.isArray(value)
  for (const key of Object.keys(value)) {
    const found = locate((value as Record<string, unknown>)[key], path + segment(key, inArray), ancestors)
    if (found !== undefined) return found
  }
  ancestors.delete(value)
  return undefined
}

/**
 * The JSON text of `value`, or the first value in it that JSON would not carry
 * back faithfully, with its path from `root`. `omit` names a key of the root
 * object left out of the text (an event's `_tag`, stored beside it), which saves
 * copying the object without it.
 */
export const stringify = (value: unknown, root: string, omit?: string): Either.Either<string, Unfaithful> => {
  let refused = false
  const replacer = function(this: unknown, key: string, written: unknown): unknown {
    if (refused || (key === omit && this === value)) return undefined
    // the raw value, before JSON.stringify applied a Date's (or any) toJSON
    const raw = key === "" ? value : (this as Record<string, unknown>)[key]
    if (refusal(raw) !== undefined) {
      refused = true
      return undefined
    }
    return written
  }
  let text: string | undefined
  try {
    text = JSON.stringify(value, replacer)
  } catch {
    refused = true // a cycle (or a throwing getter): the walk says where
  }
  if (!refused && text !== undefined) return Either.right(text)
  const target = omit !== undefined && typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([key]) => key !== omit))
    : value
  return Either.left(
    locate(target, root, new Set()) ?? { path: root, value, reason: "a value JSON.stringify cannot write" }
  )
}

/**
 * Whether JSON text could hold a number that `JSON.parse` reads as `±Infinity`
 * (a double overflows only with an exponent of 3+ digits or a run of 309+
 * digits). Cheap, and true only for rare text, so the walk below runs on
 * almost no row.
 */
const mayOverflow = /[eE][+-]?\d{3}|\d{309}/

/**
 * The first number in `parsed` (the value of JSON `text`) that is not finite,
 * with its path from `root`, or `undefined`. A stored `1e400` parses as
 * `Infinity`, which no encoder would have written: reading it back as a number
 * would hand the domain a value the event never had.
 */
export const nonFinite = (text: string, parsed: unknown, root: string): Unfaithful | undefined =>
  mayOverflow.test(text) ? locate(parsed, root, new Set()) : undefined
