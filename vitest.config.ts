import { readdirSync, readFileSync } from "node:fs"
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

// Test files that use PostgreSQL run one at a time: a PostgreSQL store's readAll yields only
// rows of transactions older than every transaction still running on the server (adr/0012),
// so a write transaction held open by one file would hold back another file's readAll on the
// shared test server. Files that do not use PostgreSQL run in parallel beside them.
const usesPostgres = (file: string): boolean =>
  file.startsWith("test/postgres/") ||
  /from\s+["'][^"']*postgres[^"']*["']|inject\("pgUrl"\)/.test(
    readFileSync(root + file, "utf8")
  )
const testFiles = ["test", "examples"].flatMap((dir) =>
  (readdirSync(root + dir, { recursive: true }) as Array<string>)
    .map((file) => `${dir}/${file.split("\\").join("/")}`)
    .filter((file) => file.endsWith(".test.ts"))
)
const postgresFiles = testFiles.filter(usesPostgres)

const shared = { testTimeout: 60_000, hookTimeout: 120_000, pool: "forks" as const }

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        extends: true,
        test: { ...shared, name: "unit", include: testFiles.filter((file) => !postgresFiles.includes(file)) }
      },
      {
        extends: true,
        test: {
          ...shared,
          name: "postgres",
          include: postgresFiles,
          globalSetup: ["./test/support/globalSetup.ts"],
          poolOptions: { forks: { singleFork: true } }
        }
      }
    ]
  }
})
