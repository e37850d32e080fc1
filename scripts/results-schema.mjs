// After `tsc -p tsconfig.build.json`: writes dist/results.schema.json, the JSON Schema of the
// results file (--json), generated from the compiled results Schema (shipped in the package).
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const dist = fileURLToPath(new URL("../dist/", import.meta.url))
const { resultsJsonSchema } = await import(new URL("run/ResultsSchema.js", `file://${dist}`).href)
writeFileSync(`${dist}results.schema.json`, JSON.stringify(resultsJsonSchema(), null, 2) + "\n")
console.log(`wrote ${dist}results.schema.json`)
