/**
 * Tracing and metric helpers shared by the Executor and the InstrumentedEventStore.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import type * as Tracer from "effect/Tracer"

/** A span attribute OpenTelemetry can carry: a primitive or a homogeneous array. */
export type AttributeValue = string | number | boolean | ReadonlyArray<string> | ReadonlyArray<number>

/** @internal */
export type Attributes = Readonly<Record<string, AttributeValue>>

/** Records how long an effect took into a timer, whether it succeeded or failed. */
export const timed = (
  timer: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, Duration.Duration, MetricState.MetricState.Histogram>
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Clock.clockWith((clock) => {
    const start = clock.unsafeCurrentTimeNanos()
    return Effect.onExit(self, () => Metric.update(timer, Duration.nanos(clock.unsafeCurrentTimeNanos() - start)))
  })

/**
 * `@effect/opentelemetry` (0.64) renders every attribute that is not a primitive
 * as a string (`["a","b"]` arrives as the text `[ "a", "b" ]`). Its spans keep the
 * OpenTelemetry span they wrap in a `span` field, marked by this symbol; setting
 * an array there keeps it an array. Found structurally: eventfold does not depend
 * on `@effect/opentelemetry`.
 */
const OtelSpanTypeId = Symbol.for("@effect/opentelemetry/Tracer/OtelSpan")

interface OtelSpanLike {
  readonly span: { readonly setAttribute: (key: string, value: ReadonlyArray<string> | ReadonlyArray<number>) => unknown }
}

const isOtelSpan = (span: Tracer.Span): span is Tracer.Span & OtelSpanLike =>
  OtelSpanTypeId in span && typeof (span as unknown as Partial<OtelSpanLike>).span?.setAttribute === "function"

/** Sets attributes on a span, arrays as arrays on an OpenTelemetry span too. */
export const setAttributes = (span: Tracer.Span, attributes: Attributes): void => {
  for (const key in attributes) {
    const value = attributes[key]!
    span.attribute(key, value)
    if (Array.isArray(value) && isOtelSpan(span)) span.span.setAttribute(key, value as ReadonlyArray<string>)
  }
}

/** Annotates the current span (if any) with {@link setAttributes}. */
export const annotate = (attributes: Attributes): Effect.Effect<void> =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
    if (span._tag === "Some") setAttributes(span.value, attributes)
    return Effect.void
  })

/**
 * Runs `effect` in a span named `name` with `attributes`. A failure for which
 * `normal` holds ends the span as a success (a domain rejection is a normal
 * outcome of a command, not an error of the system); any other failure ends it
 * with an error status, as `Effect.withSpan` does.
 */
export const withSpan = <A, E, R>(
  name: string,
  attributes: Attributes,
  effect: Effect.Effect<A, E, R>,
  normal: (error: E) => boolean = () => false
): Effect.Effect<A, E, R> =>
  Effect.useSpan(name, { captureStackTrace: false }, (span) => {
    setAttributes(span, attributes)
    return effect.pipe(
      Effect.withParentSpan(span),
      Effect.onExit((exit) => {
        if (Exit.isSuccess(exit)) return Effect.void
        const failure = Cause.failureOption(exit.cause)
        if (failure._tag === "None" || !normal(failure.value) || span.status._tag === "Ended") return Effect.void
        // ended here, as a success; Effect.useSpan then leaves the ended span alone
        return Effect.flatMap(Clock.currentTimeNanos, (now) => Effect.sync(() => span.end(now, Exit.void)))
      })
    )
  })

/** Set by the Executor around its store calls: an instrumented store under it makes no second span. */
export class InsideExecutorSpan extends Context.Reference<InsideExecutorSpan>()("eventfold/internal/InsideExecutorSpan", {
  defaultValue: () => false
}) {}
