import { SelfHealth, StageResult } from "../domain/Results.ts"
import type { TimelinePoint } from "../domain/Timeline.ts"
import { summarize } from "../stats/Histogram.ts"
import type { Recorder } from "../stats/Recorder.ts"
import { round2, round3 } from "../stats/Round.ts"
import type { LoadOptions } from "./LoadOptions.ts"

/** Thresholds past which the driver, not the target, is the bottleneck (README "Self-health"). */
export const SELF_HEALTH = {
  loopDelayP99Ms: 25,
  dispatchDelayP99Ms: 10,
  achievedRateRatio: 0.95
} as const

/** Everything a stage's result is computed from, read when the stage ends. */
export interface StageFacts {
  readonly index: number
  readonly options: LoadOptions
  /** Virtual clients, or the in-flight cap (open loop). */
  readonly concurrency: number
  readonly recorder: Recorder
  readonly interrupted: boolean
  /** performance.now() ms when the stage ended. */
  readonly endedAt: number
  readonly windowStart: number
  readonly windowStartWall: Date
  readonly windowEnd: number
  readonly lastMeasuredEnd: number
  readonly loopDelay: { readonly p99Ms: number; readonly maxMs: number }
  readonly timeline: ReadonlyArray<TimelinePoint>
}

/**
 * The StageResult of a stage, from its facts alone (no clock, no I/O). The window is the timed
 * one, or first send to last completion for --requests and for an interrupted stage; rates are
 * per second of window.
 */
export const stageResultOf = (f: StageFacts): StageResult => {
  const { options, recorder } = f
  const open = options.rate !== undefined
  const windowMs =
    options.requests !== undefined || f.interrupted
      ? Math.max((f.lastMeasuredEnd || f.endedAt) - f.windowStart, 0)
      : options.durationSeconds * 1000
  const windowSeconds = f.windowStart === 0 ? 0 : windowMs / 1000
  const drainSeconds = f.windowEnd > 0 ? Math.max(0, (f.lastMeasuredEnd - f.windowEnd) / 1000) : 0
  const rate = (n: number) => (windowSeconds > 0 ? n / windowSeconds : 0)
  const dispatchDelay = summarize(recorder.dispatchDelay)
  const timerLag = summarize(recorder.timerLag)
  const achievedRate = open ? round2(rate(recorder.sent)) : undefined
  const warnings: Array<string> = []
  if (f.loopDelay.p99Ms > SELF_HEALTH.loopDelayP99Ms) {
    warnings.push(`driver event-loop delay p99 ${f.loopDelay.p99Ms.toFixed(1)} ms > ${SELF_HEALTH.loopDelayP99Ms} ms`)
  }
  // Waiting for a slot at --max-inflight is the target's slowness (counted as late starts);
  // only the lag of requests that had a slot is the driver's own.
  if (open && timerLag.p99 > SELF_HEALTH.dispatchDelayP99Ms) {
    warnings.push(`dispatch delay p99 ${timerLag.p99.toFixed(1)} ms > ${SELF_HEALTH.dispatchDelayP99Ms} ms`)
  }
  // Poisson counts vary by chance (sd = sqrt(expected)): flag only a shortfall beyond 3 sd.
  const expected = open ? options.rate! * windowSeconds : 0
  const shortfall = expected - recorder.sent
  const chance = options.arrival === "poisson" ? 3 * Math.sqrt(expected) : 0
  if (
    open &&
    options.requests === undefined &&
    !f.interrupted &&
    recorder.lateStarts === 0 &&
    recorder.sent < expected * SELF_HEALTH.achievedRateRatio &&
    shortfall > chance
  ) {
    warnings.push(`achieved ${achievedRate} req/s of ${options.rate} requested`)
  }
  return StageResult.make({
    index: f.index,
    loadModel: open ? "open" : "closed",
    concurrency: f.concurrency,
    rate: options.rate,
    arrival: open ? options.arrival : undefined,
    achievedRate,
    lateStarts: recorder.lateStarts,
    peakInFlight: recorder.peakInFlight,
    api: options.api,
    stream: options.stream,
    url: options.url,
    startedAt: f.windowStartWall.toISOString(),
    windowSeconds: round3(windowSeconds),
    drainSeconds: round3(drainSeconds),
    interrupted: f.interrupted,
    requests: recorder.requests,
    ok: recorder.ok,
    errors: recorder.errors,
    errorsByClass: { ...recorder.errorsByClass },
    errorSamples: { ...recorder.errorSamples },
    rps: round2(rate(recorder.requests)),
    okRps: round2(rate(recorder.ok)),
    warmupRequests: recorder.warmupRequests,
    latency: summarize(recorder.latency),
    ttft: summarize(recorder.ttft),
    ttfb: summarize(recorder.ttfb),
    itl: summarize(recorder.itl),
    tpot: summarize(recorder.tpot),
    outputChunks: recorder.outputChunks,
    reportedTokens: recorder.reportedTokens,
    outputTokensPerSecond: round2(rate(recorder.outputTokens)),
    tokenMismatches: recorder.tokenMismatches,
    dispatchDelay,
    goodput: options.goodputSlo !== undefined ? round2(rate(recorder.goodRequests)) : undefined,
    goodRequests: options.goodputSlo !== undefined ? recorder.goodRequests : undefined,
    selfHealth: SelfHealth.make({
      ok: warnings.length === 0,
      warnings,
      loopDelayP99Ms: round3(f.loopDelay.p99Ms),
      loopDelayMaxMs: round3(f.loopDelay.maxMs)
    }),
    timeline: f.timeline
  })
}
