import type { StageResult } from "../domain/Results.ts"
import { levelLabel, levelOf } from "./Metrics.ts"

/** The knee of a ramp, shaped as `RunResult.knee`. */
export interface Knee {
  /** Position in the given `stages` array, or null when no level qualifies. */
  readonly index: number | null
  readonly level: number | null
  /** One sentence saying why. */
  readonly reason: string
}

/** The thresholds of the knee rule (see `findKnee`). */
export const KNEE_RULE = {
  /** Ok req/s must grow by at least this fraction per step (capped by `gainShare` of the level step). */
  minGain: 0.1,
  /** Share of the level's own relative step that ok req/s must at least gain, when that is below `minGain`. */
  gainShare: 0.5,
  /** p99 latency must grow by less than this factor per step. */
  maxP99Growth: 1.5,
  /** A stage with a higher error rate (percent) cannot be the knee. */
  maxErrRatePct: 1
} as const

const errRatePct = (s: StageResult) => (s.requests === 0 ? 0 : (s.errors / s.requests) * 100)
const signedPct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`

/** Why a stage cannot be the knee, or undefined when it can. */
const unusable = (s: StageResult): string | undefined =>
  s.ok === 0
    ? "had no ok requests"
    : errRatePct(s) > KNEE_RULE.maxErrRatePct
      ? `had ${errRatePct(s).toFixed(1)}% errors (> ${KNEE_RULE.maxErrRatePct}%)`
      : s.interrupted
        ? "was cut short"
        : undefined

/** The required ok req/s gain for a step from level `from` to level `to`. */
export const requiredGain = (from: number, to: number): number =>
  Math.min(KNEE_RULE.minGain, KNEE_RULE.gainShare * (to / from - 1))

/** Why the step from `prev` to `cur` is unhealthy, or undefined when it is healthy. */
const unhealthy = (prev: StageResult, cur: StageResult): string | undefined => {
  const bad = unusable(cur)
  if (bad !== undefined) return bad
  const problems: Array<string> = []
  const need = requiredGain(levelOf(prev), levelOf(cur))
  const gain = prev.okRps > 0 ? cur.okRps / prev.okRps - 1 : Infinity
  // A tiny tolerance so a step of exactly +10% (in rounded req/s) counts as +10%.
  if (gain < need - 1e-9) problems.push(`gained ${signedPct(gain)} ok req/s (needs >= ${signedPct(need)})`)
  const growth = cur.latency.p99 / prev.latency.p99
  if (!(growth < KNEE_RULE.maxP99Growth)) {
    problems.push(`p99 grew ×${growth.toFixed(2)} (needs < ×${KNEE_RULE.maxP99Growth})`)
  }
  return problems.length === 0 ? undefined : problems.join(" and ")
}

/**
 * The knee of a ramp: the highest load level up to which the system still scaled.
 *
 * Definition. Sort the stages by level (virtual clients, or arrival rate for open-loop
 * stages) and walk up from the lowest. A step from level L(i−1) to L(i) is *healthy* when
 * - stage i is usable: it has ok requests, an error rate <= 1% and was not cut short;
 * - ok req/s grew enough: okRps(i) >= (1 + g) × okRps(i−1), with
 *   g = min(10%, ½ × (L(i)/L(i−1) − 1)), i.e. 10% for ramps that step by 20% or more
 *   (8,16,32: doubling) and half the level's own growth for finer ramps, which cannot gain
 *   10% per step even when scaling perfectly;
 * - p99 latency grew by less than half: p99(i) < 1.5 × p99(i−1).
 *
 * The knee is the last level reached by healthy steps only: the walk stops at the first
 * unhealthy step, so a later recovery (noise, caches warming) does not move it. If the first
 * step is already unhealthy the knee is the lowest level. There is no knee (index null) for
 * fewer than two stages, for a mix of closed- and open-loop stages, or when the lowest level
 * itself is unusable. When every step is healthy the knee is the highest level tested and the
 * reason says the real knee may lie beyond the ramp. Ok req/s (not all req/s) is compared so a
 * router that fails fast cannot look like it scales.
 *
 * @example
 * findKnee(run.stages) // { index: 2, level: 32, reason: "conc 32 is the knee: the next level, conc 64, gained +3.0% ok req/s (needs >= +10.0%)" }
 */
export const findKnee = (stages: ReadonlyArray<StageResult>): Knee => {
  if (stages.length === 0) return { index: null, level: null, reason: "no stages were measured" }
  if (stages.length === 1) {
    return { index: null, level: null, reason: "a single level has no knee; run a ramp (--ramp or --ramp-rate)" }
  }
  if (new Set(stages.map((s) => s.loadModel)).size > 1) {
    return { index: null, level: null, reason: "the run mixes closed- and open-loop stages, whose levels are not comparable" }
  }
  const order = stages.map((s, position) => ({ s, position })).sort((a, b) => levelOf(a.s) - levelOf(b.s))
  const first = order[0]!
  const firstBad = unusable(first.s)
  if (firstBad !== undefined) {
    return { index: null, level: null, reason: `no knee: the lowest level, ${levelLabel(first.s)}, ${firstBad}` }
  }
  for (let i = 1; i < order.length; i++) {
    const prev = order[i - 1]!
    const cur = order[i]!
    const why = unhealthy(prev.s, cur.s)
    if (why !== undefined) {
      const lowest = i === 1 ? " (the lowest level)" : ""
      return {
        index: prev.position,
        level: levelOf(prev.s),
        reason: `${levelLabel(prev.s)}${lowest} is the knee: the next level, ${levelLabel(cur.s)}, ${why}`
      }
    }
  }
  const last = order[order.length - 1]!
  return {
    index: last.position,
    level: levelOf(last.s),
    reason: `${levelLabel(last.s)} is the highest level tested and every step up to it scaled; the knee may lie beyond the ramp`
  }
}
