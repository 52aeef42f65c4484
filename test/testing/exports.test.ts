import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Data, Effect, Layer } from "effect"
import type { EventStore, Executor } from "eventfold"
import { MemoryEventStore } from "eventfold/memory"
import * as Testing from "eventfold/testing"
import { Scenario } from "eventfold/testing"
import { StoreContract } from "eventfold/testing/vitest"
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { account, Open, Opened, streamOf } from "./fixtures/Account.ts"

const run = promisify(execFile)
const root = new URL("../..", import.meta.url)

/** Runs a module body in a plain node process (no vitest), as a user's script would. */
const node = (code: string) => run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: root })

class StoreDown extends Data.TaggedError("StoreDown")<{ readonly reason: string }> {}

describe("eventfold/testing entry points", () => {
  it("eventfold/testing loads in plain node, outside vitest, and a pure scenario runs there", async () => {
    const { stdout } = await node(`
      const m = await import("eventfold/testing")
      const { account, Deposit, Deposited, Opened } = await import("./test/testing/fixtures/Account.ts")
      console.log(Object.keys(m).sort().join(","))
      m.Scenario.decider(account).given([new Opened()]).when(new Deposit({ id: "a", amount: 5 })).then([new Deposited({ amount: 5 })])
      try {
        m.Scenario.decider(account).given([new Opened()]).when(new Deposit({ id: "a", amount: 5 })).thenNothing()
      } catch (error) {
        console.log(error.message.split("\\n").at(-1).trim())
      }
    `)
    expect(stdout).toBe(
      "Arbitraries,ChaosEventStore,ProjectionScenario,Property,Scenario,TrackingEventStore\n" +
        "Actual:   events [ { streamId: 'account-a', event: Deposited { amount: 5, _tag: 'Deposited' } } ]\n"
    )
  })

  it("the contract suite is in eventfold/testing/vitest, not in eventfold/testing", () => {
    expect(Object.keys(Testing).sort()).toEqual(["Arbitraries", "ChaosEventStore", "ProjectionScenario", "Property", "Scenario", "TrackingEventStore"])
    expect(typeof StoreContract.suite).toBe("function")
  })

  it("StoreContract.Options and Scenario.executor keep the store layer's error type instead of unknown", () => {
    expectTypeOf<ReturnType<StoreContract.Options<StoreDown>["makeStore"]>>().toEqualTypeOf<
      Layer.Layer<EventStore.EventStore, StoreDown>
    >()
    const onMemory = Scenario.executor(account).when(new Open({ id: "a" })).thenNothing()
    expectTypeOf(onMemory).toEqualTypeOf<Effect.Effect<void, Scenario.ScenarioFailure | Executor.ExecuteError>>()
    const down: Layer.Layer<EventStore.EventStore, StoreDown> = Layer.fail(new StoreDown({ reason: "no disk" }))
    const onDown = Scenario.executor(account, { store: down }).when(new Open({ id: "a" })).thenNothing()
    expectTypeOf(onDown).toEqualTypeOf<Effect.Effect<void, Scenario.ScenarioFailure | Executor.ExecuteError | StoreDown>>()
  })

  it.effect("an executor scenario over a store layer that fails to build fails with that layer's typed error", () =>
    Effect.gen(function*() {
      const down: Layer.Layer<EventStore.EventStore, StoreDown> = Layer.fail(new StoreDown({ reason: "no disk" }))
      const error = yield* Effect.flip(Scenario.executor(account, { store: down }).when(new Open({ id: "a" })).thenNothing())
      expect(error).toEqual(new StoreDown({ reason: "no disk" }))
      // A working layer passed the same way runs the scenario as usual.
      yield* Scenario.executor(account, { store: MemoryEventStore.layer() })
        .when(new Open({ id: "a" }))
        .then([{ streamId: streamOf("a"), event: new Opened() }])
    }))
})
