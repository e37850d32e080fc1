import type { StageResult, Summary } from "../domain/Results.ts"

/**
 * The metric vocabulary of `--slo`, `--assert` and `compare`: one name per number a stage
 * reports, its unit and which direction is better. Percentile metrics read the stage's
 * summaries (ms); a summary with no samples (e.g. TTFT of a non-streamed run) has no value.
 */

export type Better = "lower" | "higher"
export type Unit = "ms" | "req/s" | "tok/s" | "count" | "%"

export interface MetricDef {
  readonly name: string
  readonly unit: Unit
  readonly better: Better
  readonly description: string
  /** Undefined when the stage has no data for it (no samples, or not recorded). */
  readonly get: (s: StageResult) => number | undefined
}

type Pct = "p50" | "p90" | "p99" | "p999" | "max" | "mean"

const fromSummary = (sum: Summary | undefined, key: Pct): number | undefined =>
  sum === undefined || sum.count === 0 ? undefined : sum[key]

const pct = (name: string, what: string, summary: (s: StageResult) => Summary | undefined, key: Pct): MetricDef => ({
  name,
  unit: "ms",
  better: "lower",
  description: `${what} ${key === "mean" ? "mean" : key === "max" ? "maximum" : key.replace("p999", "p99.9")} (ms)`,
  get: (s) => fromSummary(summary(s), key)
})

const latency = (s: StageResult) => s.latency
const ttft = (s: StageResult) => s.ttft
const ttfb = (s: StageResult) => s.ttfb
const itl = (s: StageResult) => s.itl
const tpot = (s: StageResult) => s.tpot

const defs: ReadonlyArray<MetricDef> = [
  pct("p50", "latency", latency, "p50"),
  pct("p90", "latency", latency, "p90"),
  pct("p99", "latency", latency, "p99"),
  pct("p999", "latency", latency, "p999"),
  pct("max", "latency", latency, "max"),
  pct("mean", "latency", latency, "mean"),
  pct("ttftP50", "time to first token", ttft, "p50"),
  pct("ttftP90", "time to first token", ttft, "p90"),
  pct("ttftP99", "time to first token", ttft, "p99"),
  pct("ttftMax", "time to first token", ttft, "max"),
  pct("ttfbP50", "time to first byte", ttfb, "p50"),
  pct("ttfbP99", "time to first byte", ttfb, "p99"),
  pct("itlP50", "inter-chunk latency", itl, "p50"),
  pct("itlP99", "inter-chunk latency", itl, "p99"),
  pct("tpotP50", "time per output token", tpot, "p50"),
  pct("tpotP99", "time per output token", tpot, "p99"),
  { name: "rps", unit: "req/s", better: "higher", description: "counted requests per second (ok and errors)", get: (s) => s.rps },
  { name: "okRps", unit: "req/s", better: "higher", description: "ok requests per second", get: (s) => s.okRps },
  { name: "err", unit: "count", better: "lower", description: "error count", get: (s) => s.errors },
  {
    name: "errRate",
    unit: "%",
    better: "lower",
    description: "errors / requests, in percent (0-100)",
    get: (s) => (s.requests === 0 ? undefined : (s.errors / s.requests) * 100)
  },
  { name: "tokps", unit: "tok/s", better: "higher", description: "output tokens per second", get: (s) => s.outputTokensPerSecond },
  {
    name: "goodput",
    unit: "req/s",
    better: "higher",
    description: "ok requests per second that met every per-request SLO (recorded with --slo)",
    get: (s) => s.goodput
  }
]

/** Every metric, in documentation order. */
export const metrics: ReadonlyArray<MetricDef> = defs
export const metricNames: ReadonlyArray<string> = defs.map((d) => d.name)

const byLowerName = new Map(defs.map((d) => [d.name.toLowerCase(), d] as const))

/** Looks a metric up by name, case-insensitively (`P99` and `ttftp99` are accepted). */
export const lookupMetric = (name: string): MetricDef | undefined => byLowerName.get(name.trim().toLowerCase())

/** The value of a metric on a stage; undefined for an unknown name or when the stage has no data for it. */
export const metricValue = (stage: StageResult, name: string): number | undefined => lookupMetric(name)?.get(stage)

/** Which direction is better for `compare`: lower for latency and errors, higher for throughput. */
export const betterDirection = (name: string): Better | undefined => lookupMetric(name)?.better

/** The load level of a stage: its arrival rate (open loop) or its virtual clients (closed loop). */
export const levelOf = (s: StageResult): number => (s.loadModel === "open" && s.rate !== undefined ? s.rate : s.concurrency)

/** "conc 32" or "rate 50", as the table and messages name a stage. */
export const levelLabel = (s: StageResult): string => (s.loadModel === "open" ? `rate ${s.rate ?? "?"}` : `conc ${s.concurrency}`)

/** A value for humans: integers as they are, otherwise 1–3 decimals depending on size; `%` for percentages. */
export const formatValue = (value: number | undefined, unit?: Unit): string => {
  if (value === undefined) return "n/a"
  if (!Number.isFinite(value)) return String(value)
  const digits = Number.isInteger(value) ? 0 : Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 1 ? 2 : 3
  // Number(…) drops trailing zeros: 53.30 → 53.3.
  const text = String(Number(value.toFixed(digits)))
  return unit === "%" ? `${text}%` : text
}
