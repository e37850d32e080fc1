import { Data } from "effect"
import type { RunResult, StageResult } from "../domain/Results.ts"
import { type Better, formatValue, levelLabel, levelOf, lookupMetric } from "./Metrics.ts"

/** The metrics `compare` checks, per stage. */
export const COMPARED_METRICS = ["p50", "p99", "ttftP99", "rps", "errRate", "tokps"] as const

export type Verdict = "REGRESSED" | "worse" | "better" | "same" | "missing" | "new"

export interface CompareRow {
  /** Stage position (both runs). */
  readonly index: number
  /** "conc 32" or "rate 50". */
  readonly label: string
  readonly metric: string
  readonly better: Better
  readonly base: number | undefined
  readonly next: number | undefined
  /** (next − base) / base in percent; undefined when base is 0 or a side has no value. */
  readonly changePct: number | undefined
  readonly regressed: boolean
  readonly verdict: Verdict
}

export interface Comparison {
  readonly maxRegressPct: number
  readonly rows: ReadonlyArray<CompareRow>
  readonly regressions: ReadonlyArray<CompareRow>
  readonly regressed: boolean
}

/** The runs do not have the same stages, so there is nothing sensible to compare. */
export class CompareMismatch extends Data.TaggedError("CompareMismatch")<{
  readonly detail: string
}> {
  override get message() {
    return `cannot compare: ${this.detail}; compare runs of the same ramp`
  }
}

/**
 * One metric of one stage. Relative change, direction-aware:
 * - lower is better (latency, errRate): regressed when it grew by more than the bound; from a
 *   base of 0 (e.g. no errors before) any increase is a regression;
 * - higher is better (rps, tokps): regressed when it fell by more than the bound;
 * - a value the base had and the new run lacks (no ok requests, no longer streamed) regressed.
 */
export const compareValue = (
  better: Better,
  base: number | undefined,
  next: number | undefined,
  maxRegressPct: number
): Pick<CompareRow, "changePct" | "regressed" | "verdict"> => {
  if (base === undefined && next === undefined) return { changePct: undefined, regressed: false, verdict: "same" }
  if (next === undefined) return { changePct: undefined, regressed: true, verdict: "missing" }
  if (base === undefined) return { changePct: undefined, regressed: false, verdict: "new" }
  if (base === 0) {
    if (next === 0) return { changePct: 0, regressed: false, verdict: "same" }
    // Infinite relative change: worse for lower-is-better metrics (first errors), better otherwise.
    return better === "lower" ? { changePct: undefined, regressed: true, verdict: "REGRESSED" } : { changePct: undefined, regressed: false, verdict: "better" }
  }
  const changePct = ((next - base) / base) * 100
  const worsePct = better === "lower" ? changePct : -changePct
  if (worsePct > maxRegressPct) return { changePct, regressed: true, verdict: "REGRESSED" }
  return { changePct, regressed: false, verdict: worsePct > 0 ? "worse" : worsePct < 0 ? "better" : "same" }
}

const checkAligned = (base: ReadonlyArray<StageResult>, next: ReadonlyArray<StageResult>): void => {
  if (base.length !== next.length) {
    throw new CompareMismatch({ detail: `the base run has ${base.length} stages, the new run ${next.length}` })
  }
  for (let i = 0; i < base.length; i++) {
    const b = base[i]!
    const n = next[i]!
    if (b.loadModel !== n.loadModel || levelOf(b) !== levelOf(n)) {
      throw new CompareMismatch({ detail: `stage ${i} is ${levelLabel(b)} in the base run but ${levelLabel(n)} in the new run` })
    }
  }
}

/**
 * Compares two runs of the same ramp stage by stage (aligned by index; the levels must match)
 * on p50, p99, ttftP99, rps, errRate and tokps. `regressed` is true when any metric got worse
 * by more than `maxRegressPct` percent (relative; see `compareValue`). A metric neither run has
 * (TTFT of unstreamed runs) is left out. Throws `CompareMismatch` when the stages differ.
 *
 * @example
 * compareRuns(base, next, 10).regressed // true when e.g. p99 grew by more than 10%
 */
export const compareRuns = (base: RunResult, next: RunResult, maxRegressPct: number): Comparison => {
  checkAligned(base.stages, next.stages)
  const rows: Array<CompareRow> = []
  base.stages.forEach((b, index) => {
    const n = next.stages[index]!
    for (const metric of COMPARED_METRICS) {
      const def = lookupMetric(metric)!
      const bv = def.get(b)
      const nv = def.get(n)
      if (bv === undefined && nv === undefined) continue
      rows.push({ index, label: levelLabel(b), metric, better: def.better, base: bv, next: nv, ...compareValue(def.better, bv, nv, maxRegressPct) })
    }
  })
  const regressions = rows.filter((r) => r.regressed)
  return { maxRegressPct, rows, regressions, regressed: regressions.length > 0 }
}

const signed = (x: number | undefined) => (x === undefined ? "-" : `${x > 0 ? "+" : ""}${x.toFixed(1)}%`)

/** "conc 32 p99 +14.2%" */
export const describeRow = (r: CompareRow): string =>
  `${r.label} ${r.metric} ${r.changePct !== undefined ? signed(r.changePct) : r.verdict === "missing" ? "missing" : `${formatValue(r.base)} → ${formatValue(r.next)}`}`

/** The first `n` rows described, then how many more. */
export const listRows = (rows: ReadonlyArray<CompareRow>, n: number): string =>
  rows.slice(0, n).map(describeRow).join(", ") + (rows.length > n ? `, and ${rows.length - n} more` : "")

/** The printed differences: one row per stage and metric, then a verdict line. */
export const formatComparison = (c: Comparison): string => {
  const header = ["level", "metric", "base", "new", "change", "verdict"]
  const cells = c.rows.map((r) => {
    const unit = lookupMetric(r.metric)?.unit
    return [r.label, r.metric, formatValue(r.base, unit), formatValue(r.next, unit), signed(r.changePct), r.verdict]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, i) => (i < 2 || i === 5 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ").trimEnd()
  const out = [line(header), ...cells.map(line)]
  const bound = `${c.maxRegressPct}%`
  out.push(
    c.regressed
      ? `${c.regressions.length} regression${c.regressions.length === 1 ? "" : "s"} beyond ${bound}: ${listRows(c.regressions, 5)}`
      : `no regression beyond ${bound} (${c.rows.length} comparisons)`
  )
  return out.join("\n")
}
