/**
 * The README section "Observability" shows examples/observability.ts word for
 * word; this test runs it with OpenTelemetry's in-memory exporter and checks the
 * span tree and attributes of its commands as an OpenTelemetry backend gets them.
 */
import { describe, expect, it } from "@effect/vitest"
import { SpanStatusCode } from "@opentelemetry/api"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { program } from "../examples/observability.ts"

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

describe("README: Observability", () => {
  it("shows examples/observability.ts word for word", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const section = readme.slice(readme.indexOf("## Observability"))
    const block = section.slice(section.indexOf("```ts\n") + 6, section.indexOf("\n```", section.indexOf("```ts\n")) + 1)
    expect(block).toBe(readFileSync(new URL("../examples/observability.ts", import.meta.url), "utf8"))
  })

  it("exports one span tree per command with array attributes as arrays and a rejection as an attribute", async () => {
    const { rejected, spans } = await Effect.runPromise(program)
    expect(rejected).toBe("InsufficientFunds")
    const executes = spans.filter((s) => s.name === "eventfold.execute")
    expect(executes).toHaveLength(2)
    const [deposit, withdraw] = executes
    const childrenOf = (parent: ReadableSpan) =>
      spans.filter((s) => parentOf(s) === parent.spanContext().spanId).map((s) => s.name)

    // the deposit: read, then append, under the execute span; every attribute as OpenTelemetry carries it
    expect(childrenOf(deposit!)).toEqual(["eventfold.execute.read", "eventfold.execute.append"])
    expect(deposit!.status.code).not.toBe(SpanStatusCode.ERROR)
    expect(deposit!.attributes).toEqual({
      "eventfold.decider": "Account",
      "eventfold.stream_ids": ["account-ada"],
      "eventfold.attempts": 1,
      "eventfold.events_appended": 1,
      "eventfold.versions": [1],
      "eventfold.outcome": "done"
    })
    const read = spans.find((s) => s.name === "eventfold.execute.read" && parentOf(s) === deposit!.spanContext().spanId)!
    expect(read.attributes).toEqual({ "eventfold.stream_id": "account-ada", "eventfold.attempt": 1, "eventfold.events_read": 0 })
    const append = spans.find((s) => s.name === "eventfold.execute.append")!
    expect(append.attributes).toEqual({
      "eventfold.attempt": 1,
      "eventfold.stream_ids": ["account-ada"],
      "eventfold.expected": ["no stream"],
      "eventfold.events_appended": 1,
      "eventfold.versions": [1],
      "eventfold.positions": [1, 1]
    })

    // the rejected withdrawal: read only, no error status, the rejection in attributes
    expect(childrenOf(withdraw!)).toEqual(["eventfold.execute.read"])
    expect(withdraw!.status.code).not.toBe(SpanStatusCode.ERROR)
    expect(withdraw!.events).toEqual([])
    expect(withdraw!.attributes).toMatchObject({
      "eventfold.outcome": "rejected",
      "eventfold.rejection": "InsufficientFunds",
      "eventfold.stream_ids": ["account-ada"]
    })
  })
})
