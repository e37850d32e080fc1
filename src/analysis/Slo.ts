import type { RunResult, StageResult } from "../domain/Results.ts"
import type { GoodputSlo } from "../stats/Recorder.ts"
import { type CheckResult, evaluateExpr, type Expr } from "./Expr.ts"
import { formatValue, levelLabel, levelOf, lookupMetric } from "./Metrics.ts"

/** The SLO verdict of one stage. */
export interface StageSlo {
  /** Position in the given `stages` array. */
  readonly index: number
  readonly level: number
  /** "conc 32" or "rate 50". */
  readonly label: string
  /** True when every check passed. */
  readonly met: boolean
  readonly checks: ReadonlyArray<CheckResult>
  /** The failed terms with the measured value, e.g. `p99<2000 (2411.2)`. */
  readonly failed: ReadonlyArray<string>
  /** Recorded per request by the driver (with --slo); undefined when the run did not record them. */
  readonly goodRequests: number | undefined
  readonly goodput: number | undefined
  /** goodRequests / requests (errors in the denominator), 0–1; undefined when not recorded. */
  readonly goodFraction: number | undefined
}

export interface SloEvaluation {
  readonly expression: string
  /** Position of the highest level that met every check, or null. */
  readonly bestIndex: number | null
  readonly bestLevel: number | null
  readonly perStage: ReadonlyArray<StageSlo>
  /** One sentence: the best level, or that none met the SLO. */
  readonly reason: string
}

const failedTerm = (c: CheckResult) => `${c.term} (${formatValue(c.value, lookupMetric(c.metric)?.unit)})`

/**
 * The stage-level SLO verdict: a stage meets the SLO when every check of `expr` passes on its
 * percentiles and counts (a metric the stage has no data for fails). The best level is the
 * highest level that meets it, whatever the levels below did; the reason notes a lower level
 * that failed, since that means the results are noisy.
 *
 * Goodput (ok requests per second that met every threshold *individually*) needs per-request
 * checks, which only the driver can make while it runs (see `goodputSloOf`); this function
 * reports the recorded `goodput`/`goodRequests` per stage and never estimates them.
 *
 * @example
 * evaluateSlo(run.stages, parseExprSync("p99<2000,ttftP99<500")).bestLevel // e.g. 32
 */
export const evaluateSlo = (stages: ReadonlyArray<StageResult>, expr: Expr): SloEvaluation => {
  const perStage: Array<StageSlo> = stages.map((s, index) => {
    const checks = evaluateExpr(s, expr)
    const failed = checks.filter((c) => !c.pass).map(failedTerm)
    return {
      index,
      level: levelOf(s),
      label: levelLabel(s),
      met: failed.length === 0,
      checks,
      failed,
      goodRequests: s.goodRequests,
      goodput: s.goodput,
      goodFraction: s.goodRequests === undefined || s.requests === 0 ? undefined : s.goodRequests / s.requests
    }
  })
  let best: StageSlo | undefined
  for (const p of perStage) if (p.met && (best === undefined || p.level > best.level)) best = p
  if (best === undefined) {
    return {
      expression: expr.text,
      bestIndex: null,
      bestLevel: null,
      perStage,
      reason: stages.length === 0 ? "no stages were measured" : `no level met ${expr.text}`
    }
  }
  const failedBelow = perStage.filter((p) => !p.met && p.level < best.level)
  const note =
    failedBelow.length > 0 ? ` (but ${failedBelow.map((p) => p.label).join(", ")} below it did not: the results are noisy)` : ""
  return {
    expression: expr.text,
    bestIndex: best.index,
    bestLevel: best.level,
    perStage,
    reason: `${best.label} is the highest level that met ${expr.text}${note}`
  }
}

/** The `slo` field of a RunResult. */
export const sloForResult = (e: SloEvaluation): NonNullable<RunResult["slo"]> => ({
  expression: e.expression,
  bestIndex: e.bestIndex,
  bestLevel: e.bestLevel,
  perStage: e.perStage.map((p) => ({ index: p.index, met: p.met, failed: [...p.failed] }))
})

const families: ReadonlyArray<[RegExp, keyof GoodputSlo]> = [
  [/^(p50|p90|p99|p999|max)$/, "latencyMs"],
  [/^ttft/, "ttftMs"],
  [/^ttfb/, "ttfbMs"],
  [/^tpot/, "tpotMs"]
]

/**
 * The per-request thresholds implied by an SLO, for the driver's goodput count: every
 * latency-percentile term with `<` or `<=` becomes a per-request bound on that quantity
 * (`p99<2000` → latency <= 2000 ms, `ttftP99<500` → TTFT <= 500 ms; the tightest bound wins).
 * Means, inter-chunk latency and rates have no per-request meaning and are ignored.
 * Undefined when no term applies.
 */
export const goodputSloOf = (expr: Expr): GoodputSlo | undefined => {
  const out: { -readonly [K in keyof GoodputSlo]: number } = {}
  for (const c of expr.checks) {
    if ((c.op !== "<" && c.op !== "<=") || c.bound <= 0) continue
    const family = families.find(([re]) => re.test(c.metric))
    if (family === undefined) continue
    const key = family[1]
    out[key] = Math.min(out[key] ?? Infinity, c.bound)
  }
  return Object.keys(out).length === 0 ? undefined : out
}
