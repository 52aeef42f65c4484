// node scripts/effect-deep-imports.mjs [dir...]: rewrites `import { A, B as C } from "effect"`
// into `import * as A from "effect/A"` and `import * as C from "effect/B"` (type-only imports
// stay type-only), in every .ts file under the given directories (default: src). Idempotent.
// Why: a bundler keeps the whole namespace object of a module re-exported by effect's barrel;
// by path it keeps only what is used (adr/0010). `npm run lint` rejects the barrel in src/.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const barrel = /import (type )?\{([^}]*)\} from "effect"\n/g
const rewrite = (_, wholeType, names) =>
  names
    .split(",")
    .map((raw) => raw.trim())
    .filter((name) => name !== "")
    .map((name) => {
      const type = wholeType !== undefined || name.startsWith("type ")
      const [module, local = module] = name.replace(/^type /, "").split(/\s+as\s+/)
      return `import ${type ? "type " : ""}* as ${local} from "effect/${module}"\n`
    })
    .join("")

let changed = 0
for (const dir of process.argv.length > 2 ? process.argv.slice(2) : ["src"]) {
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue
    const file = join(entry.parentPath ?? entry.path, entry.name)
    const text = readFileSync(file, "utf8")
    const next = text.replace(barrel, rewrite)
    if (next !== text) {
      writeFileSync(file, next)
      changed++
    }
  }
}
console.log(`${changed} files rewritten`)
