/**
 * Speed of a model-based property on the memory store: 100 runs of 20 commands
 * (the account of test/testing/fixtures, three accounts), checked the two ways
 * the README shows.
 *
 * - `check`: `Property.check` inside one `it.effect`: one `TestContext` for the
 *   whole property, the Executor and memory store built afresh for each run.
 * - `prop`: `it.effect.prop` with `Property.checkModel`, as `@effect/vitest` runs
 *   it: a `TestContext` and the Executor and store layer built for every run.
 * - `layers`: only what `prop` builds per run (`TestContext`, Executor and store),
 *   with no command run: the part of `prop` that `check` builds once.
 *
 * Each case runs in its own process (`cold`: its first property, JIT included,
 * as a test file's only property is), then `PROPERTY_REPEATS` (default 5) more
 * times in that process (`warm`: the best of them). Wall time and CPU time
 * (user + system of this process): on a shared machine the CPU time is the
 * steadier number.
 *
 *     npx tsx test/bench/property.ts
 *
 * `PROPERTY_RUNS` (default 100) and `PROPERTY_COMMANDS` (default 20) size it.
 * No assertion here: speed is measured, not tested.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, FastCheck as fc, Fiber, Layer, Logger, TestContext } from "effect"
import { Executor } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import { Property } from "eventfold/testing"
import { account, command, model } from "../testing/fixtures/Account.ts"
import { table } from "./harness.ts"

const runs = Number(process.env["PROPERTY_RUNS"] ?? 100)
const length = Number(process.env["PROPERTY_COMMANDS"] ?? 20)
const repeats = Number(process.env["PROPERTY_REPEATS"] ?? 5)
const commandLists = Property.commands(command, { minLength: length, maxLength: length })

/** `TestContext` as `@effect/vitest`'s `it.effect` provides it. */
const TestEnv = TestContext.TestContext.pipe(Layer.provide(Logger.remove(Logger.defaultLogger)))
/** As `@effect/vitest` runs a test body: forked, joined, in a new runtime. */
const runTest = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.flatMap(Effect.fork(effect), Fiber.join))

const onMemory = () => Executor.layerOn(MemoryEventStore.layer())

const cases: Record<string, (seed: number) => Promise<void>> = {
  check: (seed) =>
    runTest(
      Property.check(account, model, commandLists, onMemory(), { fastCheck: { numRuns: runs, seed } }).pipe(Effect.provide(TestEnv))
    ),
  prop: (seed) =>
    fc.assert(
      fc.asyncProperty(commandLists, (commandList) =>
        runTest(Property.checkModel(account, model, commandList).pipe(Effect.provide(onMemory()), Effect.provide(TestEnv)))),
      { numRuns: runs, seed }
    ),
  layers: (seed) =>
    fc.assert(
      fc.asyncProperty(commandLists, () => runTest(Effect.void.pipe(Effect.provide(onMemory()), Effect.provide(TestEnv)))),
      { numRuns: runs, seed }
    )
}

interface Timing {
  readonly wallMs: number
  readonly cpuMs: number
}

const timed = async (f: () => Promise<void>): Promise<Timing> => {
  const cpu = process.cpuUsage()
  const started = performance.now()
  await f()
  const used = process.cpuUsage(cpu)
  return { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 }
}

const child = process.env["PROPERTY_CASE"]
if (child !== undefined) {
  const run = cases[child]!
  const cold = await timed(() => run(1))
  const warm: Array<Timing> = []
  for (let i = 0; i < repeats; i++) warm.push(await timed(() => run(2 + i)))
  process.stdout.write(JSON.stringify({ cold, warm }))
} else {
  const file = fileURLToPath(import.meta.url)
  const rows: Array<Array<string>> = []
  for (const name of Object.keys(cases)) {
    const result = spawnSync(process.execPath, [...process.execArgv, file], {
      env: { ...process.env, PROPERTY_CASE: name },
      encoding: "utf8"
    })
    if (result.status !== 0) {
      process.stderr.write(result.stderr)
      process.exit(1)
    }
    const { cold, warm } = JSON.parse(result.stdout) as { cold: Timing; warm: ReadonlyArray<Timing> }
    const best = (key: keyof Timing) => Math.min(...warm.map((t) => t[key]))
    const ms = (n: number) => n.toFixed(0)
    rows.push([name, ms(cold.wallMs), ms(cold.cpuMs), ms(best("wallMs")), ms(best("cpuMs"))])
  }
  process.stdout.write(`${runs} runs x ${length} commands on the memory store\n`)
  process.stdout.write(`${table(["case", "cold wall ms", "cold cpu ms", "warm wall ms (best)", "warm cpu ms (best)"], rows)}\n`)
}
