import { Data, Either, ParseResult, Schema } from "effect"
import { routerOverhead } from "./Overhead.ts"
import { encodeRunResult, RunResult, SelfHealth, StageResult, Summary } from "../domain/Results.ts"
import { decodeHistogramEither, makeHistogram, summarize } from "../stats/Histogram.ts"
import { findKnee } from "./Knee.ts"
import { levelLabel, levelOf } from "./Metrics.ts"
import { parseExpr } from "./Expr.ts"
import { evaluateSlo, sloForResult } from "./Slo.ts"
import { round2, round3 } from "../stats/Round.ts"

/** Runs that cannot be combined (different ramps, a corrupt histogram); `message` says which. */
export class MergeFailed extends Data.TaggedError("MergeFailed")<{
  readonly detail: string
}> {
  override get message() {
    return `cannot merge: ${this.detail}`
  }
}

const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
/** Sums when every value is present, else undefined (a rate some drivers did not record is unknown). */
const sumAll = (xs: ReadonlyArray<number | undefined>, round: (x: number) => number): number | undefined =>
  xs.every((x): x is number => x !== undefined) ? round(sum(xs)) : undefined

/**
 * Adds the HDR histograms of several summaries and re-summarizes: the exact percentiles of
 * all their samples together. Min and max come from the summaries (a decoded histogram only
 * knows them to its bucket), so the result equals the summary of one histogram that had
 * recorded every sample.
 */
export const mergeSummaries = (summaries: ReadonlyArray<Summary>, what = "histogram"): Summary => {
  const present = summaries.filter((s) => s.count > 0)
  const h = makeHistogram()
  for (const s of present) {
    const decoded = decodeHistogramEither(s.hdr)
    if (Either.isLeft(decoded)) throw new MergeFailed({ detail: `${what}: ${decoded.left.message}` })
    h.add(decoded.right)
  }
  const merged = summarize(h)
  const expected = sum(present.map((s) => s.count))
  if (merged.count !== expected) {
    throw new MergeFailed({ detail: `${what}: the HDR histograms hold ${merged.count} samples but the counts say ${expected}` })
  }
  if (present.length === 0) return merged
  const max = Math.max(...present.map((s) => s.max))
  const min = Math.min(...present.map((s) => s.min))
  const clamp = (x: number) => Math.min(x, max)
  return Summary.make({
    ...merged,
    min,
    max,
    p50: clamp(merged.p50),
    p90: clamp(merged.p90),
    p99: clamp(merged.p99),
    p999: clamp(merged.p999)
  })
}

const mergeSelfHealth = (stages: ReadonlyArray<StageResult>, names: ReadonlyArray<string>): SelfHealth | undefined => {
  const present = stages.flatMap((s, i) => (s.selfHealth === undefined ? [] : [{ h: s.selfHealth, name: names[i]! }]))
  if (present.length === 0) return undefined
  return SelfHealth.make({
    ok: present.every((p) => p.h.ok),
    warnings: present.flatMap((p) => p.h.warnings.map((w) => `${p.name}: ${w}`)),
    loopDelayP99Ms: Math.max(...present.map((p) => p.h.loopDelayP99Ms)),
    loopDelayMaxMs: Math.max(...present.map((p) => p.h.loopDelayMaxMs))
  })
}

/**
 * One stage from the same stage of several drivers that ran in parallel: counts, rates and
 * virtual clients add up; distributions merge exactly; the window is the longest.
 * `names` label each driver in messages and warnings.
 */
export const mergeStages = (stages: ReadonlyArray<StageResult>, names: ReadonlyArray<string>, index: number): StageResult => {
  const first = stages[0]!
  const where = `stage ${index} (${levelLabel(first)})`
  for (let i = 1; i < stages.length; i++) {
    const s = stages[i]!
    const differs =
      s.loadModel !== first.loadModel
        ? `is ${s.loadModel} loop, ${names[0]} ${first.loadModel} loop`
        : levelOf(s) !== levelOf(first)
          ? `is ${levelLabel(s)}, ${names[0]} ${levelLabel(first)}`
          : s.api !== first.api
            ? `uses --api ${s.api}, ${names[0]} --api ${first.api}`
            : s.stream !== first.stream
              ? `is ${s.stream ? "" : "not "}streamed, ${names[0]} ${first.stream ? "is" : "is not"}`
              : undefined
    if (differs !== undefined) {
      throw new MergeFailed({ detail: `stage ${index} of ${names[i]} ${differs}; merge runs of the same ramp` })
    }
  }
  const errorsByClass: Record<string, number> = {}
  const errorSamples: Record<string, string> = {}
  for (const s of stages) {
    for (const [k, v] of Object.entries(s.errorsByClass)) errorsByClass[k] = (errorsByClass[k] ?? 0) + v
    for (const [k, v] of Object.entries(s.errorSamples)) if (errorSamples[k] === undefined) errorSamples[k] = v
  }
  const merge = (name: string, get: (s: StageResult) => Summary) => mergeSummaries(stages.map(get), `${where} ${name}`)
  const dispatch = stages.flatMap((s) => (s.dispatchDelay === undefined ? [] : [s.dispatchDelay]))
  const urls = [...new Set(stages.map((s) => s.url))]
  return StageResult.make({
    index,
    loadModel: first.loadModel,
    concurrency: sum(stages.map((s) => s.concurrency)),
    rate: sumAll(
      stages.map((s) => s.rate),
      round3
    ),
    arrival: first.arrival,
    achievedRate: sumAll(
      stages.map((s) => s.achievedRate),
      round2
    ),
    lateStarts: sum(stages.map((s) => s.lateStarts)),
    // Each driver's own peak: their sum is an upper bound of the combined peak.
    peakInFlight: sum(stages.map((s) => s.peakInFlight)),
    api: first.api,
    stream: first.stream,
    url: urls.join(" "),
    startedAt: stages.map((s) => s.startedAt).sort()[0]!,
    windowSeconds: Math.max(...stages.map((s) => s.windowSeconds)),
    drainSeconds: Math.max(...stages.map((s) => s.drainSeconds)),
    interrupted: stages.some((s) => s.interrupted),
    requests: sum(stages.map((s) => s.requests)),
    ok: sum(stages.map((s) => s.ok)),
    errors: sum(stages.map((s) => s.errors)),
    errorsByClass,
    errorSamples,
    rps: round2(sum(stages.map((s) => s.rps))),
    okRps: round2(sum(stages.map((s) => s.okRps))),
    warmupRequests: sum(stages.map((s) => s.warmupRequests)),
    latency: merge("latency", (s) => s.latency),
    ttft: merge("ttft", (s) => s.ttft),
    ttfb: merge("ttfb", (s) => s.ttfb),
    itl: merge("itl", (s) => s.itl),
    tpot: merge("tpot", (s) => s.tpot),
    outputChunks: sum(stages.map((s) => s.outputChunks)),
    tokenMismatches: sum(stages.map((s) => s.tokenMismatches)),
    reportedTokens: sum(stages.map((s) => s.reportedTokens)),
    outputTokensPerSecond: round2(sum(stages.map((s) => s.outputTokensPerSecond))),
    dispatchDelay: dispatch.length === 0 ? undefined : mergeSummaries(dispatch, `${where} dispatchDelay`),
    goodput: sumAll(
      stages.map((s) => s.goodput),
      round2
    ),
    goodRequests: sumAll(
      stages.map((s) => s.goodRequests),
      (x) => x
    ),
    selfHealth: mergeSelfHealth(stages, names)
  })
}

const alignedStages = (
  runs: ReadonlyArray<ReadonlyArray<StageResult>>,
  names: ReadonlyArray<string>,
  what: string
): ReadonlyArray<StageResult> => {
  const counts = runs.map((r) => r.length)
  if (new Set(counts).size > 1) {
    const list = names.map((n, i) => `${n}: ${counts[i]}`).join(", ")
    throw new MergeFailed({ detail: `the runs have different numbers of ${what} (${list}); merge runs of the same ramp` })
  }
  return runs[0]!.map((_, i) => mergeStages(runs.map((r) => r[i]!), names, i))
}

const firstIssue = (e: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
  return issue === undefined ? e.message : `${issue.path.join(".") || "(root)"}: ${issue.message}`
}

/**
 * Combines runs of the same ramp made by several drivers in parallel (one results file per
 * driver) into one run, as if one driver had sent all their requests:
 * - stages are aligned by index; the runs must have the same stages (count, loop, level, api, stream);
 * - counts, error classes, virtual clients, requested rates and every per-second rate add up;
 * - every distribution is the sum of the HDR histograms, so percentiles are exact;
 * - the window is the longest; a stage or run cut short on any driver is cut short;
 * - settings and environment come from the first run, plus `settings.mergedFrom`
 *   (hostname, startedAt and, when given, the file of each run);
 * - knee, SLO verdict (for the first run's expression) and router overhead are recomputed.
 * The result is re-validated against the results schema.
 *
 * Throws `MergeFailed` when the runs do not line up or a histogram is corrupt.
 *
 * @example
 * const all = mergeRuns([runA, runB], ["a.json", "b.json"])
 */
export const mergeRuns = (runs: ReadonlyArray<RunResult>, sources: ReadonlyArray<string> = []): RunResult => {
  if (runs.length === 0) throw new MergeFailed({ detail: "no results files given" })
  const names = runs.map((r, i) => sources[i] ?? `${r.environment.hostname} (run ${i + 1})`)
  try {
    const first = runs[0]!
    const stages = alignedStages(
      runs.map((r) => r.stages),
      names,
      "stages"
    )
    const allDirect = runs.every((r) => r.directStages !== undefined)
    const directStages = allDirect
      ? alignedStages(
          runs.map((r) => r.directStages!),
          names,
          "direct stages"
        )
      : undefined
    const sloText = first.slo?.expression
    const sloExpr = sloText === undefined ? undefined : parseExpr(sloText)
    const slo = sloExpr !== undefined && Either.isRight(sloExpr) ? sloForResult(evaluateSlo(stages, sloExpr.right)) : undefined
    const errors = runs.flatMap((r, i) => (r.error === undefined ? [] : [`${names[i]}: ${r.error}`]))
    const mergedFrom = runs.map((r, i) => ({
      hostname: r.environment.hostname,
      startedAt: r.environment.startedAt,
      ...(sources[i] !== undefined ? { file: sources[i] } : {})
    }))
    const result = RunResult.make({
      schemaVersion: 1,
      mode: [...new Set(runs.map((r) => r.mode))].join("+"),
      settings: { ...first.settings, mergedFrom },
      environment: first.environment,
      stages,
      knee: stages.length > 1 ? findKnee(stages) : undefined,
      slo,
      overhead: directStages !== undefined && directStages.length === stages.length ? routerOverhead(stages, directStages) : undefined,
      directStages,
      interrupted: runs.some((r) => r.interrupted) || stages.some((s) => s.interrupted),
      error: errors.length === 0 ? undefined : errors.join("; ")
    })
    // Whatever is written must read back.
    const roundTrip = Schema.decodeUnknownEither(RunResult)(encodeRunResult(result))
    if (Either.isLeft(roundTrip)) throw new MergeFailed({ detail: `the merged run is not valid (${firstIssue(roundTrip.left)})` })
    return result
  } catch (e) {
    if (e instanceof MergeFailed) throw e
    if (ParseResult.isParseError(e)) throw new MergeFailed({ detail: `the merged run is not valid (${firstIssue(e)})` })
    throw new MergeFailed({ detail: String((e as Error)?.message ?? e) })
  }
}

/** `mergeRuns` as an Either, for callers that prefer values to exceptions. */
export const mergeRunsEither = (runs: ReadonlyArray<RunResult>, sources: ReadonlyArray<string> = []): Either.Either<RunResult, MergeFailed> => {
  try {
    return Either.right(mergeRuns(runs, sources))
  } catch (e) {
    return Either.left(e as MergeFailed)
  }
}
