// Every export of a public module (the files docgen documents) has a JSDoc
// `@category` (docgen itself enforces `@since`). Run by `npm run docs`.
import { readFileSync } from "node:fs"
import { globSync } from "glob"
import ts from "typescript"

const config = JSON.parse(readFileSync("docgen.json", "utf8"))
const files = globSync(`${config.srcDir}/**/*.ts`, { ignore: config.exclude }).sort()

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
          if (!hasTag(element, "category")) missing.push(`${file}#${element.name.text}`)
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
    const documented = ts.isFunctionDeclaration(statement)
      ? source.statements.some((other) => ts.isFunctionDeclaration(other) && other.name?.text === name && hasTag(other, "category"))
      : hasTag(statement, "category")
    if (!documented) missing.push(`${file}#${name}`)
  }
}

if (missing.length > 0) {
  console.error(`Missing @category tag (${missing.length}):\n${missing.map((m) => `  ${m}`).join("\n")}`)
  process.exit(1)
}
console.log(`@category: every export of ${files.length} public modules has one`)
