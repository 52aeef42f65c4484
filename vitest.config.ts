import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Tests and examples import the package by its own name ("eventfold/memory"), and run on the
// sources: the same tsconfig "paths" that tsc and tsx follow become aliases here (adr/0010).
const root = fileURLToPath(new URL(".", import.meta.url))
const paths = (JSON.parse(readFileSync(new URL("./tsconfig.json", import.meta.url), "utf8")) as {
  compilerOptions: { paths: Record<string, ReadonlyArray<string>> }
}).compilerOptions.paths
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
const alias = Object.entries(paths)
  .sort(([a], [b]) => Number(a.endsWith("*")) - Number(b.endsWith("*")))
  .map(([name, [target]]) => ({
    find: new RegExp(`^${escape(name).replace("\\*", "(.+)")}$`),
    replacement: root + target!.replace(/^\.\//, "").replace("*", "$1")
  }))

export default defineConfig({
  resolve: { alias },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    globalSetup: ["./test/support/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks"
  }
})
