/**
 * The README's "Guarantees" section names, for each promise, the test that
 * proves it: every file it names exists and every quoted test name is a test in
 * one of them (or in the contract suite), so the section cannot drift from the tests.
 */
import { existsSync, readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"

const root = new URL("../../", import.meta.url)
const readme = readFileSync(new URL("README.md", root), "utf8")
const start = readme.indexOf("## Guarantees")
const section = readme.slice(start, readme.indexOf("\n## ", start + 1))
const squash = (text: string) => text.replace(/\s+/g, " ")

const files = [...new Set(section.match(/\b(?:test|src)\/[\w./-]+\.ts\b/g) ?? [])]
const names = [...squash(section).replace(/`[^`]*`/g, "``").matchAll(/"([^"]{20,})"/g)].map((m) => m[1]!)
const sources = squash(files.filter((f) => existsSync(new URL(f, root))).map((f) => readFileSync(new URL(f, root), "utf8")).join("\n"))

describe("README Guarantees", () => {
  it("names test files that exist", () => {
    expect(files.length).toBeGreaterThan(10)
    expect(files.filter((f) => !existsSync(new URL(f, root)))).toEqual([])
  })

  it("quotes test names that are tests of the files it names", () => {
    expect(names.length).toBeGreaterThan(20)
    expect(names.filter((name) => !sources.includes(name))).toEqual([])
  })
})
