import type { StageResult } from "../results/Results.ts"

interface Column {
  readonly title: string
  readonly value: (s: StageResult) => string
}

const ms = (x: number, count: number) => (count === 0 ? "-" : x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0))

const baseColumns: ReadonlyArray<Column> = [
  { title: "conc", value: (s) => String(s.concurrency) },
  { title: "req", value: (s) => String(s.requests) },
  { title: "ok", value: (s) => String(s.ok) },
  { title: "err", value: (s) => String(s.errors) },
  { title: "req/s", value: (s) => s.rps.toFixed(1) },
  { title: "p50ms", value: (s) => ms(s.latency.p50, s.latency.count) },
  { title: "p90ms", value: (s) => ms(s.latency.p90, s.latency.count) },
  { title: "p99ms", value: (s) => ms(s.latency.p99, s.latency.count) },
  { title: "maxms", value: (s) => ms(s.latency.max, s.latency.count) }
]

const ttftColumns: ReadonlyArray<Column> = [
  { title: "ttftP50", value: (s) => ms(s.ttft.p50, s.ttft.count) },
  { title: "ttftP99", value: (s) => ms(s.ttft.p99, s.ttft.count) }
]

/** The results table: one row per stage, right-aligned; TTFT columns only for streaming runs. */
export const formatTable = (stages: ReadonlyArray<StageResult>): string => {
  const streaming = stages.some((s) => s.stream)
  const columns = streaming ? [...baseColumns, ...ttftColumns] : baseColumns
  const rows = stages.map((s) => columns.map((c) => c.value(s) + (c.title === "conc" && s.interrupted ? "*" : "")))
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => cell.padStart(widths[i]!)).join("  ")
  const out = [line(columns.map((c) => c.title)), ...rows.map(line)]
  if (stages.some((s) => s.interrupted)) out.push("* stage cut short: counts cover the requests that completed")
  return out.join("\n")
}

/** One line per stage that had errors: counts by class and the first message of each class. */
export const formatErrors = (stages: ReadonlyArray<StageResult>): string => {
  const out: Array<string> = []
  for (const s of stages) {
    const classes = Object.entries(s.errorsByClass)
    if (classes.length === 0) continue
    out.push(`errors at conc ${s.concurrency}: ${classes.map(([k, v]) => `${k}=${v}`).join(", ")}`)
    for (const [k] of classes) {
      const sample = s.errorSamples[k]
      if (sample) out.push(`  ${k}: ${sample}`)
    }
  }
  return out.join("\n")
}
