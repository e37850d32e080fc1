import type { StageResult, Summary } from "../domain/Results.ts"

interface Column {
  readonly title: string
  readonly value: (s: StageResult) => string
}

const ms = (x: number, count: number) => (count === 0 ? "-" : x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0))
const pct = (key: "p50" | "p90" | "p99" | "max") => (get: (s: StageResult) => Summary | undefined) => (s: StageResult) => {
  const sum = get(s)
  return sum === undefined ? "-" : ms(sum[key], sum.count)
}

const levelColumn: Column = { title: "conc", value: (s) => String(s.concurrency) }
const rateColumns: ReadonlyArray<Column> = [
  { title: "rate", value: (s) => (s.rate === undefined ? "-" : String(s.rate)) },
  { title: "sent/s", value: (s) => (s.achievedRate === undefined ? "-" : s.achievedRate.toFixed(1)) }
]

const baseColumns: ReadonlyArray<Column> = [
  { title: "req", value: (s) => String(s.requests) },
  { title: "ok", value: (s) => String(s.ok) },
  { title: "err", value: (s) => String(s.errors) },
  { title: "req/s", value: (s) => s.rps.toFixed(1) },
  { title: "p50ms", value: pct("p50")((s) => s.latency) },
  { title: "p90ms", value: pct("p90")((s) => s.latency) },
  { title: "p99ms", value: pct("p99")((s) => s.latency) },
  { title: "maxms", value: pct("max")((s) => s.latency) }
]

const ttftColumns: ReadonlyArray<Column> = [
  { title: "ttftP50", value: pct("p50")((s) => s.ttft) },
  { title: "ttftP99", value: pct("p99")((s) => s.ttft) }
]

/** Extra columns for --columns, by name. */
export const extraColumns: Readonly<Record<string, Column>> = {
  ttfbP50: { title: "ttfbP50", value: pct("p50")((s) => s.ttfb) },
  ttfbP99: { title: "ttfbP99", value: pct("p99")((s) => s.ttfb) },
  ttftP90: { title: "ttftP90", value: pct("p90")((s) => s.ttft) },
  itlP50: { title: "itlP50", value: pct("p50")((s) => s.itl) },
  itlP99: { title: "itlP99", value: pct("p99")((s) => s.itl) },
  tpot: { title: "tpotP50", value: pct("p50")((s) => s.tpot) },
  tpotP99: { title: "tpotP99", value: pct("p99")((s) => s.tpot) },
  "tok/s": { title: "tok/s", value: (s) => s.outputTokensPerSecond.toFixed(0) },
  goodput: { title: "goodput", value: (s) => (s.goodput === undefined ? "-" : s.goodput.toFixed(1)) },
  late: { title: "late", value: (s) => String(s.lateStarts) },
  inflight: { title: "peakInFl", value: (s) => String(s.peakInFlight) },
  dispatchP99: { title: "dispP99", value: pct("p99")((s) => s.dispatchDelay) },
  loopP99: { title: "loopP99", value: (s) => (s.selfHealth === undefined ? "-" : s.selfHealth.loopDelayP99Ms.toFixed(1)) },
  drain: { title: "drain_s", value: (s) => s.drainSeconds.toFixed(2) },
  tokmis: { title: "tokMis", value: (s) => String(s.tokenMismatches) }
}

export const extraColumnNames = Object.keys(extraColumns)

/**
 * The results table: one row per stage, right-aligned; TTFT columns only for streaming runs;
 * open-loop stages lead with the requested and achieved rate. `*` marks a stage cut short,
 * `!` a stage where the driver itself was the bottleneck.
 */
/** A header and rows as lines of right-aligned columns, two spaces apart. */
const alignRight = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => cell.padStart(widths[i]!)).join("  ")
  return [line(header), ...rows.map(line)]
}

export const formatTable = (stages: ReadonlyArray<StageResult>, extra: ReadonlyArray<string> = []): string => {
  const streaming = stages.some((s) => s.stream)
  const open = stages.some((s) => s.loadModel === "open")
  const columns = [
    ...(open ? rateColumns : [levelColumn]),
    ...baseColumns,
    ...(streaming ? ttftColumns : []),
    ...extra.map((name) => extraColumns[name]).filter((c): c is Column => c !== undefined)
  ]
  const mark = (s: StageResult) => (s.interrupted ? "*" : "") + (s.selfHealth !== undefined && !s.selfHealth.ok ? "!" : "")
  const rows = stages.map((s) => columns.map((c, i) => c.value(s) + (i === 0 ? mark(s) : "")))
  const out = alignRight(
    columns.map((c) => c.title),
    rows
  )
  if (stages.some((s) => s.interrupted)) out.push("* stage cut short: counts cover the requests that completed")
  for (const s of stages) {
    if (s.lateStarts > 0) {
      out.push(
        `late: rate ${s.rate}: ${s.lateStarts} requests waited for a free slot (--max-inflight ${s.concurrency} reached); their latency includes the wait`
      )
    }
    if (s.selfHealth !== undefined && !s.selfHealth.ok) {
      const level = s.loadModel === "open" ? `rate ${s.rate}` : `conc ${s.concurrency}`
      out.push(`! ${level}: the load generator was the bottleneck (${s.selfHealth.warnings.join("; ")}); do not read its latency as the router's`)
    }
  }
  return out.join("\n")
}

/** One line per stage that had errors: counts by class and the first message of each class. */
export const formatErrors = (stages: ReadonlyArray<StageResult>): string => {
  const out: Array<string> = []
  for (const s of stages) {
    const classes = Object.entries(s.errorsByClass)
    if (classes.length === 0) continue
    const level = s.loadModel === "open" ? `rate ${s.rate}` : `conc ${s.concurrency}`
    out.push(`errors at ${level}: ${classes.map(([k, v]) => `${k}=${v}`).join(", ")}`)
    for (const [k] of classes) {
      const sample = s.errorSamples[k]
      if (sample) out.push(`  ${k}: ${sample}`)
    }
  }
  return out.join("\n")
}

/** The router's overhead per stage (--compare-direct): through the router minus direct to the mock. */
export const formatOverhead = (rows: ReadonlyArray<{
  readonly level: number
  readonly p50DeltaMs: number
  readonly p99DeltaMs: number
  readonly ttftP50DeltaMs: number
  readonly ttftP99DeltaMs: number
  readonly rpsRatio: number
}>): string => {
  const sign = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(1)
  const header = ["level", "Δp50ms", "Δp99ms", "ΔttftP50", "ΔttftP99", "req/s ratio"]
  const body = rows.map((r) => [String(r.level), sign(r.p50DeltaMs), sign(r.p99DeltaMs), sign(r.ttftP50DeltaMs), sign(r.ttftP99DeltaMs), r.rpsRatio.toFixed(3)])
  return ["router overhead (through the router − direct to the mock):", ...alignRight(header, body)].join("\n")
}

/** Jain's fairness index of the counts: 1 = perfectly even, 1/n = everything on one. */
export const jainIndex = (xs: ReadonlyArray<number>): number => {
  const sum = xs.reduce((a, b) => a + b, 0)
  const squares = xs.reduce((a, b) => a + b * b, 0)
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares)
}

/**
 * How the router spread each stage over the built-in mock backends (`--mock-backend`): requests,
 * share and the most in progress at once per backend, then max/min and Jain's index. "" when no
 * stage carries backends.
 */
export const formatBackends = (stages: ReadonlyArray<StageResult>): string => {
  const withBackends = stages.filter((s) => s.backends !== undefined && s.backends.length > 0)
  if (withBackends.length === 0) return ""
  const urls = [...new Set(withBackends.flatMap((s) => s.backends!.map((b) => b.url)))]
  const label = (url: string) => url.replace(/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])/, "")
  const header = ["level", ...urls.map(label), "max/min", "jain"]
  const body = withBackends.map((s) => {
    const byUrl = new Map(s.backends!.map((b) => [b.url, b]))
    const counts = urls.map((u) => byUrl.get(u)?.requests ?? 0)
    const min = Math.min(...counts)
    return [
      String(s.loadModel === "open" ? (s.rate ?? 0) : s.concurrency),
      ...urls.map((u) => {
        const b = byUrl.get(u)
        return b === undefined ? "-" : `${b.requests} (${(b.share * 100).toFixed(1)}%) peak ${b.peakActive}`
      }),
      min === 0 ? (Math.max(...counts) === 0 ? "-" : "inf") : (Math.max(...counts) / min).toFixed(2),
      jainIndex(counts).toFixed(3)
    ]
  })
  return [
    "requests per mock backend (share; peak = most in progress at once), counted by the mocks over each whole stage:",
    ...alignRight(header, body)
  ].join("\n")
}
