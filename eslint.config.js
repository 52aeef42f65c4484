import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["node_modules/", ".data/", "coverage/", "dist/", "docs/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-syntax": ["error", { selector: "ThrowStatement", message: "Use typed Effect errors, not throw." }]
    }
  },
  {
    files: ["src/**"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [{
          name: "effect",
          message: "Import effect modules by path (import * as Effect from \"effect/Effect\"): bundlers drop what is unused (adr/0010). node scripts/effect-deep-imports.mjs rewrites them."
        }]
      }]
    }
  },
  {
    files: ["scripts/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } }
  },
  {
    files: ["test/**", "examples/**", "scripts/**"],
    rules: { "no-restricted-syntax": "off" }
  }
)
