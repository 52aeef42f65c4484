// npm run build: compiles src/ to dist/ (ESM JavaScript, declarations, declaration and source
// maps) with tsconfig.build.json, from a clean dist/. tsc rewrites "./X.ts" to "./X.js" in the
// JavaScript (rewriteRelativeImportExtensions) but not in declarations (microsoft/TypeScript#61037),
// so the relative specifiers of every .d.ts are rewritten here. Same length: the maps stay valid.
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const dist = join(root, "dist")
rmSync(dist, { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" })

const relativeTs = /((?:from|import)\s*\(?\s*)(["'])(\.\.?\/[^"']*)\.ts\2/g
let rewritten = 0
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue
  const file = join(entry.parentPath ?? entry.path, entry.name)
  const text = readFileSync(file, "utf8")
  const next = text.replace(relativeTs, (_, head, quote, path) => `${head}${quote}${path}.js${quote}`)
  if (next !== text) {
    writeFileSync(file, next)
    rewritten++
  }
}
console.log(`dist/ written; relative .ts specifiers rewritten to .js in ${rewritten} declaration files`)
