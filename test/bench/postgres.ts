import type { CaseResult, Sizes } from "./harness.ts"
export const runPostgres = async (_sizes: Sizes): Promise<Array<CaseResult>> => []
