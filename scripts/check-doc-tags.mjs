// Every top-level export of a public module (the files docgen.json documents)
// has a JSDoc `@since` and `@category`. Fast (no type-checking). `npm run docs`
// runs it first, then docgen, which requires `@since` (class members' too) but
// never `@category`, and type-checks and runs every JSDoc example.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"

const config = JSON.parse(readFileSync("docgen.json", "utf8"))
// docgen.json's exclude: internal/ folders and the index.ts barrels
const files = readdirSync(config.srcDir, { recursive: true })
  .map((file) => join(config.srcDir, file))
  .filter((file) => file.endsWith(".ts") && !file.split("/").includes("internal") && !file.endsWith("/index.ts"))
  .sort()

const hasTag = (node, name) => ts.getJSDocTags(node).some((tag) => tag.tagName.text === name)
const isExported = (node) => ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export

const missing = []
for (const file of files) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true)
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      // `export { X }`: the specifier carries the documentation
      if (statement.exportClause !== undefined && ts.isNamedExports(statement.exportClause)) {
        for (const element of statement.exportClause.elements) {
          for (const tag of ["since", "category"]) if (!hasTag(element, tag)) missing.push(`${file}#${element.name.text}: @${tag}`)
        }
      }
      // `export * as X from "..."`: the statement carries it
      if (statement.exportClause !== undefined && ts.isNamespaceExport(statement.exportClause)) {
        for (const tag of ["since", "category"]) {
          if (!hasTag(statement, tag)) missing.push(`${file}#${statement.exportClause.name.text}: @${tag}`)
        }
      }
      continue
    }
    if (!(ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement) ||
      ts.isTypeAliasDeclaration(statement) || ts.isVariableStatement(statement) || ts.isEnumDeclaration(statement) ||
      ts.isModuleDeclaration(statement)) || !isExported(statement)) continue
    const name = ts.isVariableStatement(statement)
      ? statement.declarationList.declarations.map((d) => d.name.getText(source)).join(", ")
      : statement.name?.getText(source) ?? "default"
    // overloads: the documented signature is enough
    if (ts.isFunctionDeclaration(statement) && statement.body === undefined) continue
    for (const tag of ["since", "category"]) {
      const documented = ts.isFunctionDeclaration(statement)
        ? source.statements.some((other) => ts.isFunctionDeclaration(other) && other.name?.text === name && hasTag(other, tag))
        : hasTag(statement, tag)
      if (!documented) missing.push(`${file}#${name}: @${tag}`)
    }
  }
}

if (missing.length > 0) {
  console.error(`Missing JSDoc tags (${missing.length}):\n${missing.map((m) => `  ${m}`).join("\n")}`)
  process.exit(1)
}
console.log(`every export of the ${files.length} public modules has @since and @category`)
