/**
 * A small JSON Schema (draft-07) checker for exactly the keywords effect's JSONSchema.make emits
 * for the results Schema. A keyword it does not know is an error, never skipped, so a schema it
 * "accepts" was really checked. Returns the problems found (empty: valid).
 */
type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }
type Schema = { readonly [k: string]: any }

const KNOWN = new Set([
  "$schema", "$defs", "$id", "$ref", "title", "description", "type", "required", "properties", "additionalProperties",
  "items", "enum", "anyOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "const"
])

const typeOf = (v: Json): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v

export const checkJsonSchema = (root: Schema, value: Json): ReadonlyArray<string> => {
  let problems: Array<string> = []
  const check = (schema: Schema | boolean, v: Json, at: string): boolean => {
    if (schema === true) return true
    if (schema === false) return fail(`${at}: not allowed`)
    for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`unsupported JSON Schema keyword ${k} at ${at}`)
    if (schema["$ref"] !== undefined) {
      const name = String(schema["$ref"]).replace(/^#\/\$defs\//, "")
      const target = root["$defs"]?.[name]
      if (target === undefined) throw new Error(`unresolved $ref ${schema["$ref"]}`)
      return check(target, v, at)
    }
    if (schema["anyOf"] !== undefined) {
      const outer = problems
      const ok = (schema["anyOf"] as Array<Schema>).some((s) => {
        problems = []
        check(s, v, at)
        return problems.length === 0
      })
      problems = outer
      if (!ok) return fail(`${at}: matches none of anyOf`)
    }
    const t = schema["type"]
    if (t !== undefined) {
      const actual = typeOf(v)
      const types: Array<string> = Array.isArray(t) ? t : [t]
      if (!types.some((x) => x === actual || (x === "number" && actual === "integer"))) return fail(`${at}: expected ${types.join("|")}, got ${actual}`)
    }
    if (schema["enum"] !== undefined && !(schema["enum"] as Array<Json>).some((e) => e === v)) return fail(`${at}: not one of ${JSON.stringify(schema["enum"])}`)
    if (schema["const"] !== undefined && schema["const"] !== v) return fail(`${at}: expected ${JSON.stringify(schema["const"])}`)
    if (typeof v === "number") {
      if (schema["minimum"] !== undefined && v < schema["minimum"]) return fail(`${at}: below minimum`)
      if (schema["maximum"] !== undefined && v > schema["maximum"]) return fail(`${at}: above maximum`)
      if (schema["exclusiveMinimum"] !== undefined && v <= schema["exclusiveMinimum"]) return fail(`${at}: not above exclusiveMinimum`)
      if (schema["exclusiveMaximum"] !== undefined && v >= schema["exclusiveMaximum"]) return fail(`${at}: not below exclusiveMaximum`)
    }
    if (Array.isArray(v) && schema["items"] !== undefined) v.forEach((item, i) => check(schema["items"], item, `${at}[${i}]`))
    if (typeOf(v) === "object") {
      const obj = v as { readonly [k: string]: Json }
      for (const r of (schema["required"] ?? []) as Array<string>) if (!(r in obj)) fail(`${at}: missing ${r}`)
      const props = (schema["properties"] ?? {}) as Record<string, Schema>
      for (const [k, item] of Object.entries(obj)) {
        if (k in props) check(props[k]!, item, `${at}.${k}`)
        else if (schema["additionalProperties"] !== undefined) check(schema["additionalProperties"], item, `${at}.${k}`)
      }
    }
    return true
  }
  const fail = (message: string) => {
    problems.push(message)
    return false
  }
  check(root, value, "$")
  return problems
}
