import { TimelinePoint } from "../domain/Timeline.ts"
import type { Recorder } from "./Recorder.ts"
import { round2, round3 } from "./Round.ts"

interface Marks {
  readonly at: number
  readonly sent: number
  readonly ok: number
  readonly errors: number
  readonly tokens: number
  readonly byClass: Readonly<Record<string, number>>
}

const marksOf = (rec: Recorder, at: number): Marks => ({
  at,
  sent: rec.sent,
  ok: rec.ok,
  errors: rec.errors,
  tokens: rec.outputTokens,
  byClass: { ...rec.errorsByClass }
})

const ms = (us: number, max: number): number => round3(Math.min(us, max) / 1000)

/**
 * Cuts a stage's cumulative counters into timeline points. Only the interval latency histogram
 * is extra work on the hot path; everything else is a difference of the recorder's totals, so
 * the points sum exactly to them.
 */
export class TimelineRecorder {
  private last: Marks | undefined
  private origin = 0
  private readonly out: Array<TimelinePoint> = []

  constructor(private readonly rec: Recorder) {}

  /** The measured window opened at `now` (performance.now() ms). */
  start(now: number): void {
    this.origin = now
    this.last = marksOf(this.rec, now)
    this.rec.intervalLatency.reset()
  }

  get started(): boolean {
    return this.last !== undefined
  }

  /** Closes the interval since the previous cut (nothing before start, or for an empty instant). */
  cut(now: number, phase: "measure" | "drain"): void {
    const last = this.last
    if (last === undefined) return
    const rec = this.rec
    const next = marksOf(rec, now)
    const seconds = (now - last.at) / 1000
    const ok = next.ok - last.ok
    const errors = next.errors - last.errors
    const sent = next.sent - last.sent
    // A sliver between two phase changes with nothing in it is noise, not a second of the stage.
    if (seconds < 0.1 && ok === 0 && errors === 0 && sent === 0) return
    const errorsByClass: Record<string, number> = {}
    for (const [k, v] of Object.entries(next.byClass)) {
      const d = v - (last.byClass[k] ?? 0)
      if (d > 0) errorsByClass[k] = d
    }
    const per = (n: number) => (seconds > 0 ? round2(n / seconds) : 0)
    const h = rec.intervalLatency
    const latency =
      h.totalCount > 0 ? { p50: ms(h.getValueAtPercentile(50), h.maxValue), p99: ms(h.getValueAtPercentile(99), h.maxValue) } : {}
    this.out.push(
      TimelinePoint.make({
        t: round3((now - this.origin) / 1000),
        seconds: round3(seconds),
        phase,
        sent,
        ok,
        errors,
        errorsByClass,
        inFlight: rec.inFlight,
        rps: per(ok + errors),
        tokensPerSecond: per(next.tokens - last.tokens),
        ...latency
      })
    )
    h.reset()
    this.last = next
  }

  /** The points so far (a copy). */
  points(): ReadonlyArray<TimelinePoint> {
    return this.out.slice()
  }
}
