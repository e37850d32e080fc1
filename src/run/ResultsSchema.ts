import { JSONSchema } from "effect"
import { RunResult } from "../domain/Results.ts"

/**
 * The JSON Schema of the results file (`--json`), generated from the results Schema itself, so
 * it cannot drift. `npm run build` writes it to dist/results.schema.json; `nomyo-load schema`
 * prints it.
 */
export const resultsJsonSchema = (): JSONSchema.JsonSchema7Root => JSONSchema.make(RunResult)
