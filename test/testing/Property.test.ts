import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Layer, Schedule, Stream } from "effect"
import { EventStore, Executor } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { ChaosEventStore, Property } from "eventfold/testing"
import type { Command } from "./fixtures/Account.ts"
import { account, command, Deposit, model, Open, sloppyAccount, Withdraw } from "./fixtures/Account.ts"

const onMemory = Executor.layerOn(MemoryEventStore.layer())

/** Many retries: with 30% injected conflicts, five attempts would sometimes run out. */
const patient = Executor.layer({
  retry: Schedule.exponential("10 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(30)))
})

/** The wrong decider against the model, as a plain fast-check property (no vitest involved). */
const sloppyProperty = fc.asyncProperty(Property.commands(command, { maxLength: 25 }), (commands) =>
  Effect.runPromise(
    Effect.scoped(Effect.asVoid(Property.checkModel(sloppyAccount, model, commands, { clock: "live" }).pipe(Effect.provide(onMemory))))
  ))
/** A failing case found once, as a user would find it in a failed test report. */
const found = await fc.check(sloppyProperty, { seed: 20261122, numRuns: 200 })
const foundStep = found.failed
  ? await Effect.runPromise(
    Effect.flip(Property.checkModel(sloppyAccount, model, found.counterexample![0], { clock: "live" })).pipe(
      Effect.map((mismatch) => mismatch._tag === "ModelMismatch" ? mismatch.step : -1),
      Effect.provide(onMemory)
    )
  )
  : -1

describe("Property", () => {
  it.effect.prop(
    "the account decider run by the executor matches the plain model after every step",
    [Property.commands(command, { maxLength: 25 })],
    ([commands]) => Effect.asVoid(Property.checkModel(account, model, commands).pipe(Effect.provide(onMemory))),
    { fastCheck: { numRuns: 40 } }
  )

  it.effect.prop(
    "with retries the executor survives a store that conflicts on 30% of appends and still matches the model",
    [Property.commands(command, { maxLength: 20 }), fc.integer()],
    ([commands, seed]) =>
      Effect.asVoid(Property.checkModel(account, model, commands)).pipe(
        Effect.provide(
          patient.pipe(Layer.provideMerge(ChaosEventStore.layer({ seed, appendConflictRate: 0.3 })), Layer.provide(MemoryEventStore.layer()))
        )
      ),
    { fastCheck: { numRuns: 25 } }
  )

  it.effect("chaos really injected conflicts and the executor retried through them", () =>
    Effect.gen(function*() {
      const commands = fc.sample(Property.commands(command, { minLength: 30, maxLength: 30 }), { seed: 1, numRuns: 1 })[0]!
      yield* Property.checkModel(account, model, commands)
      const conflicts = (yield* ChaosEventStore.faults).filter((f) => f._tag === "Conflict").length
      expect(conflicts).toBeGreaterThan(3)
    }).pipe(
      Effect.provide(
        patient.pipe(Layer.provideMerge(ChaosEventStore.layer({ seed: 5, appendConflictRate: 0.3 })), Layer.provide(MemoryEventStore.layer()))
      )
    ))

  it("a deliberately wrong decider is caught; the report gives the seed and path, and they replay the same case", async () => {
    const property = fc.asyncProperty(Property.commands(command, { maxLength: 25 }), (commands) =>
      Effect.runPromise(
        Effect.scoped(Effect.asVoid(Property.checkModel(sloppyAccount, model, commands, { clock: "live" }).pipe(Effect.provide(onMemory))))
      ))
    const details = await fc.check(property, { seed: 20261122, numRuns: 200 })
    expect(details.failed).toBe(true)
    const counterexample = details.counterexample![0]
    expect(counterexample.some((c) => c._tag === "Withdraw")).toBe(true)
    expect(String(details.errorInstance)).toContain("State differs from the model")

    const replay = await fc.check(property, { seed: details.seed, path: details.counterexamplePath!, numRuns: 1 })
    expect(replay.failed).toBe(true)
    expect(replay.counterexample).toEqual(details.counterexample)

    const assertion = await fc.assert(property, { seed: 20261122, numRuns: 200 }).then(() => "passed", (error: Error) => error.message)
    expect(assertion).toContain(`seed: ${details.seed}`)
    expect(assertion).toContain(`path: "${details.counterexamplePath}"`)
  })
})

describe("replaying a failing case through it.effect.prop with { fastCheck: { seed, path } }", () => {
  type Run = { readonly commands: ReadonlyArray<Command>; readonly failedAtStep: number | undefined }
  const runs: [Array<Run>, Array<Run>] = [[], []]
  for (const [i, recorded] of runs.entries()) {
    it.effect.prop(
      `replay ${i + 1}: the wrong decider is run on the generated commands`,
      [Property.commands(command, { maxLength: 25 })],
      ([commands]) =>
        Effect.gen(function*() {
          const outcome = yield* Effect.either(Property.checkModel(sloppyAccount, model, commands).pipe(Effect.provide(onMemory)))
          const failedAtStep = Either.isLeft(outcome) && outcome.left._tag === "ModelMismatch" ? outcome.left.step : undefined
          recorded.push({ commands, failedAtStep })
        }),
      { fastCheck: { seed: found.seed, path: found.counterexamplePath ?? "" } }
    )
  }

  it("both replays start from the recorded failing case, fail on it at the same step, and generate the same values", () => {
    expect(found.failed).toBe(true)
    expect(runs[0].length).toBeGreaterThan(0)
    expect(runs[0][0]).toEqual({ commands: found.counterexample![0], failedAtStep: foundStep })
    expect(foundStep).toBeGreaterThanOrEqual(0)
    expect(runs[1]).toEqual(runs[0])
  })
})

describe("Property.checkModel's virtual clock", () => {
  /** A backoff of an hour per retry: only a clock whose sleeps end at once gets through it. */
  const sleepy = Executor.layer({ retry: Schedule.spaced("1 hours").pipe(Schedule.intersect(Schedule.recurs(30))) })

  it("retries sleeping an hour each run at once in a plain runtime, without TestClock, and still match the model", async () => {
    const commands = fc.sample(Property.commands(command, { minLength: 20, maxLength: 20 }), { seed: 3, numRuns: 1 })[0]!
    const faults = await Effect.runPromise(
      Effect.gen(function*() {
        yield* Property.checkModel(account, model, commands)
        return yield* ChaosEventStore.faults
      }).pipe(
        Effect.provide(sleepy.pipe(Layer.provideMerge(ChaosEventStore.layer({ seed: 9, appendConflictRate: 0.3 })), Layer.provide(MemoryEventStore.layer())))
      )
    )
    expect(faults.filter((fault) => fault._tag === "Conflict").length).toBeGreaterThan(0)
  })

  it("a mismatch names the differing paths of the states", () => {
    const mismatch = new Property.ModelMismatch({ step: 2, command: "c", expected: { balance: 10 }, actual: { balance: 11 }, commands: [] })
    expect(mismatch.message).toContain("at .balance: expected 10, actual 11")
  })
})

describe("Property.check: the whole property in one Effect", () => {
  /** The executor over a fresh memory store, and what each build of it found in its store. */
  const probed = () => {
    const found: Array<number> = []
    const probe = Layer.effectDiscard(
      Effect.flatMap(EventStore.EventStore, (store) => Effect.map(Stream.runCount(store.readAll()), (events) => found.push(events)))
    )
    return { found, layer: Layer.provideMerge(probe, onMemory) }
  }

  it.effect("runs 100 sequences on the correct decider, each on a store of its own that starts empty", () =>
    Effect.gen(function*() {
      const { found, layer } = probed()
      yield* Property.check(account, model, Property.commands(command, { minLength: 20, maxLength: 20 }), layer)
      expect(found).toEqual(Array.from({ length: 100 }, () => 0))
    }))

  it.effect("streams longer than a page of the store are folded once each, whatever the page size", () =>
    Effect.gen(function*() {
      for (const pageSize of [1, 2, 3, 256]) {
        yield* Property.check(
          account,
          model,
          Property.commands(command, { minLength: 30, maxLength: 30 }),
          Executor.layerOn(MemoryEventStore.layer({ pageSize })),
          { fastCheck: { numRuns: 10 } }
        )
      }
      // one account: a stream of up to 30 events, read after every command
      const opened = [new Open({ id: "a" }), ...Array.from({ length: 12 }, (_, i) => new Deposit({ id: "a", amount: i + 1 }))]
      yield* Property.check(account, model, fc.constant(opened), Executor.layerOn(MemoryEventStore.layer({ pageSize: 2 })), {
        fastCheck: { numRuns: 1 }
      })
    }))

  it.effect("no event of one run is seen by the next: the same opening and deposit pass every run", () =>
    Effect.gen(function*() {
      const { found, layer } = probed()
      // were the store shared, the second run's Open would be refused and its balance would read 20
      const sequence = [new Open({ id: "a" }), new Deposit({ id: "a", amount: 10 })]
      yield* Property.check(account, model, fc.constant(sequence), layer, { fastCheck: { numRuns: 5 } })
      expect(found).toEqual([0, 0, 0, 0, 0])
    }))

  it.effect("a wrong decider fails with the shrunk sequence, its mismatch, and the seed and path that replay it", () =>
    Effect.gen(function*() {
      const commandLists = Property.commands(command, { maxLength: 25 })
      const failure = yield* Effect.flip(
        Property.check(sloppyAccount, model, commandLists, onMemory, { fastCheck: { seed: 20261122, numRuns: 200 } })
      )
      expect(failure._tag).toBe("PropertyFailure")
      expect(failure.seed).toBe(20261122)
      expect(failure.commands.some((c) => c instanceof Withdraw)).toBe(true)
      const mismatch = failure.error as Property.ModelMismatch
      expect(mismatch._tag).toBe("ModelMismatch")
      expect(mismatch.commands).toEqual(failure.commands.slice(0, mismatch.step + 1))
      expect(failure.message).toContain(`replay with { fastCheck: { seed: 20261122, path: ${JSON.stringify(failure.path)} } }`)
      expect(failure.message).toContain("State differs from the model")

      const replayed = yield* Effect.flip(
        Property.check(sloppyAccount, model, commandLists, onMemory, { fastCheck: { seed: failure.seed, path: failure.path } })
      )
      expect(replayed.runs).toBe(1)
      expect(replayed.commands).toEqual(failure.commands)
      expect((replayed.error as Property.ModelMismatch).step).toBe(mismatch.step)
    }))

  it.effect("a layer that fails to build fails the property with that layer's own error, after one build", () =>
    Effect.gen(function*() {
      let builds = 0
      const broken = Layer.effectDiscard(Effect.suspend(() => Effect.fail(`no store today (build ${++builds})` as const))).pipe(
        Layer.provideMerge(onMemory)
      )
      const error = yield* Effect.flip(Property.check(account, model, Property.commands(command), broken, { fastCheck: { numRuns: 3 } }))
      expect(error).toBe("no store today (build 1)")
      expect(builds).toBe(1)
    }))
})
