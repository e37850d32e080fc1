/** Medians, ratios and target checks over interleaved repetitions. */

export const median = (xs: ReadonlyArray<number>): number => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return Number.NaN
  const m = v.length >> 1
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2
}

export const round = (x: number, digits = 2): number => {
  if (!Number.isFinite(x)) return x
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Median of every numeric field across runs of one contender (fields missing in a run are skipped). */
export const medianOf = <R extends Record<string, unknown>>(runs: ReadonlyArray<R>, fields: ReadonlyArray<keyof R & string>) => {
  const out: Record<string, number> = {}
  for (const f of fields) {
    const vals = runs.map((r): unknown => r[f]).filter((x): x is number => typeof x === "number")
    if (vals.length > 0) out[f] = round(median(vals), 3)
  }
  return out
}

export interface Ratio {
  readonly name: string
  readonly metric: string
  /** median(numerator) / median(denominator). */
  readonly ratioOfMedians: number
  /** The per-repetition ratios (run i of each, run back to back) and their median: robust to drift. */
  readonly pairedRatios: ReadonlyArray<number>
  readonly medianPairedRatio: number
}

export const ratio = (name: string, metric: string, num: ReadonlyArray<number>, den: ReadonlyArray<number>): Ratio => {
  const paired: Array<number> = []
  for (let i = 0; i < Math.min(num.length, den.length); i++) paired.push(round(num[i]! / den[i]!, 3))
  return {
    name,
    metric,
    ratioOfMedians: round(median(num) / median(den), 3),
    pairedRatios: paired,
    medianPairedRatio: round(median(paired), 3)
  }
}

export interface Target {
  readonly id: string
  readonly description: string
  readonly value: number
  readonly op: ">=" | "<=" | "within"
  readonly target: number | readonly [number, number]
  readonly pass: boolean
  readonly note?: string
}

export const atLeast = (id: string, description: string, value: number, target: number, note?: string): Target => ({
  id,
  description,
  value: round(value, 3),
  op: ">=",
  target,
  pass: Number.isFinite(value) && value >= target,
  ...(note !== undefined ? { note } : {})
})

export const atMost = (id: string, description: string, value: number, target: number, note?: string): Target => ({
  id,
  description,
  value: round(value, 3),
  op: "<=",
  target,
  pass: Number.isFinite(value) && value <= target,
  ...(note !== undefined ? { note } : {})
})

export const within = (id: string, description: string, value: number, lo: number, hi: number, note?: string): Target => ({
  id,
  description,
  value: round(value, 3),
  op: "within",
  target: [lo, hi],
  pass: Number.isFinite(value) && value >= lo && value <= hi,
  ...(note !== undefined ? { note } : {})
})
