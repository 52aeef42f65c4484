import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { promisify } from "node:util"

const run = promisify(execFile)
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")

describe("README", () => {
  it("shows both commands a newcomer runs", () => {
    expect(readme).toContain("npm ci && npm start")
    expect(readme).toContain("npm ci && npm test")
  })

  it("the first program is examples/first-program.ts, word for word, and prints what its comments say", async () => {
    const block = readme.slice(readme.indexOf("## A first program")).match(/```ts\n([\s\S]*?)```/)?.[1]
    const file = readFileSync(new URL("../examples/first-program.ts", import.meta.url), "utf8")
    expect(block).toBe(file)
    const { stdout } = await run(process.execPath, ["--import", "tsx", "examples/first-program.ts"], { cwd: new URL("..", import.meta.url) })
    expect(stdout).toBe("balance: 70\nevents: 2\n")
  })
})
