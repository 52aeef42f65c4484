// npm run check:consumer: installs the packed tarball into fresh projects, as a user would, and
// uses it there (adr/0010). Nothing is downloaded: the tarball is unpacked into the project's
// node_modules/eventfold and its peers are links to this repository's installed packages.
//
//   1. npm pack (prepack builds dist/); the file list holds no tests, benches, examples, ADRs or CI
//      files; every export target (and main/types) is in it; JavaScript targets are .js, types .d.ts.
//   2. A project with effect alone (the one required peer): eventfold, eventfold/memory and
//      eventfold/testing load; eventfold/sqlite, /postgres and /file fail naming their driver.
//   3. A project with the drivers, vitest and TypeScript: scripts/consumer/app.ts type-checks
//      (strict, skipLibCheck false) with moduleResolution NodeNext and Bundler, compiles with
//      declarations, and the compiled app.js runs in plain node (memory and SQLite); vitest runs
//      StoreContract.suite (eventfold/testing/vitest) on the memory store there.
//
// Exits non-zero with a message on the first failure. KEEP=1 keeps the temporary directory.
import { execFile, execFileSync, spawnSync } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const work = mkdtempSync(join(tmpdir(), "eventfold-consumer-"))
const started = Date.now()

const fail = (message) => {
  console.error(`consumer check FAILED: ${message}\n(work directory: ${work})`)
  process.exit(1)
}
const step = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`)
const runAsync = (command, args, cwd, what) =>
  new Promise((resolve) =>
    execFile(command, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20, env: { ...process.env, NODE_OPTIONS: "" } }, (error, stdout, stderr) => {
      if (error) fail(`${what}\n$ ${command} ${args.join(" ")}\n${stdout}${stderr}`)
      resolve(stdout)
    })
  )
const run = (command, args, cwd, what) => {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } })
  if (result.status !== 0) fail(`${what}\n$ ${command} ${args.join(" ")}\n${result.stdout}${result.stderr}`)
  return result.stdout
}

// 1. The tarball -----------------------------------------------------------------------------
step("npm pack (builds dist/)")
const packed = JSON.parse(
  run("npm", ["pack", "--json", "--pack-destination", work], root, "npm pack failed").replace(/^[^[]*/s, "")
)[0]
const files = new Set(packed.files.map((f) => f.path))
const allowedTop = new Set(["package.json", "README.md", "LICENSE", "CHANGELOG.md"])
const stray = [...files].filter(
  (f) =>
    !(allowedTop.has(f) || f.startsWith("dist/") || f.startsWith("src/")) ||
    /(^|\/)(test|tests|examples|adr|bench|\.ci|node_modules)\//.test(f) ||
    /\.(test|spec|bench)\.[cm]?[jt]s$/.test(f)
)
if (stray.length > 0) fail(`the tarball holds files a user does not need: ${stray.join(", ")}`)
if (!files.has("LICENSE")) fail("the tarball has no LICENSE")
const targets = []
const collect = (value, condition, label) => {
  if (value === null) return
  if (typeof value === "string") targets.push([condition, value, label])
  else for (const [key, inner] of Object.entries(value)) collect(inner, key, `${label}.${key}`)
}
for (const [subpath, value] of Object.entries(pkg.exports)) {
  if (subpath !== "./package.json") collect(value, subpath, `exports["${subpath}"]`)
}
targets.push(["main", pkg.main, "main"], ["types", pkg.types, "types"])
for (const [condition, target, label] of targets) {
  const path = target.replace(/^\.\//, "")
  if (path.includes("*")) {
    // A subpath pattern ("./*": every public module): it must match files of the right kind.
    const pattern = new RegExp(`^${path.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^]+")}$`)
    if (![...files].some((f) => pattern.test(f))) fail(`${label}: ${target} matches no file in the tarball`)
    if (condition === "types" ? !path.endsWith(".d.ts") : !/\.[cm]?js$/.test(path)) fail(`${label}: ${target} is not compiled output`)
    continue
  }
  if (!files.has(path)) fail(`${label}: ${target} is not in the tarball`)
  if (condition === "types" ? !path.endsWith(".d.ts") : !/\.[cm]?js$/.test(path)) {
    fail(`${label}: ${target} is not a ${condition === "types" ? ".d.ts" : "compiled .js"} file`)
  }
  if (condition === "types" && !files.has(path + ".map")) fail(`${label}: ${target} has no declaration map`)
}
const kB = (n) => `${(n / 1024).toFixed(1)} kB`
step(`${packed.filename}: ${packed.entryCount} files, ${kB(packed.size)} packed, ${kB(packed.unpackedSize)} unpacked`)

// A fresh project: eventfold unpacked from the tarball, the named peers linked from this repo.
const project = (name, peers) => {
  const dir = join(work, name)
  const modules = join(dir, "node_modules")
  mkdirSync(join(modules, "eventfold"), { recursive: true })
  execFileSync("tar", ["-xzf", join(work, packed.filename), "-C", join(modules, "eventfold"), "--strip-components=1"])
  for (const peer of peers) {
    mkdirSync(dirname(join(modules, peer)), { recursive: true })
    symlinkSync(join(root, "node_modules", peer), join(modules, peer), "dir")
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }, null, 2))
  return dir
}

// 2. Memory only: effect alone (no @effect/sql, no drivers, no vitest) ---------------------------------------
step("memory-only project: effect alone")
const bare = project("memory-only", ["effect"])
const probe = (specifier) =>
  spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(specifier)})`], {
    cwd: bare,
    encoding: "utf8"
  })
const loads = spawnSync(
  process.execPath,
  ["--input-type=module", "-e", `await import("eventfold"); await import("eventfold/memory"); await import("eventfold/testing")`],
  { cwd: bare, encoding: "utf8" }
)
if (loads.status !== 0) fail(`eventfold, eventfold/memory or eventfold/testing failed to load without drivers or vitest:\n${loads.stderr}`)
const needs = [
  ["eventfold/sqlite", "@effect/sql-sqlite-node"],
  ["eventfold/postgres", "@effect/sql-pg"],
  ["eventfold/file", "@effect/platform"]
]
for (const [specifier, driver] of needs) {
  const result = probe(specifier)
  const line = result.stderr.split("\n").find((l) => l.includes("Cannot find package")) ?? ""
  if (result.status === 0 || !line.includes(`'${driver}'`)) {
    fail(`import("${specifier}") without ${driver} should fail naming it; got:\n${result.stderr}`)
  }
  step(`  ${specifier} without its driver: ${line.replace(/^.*?Error[^:]*: /, "").replace(work, "<tmp>")}`)
}

// 3. A full consumer ---------------------------------------------------------------------------
step("consumer project: drivers, vitest, TypeScript")
const app = project("consumer", [
  "effect",
  "@effect/sql",
  "@effect/sql-sqlite-node",
  "@effect/vitest",
  "vitest",
  "typescript",
  "@types/node"
])
cpSync(join(root, "scripts/consumer/app.ts"), join(app, "app.ts"))
cpSync(join(root, "scripts/consumer/contract.test.ts"), join(app, "contract.test.ts"))
// lib DOM: @effect/platform and @effect/experimental (peers of @effect/sql) name the DOM types
// Crypto and Storage in their declarations, which skipLibCheck: false checks.
const strict = { strict: true, skipLibCheck: false, target: "ES2022", lib: ["ES2022", "DOM"], types: ["node"] }
const tsconfigs = {
  "tsconfig.nodenext.json": { module: "NodeNext", moduleResolution: "NodeNext", declaration: true, outDir: "out" },
  "tsconfig.bundler.json": { module: "ESNext", moduleResolution: "Bundler", noEmit: true }
}
for (const [file, options] of Object.entries(tsconfigs)) {
  writeFileSync(
    join(app, file),
    JSON.stringify({ compilerOptions: { ...strict, ...options }, include: ["app.ts", "contract.test.ts"] }, null, 2)
  )
}
// Independent steps run side by side: two type-checks (the slow part) and vitest.
const tsc = join(app, "node_modules/typescript/bin/tsc")
step("in parallel: tsc (Bundler, noEmit), tsc (NodeNext, declaration: true) then node out/app.js, vitest")
const bundler = runAsync(process.execPath, [tsc, "-p", "tsconfig.bundler.json"], app, "the consumer does not type-check with moduleResolution Bundler")
  .then(() => step("  tsc, moduleResolution Bundler: no errors"))
const nodenext = runAsync(process.execPath, [tsc, "-p", "tsconfig.nodenext.json"], app, "the consumer does not compile with moduleResolution NodeNext and declaration: true")
  .then(async () => {
    step("  tsc, moduleResolution NodeNext, declaration: true: no errors")
    if (!readFileSync(join(app, "out/app.d.ts"), "utf8").includes("memoryApp")) fail("out/app.d.ts lacks memoryApp")
    const output = (await runAsync(process.execPath, ["out/app.js", "run"], app, "the compiled consumer failed in plain node")).trim()
    const expected = ["memory: balance=70 events=1:Deposited,2:Withdrawn", "sqlite: balance=70 events=1:Deposited,2:Withdrawn"]
    if (output !== expected.join("\n")) fail(`node out/app.js printed:\n${output}\nexpected:\n${expected.join("\n")}`)
    step(`  node out/app.js run: ${output.split("\n").join(" | ")}`)
  })
const contract = runAsync(
  process.execPath,
  [join(app, "node_modules/vitest/vitest.mjs"), "run", "contract.test.ts", "--root", app, "--testTimeout=60000"],
  app,
  "the store contract failed in the consumer project"
).then((out) => {
  const passed = /Tests\s+(\d+) passed/.exec(out.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), ""))
  if (passed === null || Number(passed[1]) < 10) fail(`vitest did not report the contract's tests:\n${out}`)
  step(`  vitest: StoreContract.suite on the memory store, ${passed[1]} tests passed`)
})
await Promise.all([bundler, nodenext, contract])

if (process.env.KEEP === "1") console.log(`kept ${work}`)
else rmSync(work, { recursive: true, force: true })
step("consumer check passed")
