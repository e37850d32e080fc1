import { Schema } from "effect"

/**
 * Bounded numbers for every option, shared by the per-part options (LoadOptions, MockOptions,
 * RouterOptions), RunOptions and the CLI, so a value is judged once and by one rule. Messages
 * read after the option's name: "--concurrency: must be an integer from 1 to 100000".
 * Upper bounds keep every value inside what the engine, the timers (2^31 ms) and the heap take.
 */

const show = (n: number): string => String(n)

/** An integer in [min, max] (a safe integer, so 2^53 and beyond are refused, not rounded). */
export const intIn = (min: number, max: number) =>
  Schema.Number.pipe(
    Schema.filter((n) => (Number.isSafeInteger(n) && n >= min && n <= max) || `must be an integer from ${show(min)} to ${show(max)}`, {
      jsonSchema: { type: "integer", minimum: min, maximum: max }
    })
  )

/** Any safe integer (a seed). */
export const safeInt = Schema.Number.pipe(
  Schema.filter((n) => Number.isSafeInteger(n) || "must be an integer (at most 2^53 - 1 in size)", { jsonSchema: { type: "integer" } })
)

/** A finite number with `above` < n ≤ max (exclusive lower bound), in `unit`. */
export const numberAbove = (above: number, max: number, unit: string) =>
  Schema.Number.pipe(
    Schema.filter((n) => (Number.isFinite(n) && n > above && n <= max) || `must be a number > ${show(above)} and at most ${show(max)} ${unit}`, {
      jsonSchema: { type: "number", exclusiveMinimum: above, maximum: max }
    })
  )

/** A finite number with min ≤ n ≤ max (inclusive), in `unit`. */
export const numberIn = (min: number, max: number, unit: string) =>
  Schema.Number.pipe(
    Schema.filter((n) => (Number.isFinite(n) && n >= min && n <= max) || `must be a number from ${show(min)} to ${show(max)} ${unit}`, {
      jsonSchema: { type: "number", minimum: min, maximum: max }
    })
  )

/** A non-empty list of at most `max` items. */
export const listOf = <A, I, R>(item: Schema.Schema<A, I, R>, max: number, what: string) =>
  Schema.NonEmptyArray(item).pipe(
    Schema.filter((xs) => xs.length <= max || `at most ${max} ${what}, got ${xs.length}`)
  )

/** A string that is not empty (after trimming), with a message naming the fault. */
export const nonEmptyText = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0 || "must not be empty"))

/** The limits themselves, for --help and docs/options.md. */
export const BOUNDS = {
  concurrency: { min: 1, max: 100_000 },
  levels: 100,
  rate: { max: 1_000_000 },
  requests: { max: 1_000_000_000 },
  durationSeconds: { max: 604_800 },
  warmupSeconds: { max: 86_400 },
  timeoutSeconds: { min: 0.001, max: 86_400 },
  mockMs: { max: 600_000 },
  mockTokens: { max: 1_000_000 },
  mockSlots: { max: 100_000 },
  mockBackends: { max: 64 },
  routerWorkers: { max: 1024 },
  routerMaxConc: { max: 1_000_000 },
  routerStartTimeoutSeconds: { max: 86_400 },
  graceSeconds: { max: 3_600 }
} as const

export const Concurrency = intIn(BOUNDS.concurrency.min, BOUNDS.concurrency.max)
export const Rate = numberAbove(0, BOUNDS.rate.max, "requests/s")
export const Port = intIn(0, 65535)

/** An absolute http:// or https:// URL. */
export const HttpUrl = Schema.String.pipe(
  Schema.filter((u) => {
    try {
      const { protocol } = new URL(u)
      return protocol === "http:" || protocol === "https:" || "must be an http:// or https:// URL"
    } catch {
      return "must be an http:// or https:// URL"
    }
  })
)
