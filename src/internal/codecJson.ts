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
import type * as ParseResult from "effect/ParseResult"
import * as SchemaAST from "effect/SchemaAST"

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

/**
 * A decoder for the simplest event schemas, built once from the schema's AST: a
 * struct (or a union of structs told apart by a literal `_tag`) whose fields are
 * all required strings, numbers, booleans or literals, with no refinement,
 * transformation, index signature or parse options. For those, decoding parsed
 * JSON is a check of each field's type and a new object with the schema's keys in
 * the schema's order: exactly what `Schema.decodeUnknown` returns, without the
 * intermediate results it allocates per field (most of a typed read's garbage).
 *
 * The decoder answers only when the schema would accept the value: given the
 * stored type and the parsed payload, it returns the decoded event, or
 * `undefined` when the value is not for it (a wrong or missing field, an unknown
 * type), and the caller then decodes with the schema, which builds the error. A
 * schema outside this shape gets no decoder (`undefined`).
 */
export type PlainDecoder = (type: string, payload: Record<string, unknown>) => Record<string, unknown> | undefined

/** How one field is checked: by `typeof`, or against a literal. */
type FieldCheck =
  | { readonly name: string; readonly kind: "string" | "number" | "boolean" }
  | { readonly name: string; readonly kind: "literal"; readonly literal: string | number | boolean | null }

/** The fields of a struct, in order, and which of them is the tag (checked by the caller). */
interface PlainStruct {
  readonly fields: ReadonlyArray<FieldCheck>
}

const hasParseOptions = (ast: SchemaAST.AST): boolean => Object.hasOwn(ast.annotations, SchemaAST.ParseOptionsAnnotationId)

const fieldCheck = (name: PropertyKey, type: SchemaAST.AST): FieldCheck | undefined => {
  if (typeof name !== "string" || name === "__proto__") return undefined
  switch (type._tag) {
    case "StringKeyword":
      return { name, kind: "string" }
    case "NumberKeyword":
      return { name, kind: "number" }
    case "BooleanKeyword":
      return { name, kind: "boolean" }
    case "Literal":
      return typeof type.literal === "bigint" ? undefined : { name, kind: "literal", literal: type.literal }
    default:
      return undefined
  }
}

const plainStruct = (ast: SchemaAST.AST): PlainStruct | undefined => {
  if (ast._tag !== "TypeLiteral" || ast.indexSignatures.length > 0 || hasParseOptions(ast)) return undefined
  const fields: Array<FieldCheck> = []
  for (const property of ast.propertySignatures) {
    if (property.isOptional) return undefined
    const check = fieldCheck(property.name, property.type)
    if (check === undefined) return undefined
    fields.push(check)
  }
  return { fields }
}

/** The literal `_tag` of a struct, when it has one. */
const tagOf = (struct: PlainStruct): string | undefined => {
  for (const field of struct.fields) {
    if (field.name === "_tag") return field.kind === "literal" && typeof field.literal === "string" ? field.literal : undefined
  }
  return undefined
}

const decodeStruct = (struct: PlainStruct, type: string, payload: Record<string, unknown>): Record<string, unknown> | undefined => {
  const out: Record<string, unknown> = {}
  const fields = struct.fields
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    const name = field.name
    if (name === "_tag") {
      // the tag is the stored type (the payload is stored without it)
      if (field.kind !== "literal" || field.literal !== type) return undefined
      out[name] = type
      continue
    }
    if (!Object.hasOwn(payload, name)) return undefined
    const value = payload[name]
    if (field.kind === "literal" ? value !== field.literal : typeof value !== field.kind) return undefined
    out[name] = value
  }
  return out
}

/** The plain decoder of `ast`, or `undefined` when the schema is not of the simple shape (see {@link PlainDecoder}). */
export const plainDecoder = (ast: SchemaAST.AST): PlainDecoder | undefined => {
  if (ast._tag === "TypeLiteral") {
    const struct = plainStruct(ast)
    if (struct === undefined) return undefined
    return (type, payload) => decodeStruct(struct, type, payload)
  }
  if (ast._tag !== "Union" || hasParseOptions(ast)) return undefined
  const byTag = new Map<string, PlainStruct>()
  for (const member of ast.types) {
    const struct = plainStruct(member)
    const tag = struct === undefined ? undefined : tagOf(struct)
    // two members with one tag: leave the choice to the schema
    if (struct === undefined || tag === undefined || byTag.has(tag)) return undefined
    byTag.set(tag, struct)
  }
  return (type, payload) => {
    const struct = byTag.get(type)
    return struct === undefined ? undefined : decodeStruct(struct, type, payload)
  }
}

/**
 * The key of a codec's payload decoder (internal): codecs made by
 * `EventCodec.make` decode a row's type and JSON text straight to the event,
 * which the Executor's fold uses to skip building a `StoredEvent` and a
 * `RecordedEvent` per row. A codec without it is read through `decode`.
 */
export const PayloadDecoderTypeId: unique symbol = Symbol.for("eventfold/internal/PayloadDecoder")

/** A codec with a payload decoder: the event, or the `ParseError` saying why the payload is not one. */
export interface PayloadDecoder<E> {
  readonly [PayloadDecoderTypeId]: (type: string, data: string) => E | ParseResult.ParseError
}

/** Whether a codec has a payload decoder. */
export const hasPayloadDecoder = <E>(codec: object): codec is PayloadDecoder<E> =>
  typeof (codec as Partial<PayloadDecoder<E>>)[PayloadDecoderTypeId] === "function"

/**
 * The encoder counterpart of {@link PlainDecoder}, for the same schemas: the JSON
 * text of an event's fields without its tag, exactly as `Schema.encode` and
 * {@link stringify} would write it, or `undefined` when the event is not one the
 * schema accepts as is (a wrong field, a number JSON cannot carry, an unknown
 * tag): the caller then encodes through Schema, which builds the error.
 */
export type PlainEncoder = (event: { readonly _tag: string }) => string | undefined

/** The JSON of one field's value, or `undefined` when the value is not of the field's type (or not finite). */
const fieldJson = (field: FieldCheck, value: unknown): string | undefined => {
  switch (field.kind) {
    case "literal":
      return value === field.literal ? JSON.stringify(value) : undefined
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? JSON.stringify(value) : undefined
    default:
      return typeof value === field.kind ? JSON.stringify(value) : undefined
  }
}

const encodeStruct = (struct: PlainStruct, keys: ReadonlyArray<string>, event: Record<string, unknown>): string | undefined => {
  let text = "{"
  const fields = struct.fields
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    if (field.name === "_tag") continue
    if (!Object.hasOwn(event, field.name)) return undefined
    const json = fieldJson(field, event[field.name])
    if (json === undefined) return undefined
    text += (text.length === 1 ? "" : ",") + keys[i] + json
  }
  return text + "}"
}

/** The plain encoder of `ast`, or `undefined` when the schema is not of the simple shape (see {@link PlainEncoder}). */
export const plainEncoder = (ast: SchemaAST.AST): PlainEncoder | undefined => {
  const structs: Array<PlainStruct> = []
  if (ast._tag === "TypeLiteral") {
    const struct = plainStruct(ast)
    if (struct === undefined || tagOf(struct) === undefined) return undefined
    structs.push(struct)
  } else if (ast._tag === "Union" && !hasParseOptions(ast)) {
    for (const member of ast.types) {
      const struct = plainStruct(member)
      if (struct === undefined || tagOf(struct) === undefined) return undefined
      structs.push(struct)
    }
  } else {
    return undefined
  }
  const byTag = new Map<string, readonly [PlainStruct, ReadonlyArray<string>]>()
  for (const struct of structs) {
    const tag = tagOf(struct)!
    if (byTag.has(tag)) return undefined
    // each field's `"name":`, written once
    byTag.set(tag, [struct, struct.fields.map((field) => `${JSON.stringify(field.name)}:`)])
  }
  return (event) => {
    if (typeof event !== "object" || event === null) return undefined
    const found = byTag.get(event._tag)
    // a class instance (or any object that is not plain) is left to Schema
    if (found === undefined || Object.getPrototypeOf(event) !== Object.prototype) return undefined
    return encodeStruct(found[0], found[1], event as unknown as Record<string, unknown>)
  }
}
