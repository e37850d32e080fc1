import type { ErrorClass } from "../domain/ErrorClass.ts"
import { type Histogram, makeHistogram, recordMs } from "./Histogram.ts"

/** Per-request thresholds for goodput (ms); a request is good when ok and within all of them. */
export interface GoodputSlo {
  readonly latencyMs?: number | undefined
  readonly ttftMs?: number | undefined
  readonly tpotMs?: number | undefined
  readonly ttfbMs?: number | undefined
}

/**
 * The mutable statistics of one stage. Written synchronously from the request path (one JS
 * thread: no races) and read only by the stage itself, which publishes immutable snapshots
 * (load/Snapshot.ts) for everyone else.
 */
export class Recorder {
  constructor(private readonly slo?: GoodputSlo) {}

  readonly latency: Histogram = makeHistogram()
  /** Latency of the ok requests that ended since the last timeline cut (reset each cut). */
  readonly intervalLatency: Histogram = makeHistogram()
  readonly dispatchDelay: Histogram = makeHistogram()
  /** Dispatch delay of requests that had a free slot: the driver's own timer/loop lag. */
  readonly timerLag: Histogram = makeHistogram()
  readonly ttft: Histogram = makeHistogram()
  readonly ttfb: Histogram = makeHistogram()
  readonly itl: Histogram = makeHistogram()
  readonly tpot: Histogram = makeHistogram()

  ok = 0
  errors = 0
  readonly errorsByClass: Record<string, number> = {}
  readonly errorSamples: Record<string, string> = {}
  outputChunks = 0
  reportedTokens = 0
  /** Output tokens: the server's count where reported, else content chunks. */
  outputTokens = 0
  warmupRequests = 0
  warmupOk = 0
  readonly warmupErrorsByClass: Record<string, number> = {}
  inFlight = 0
  peakInFlight = 0
  /** Measured requests sent (open loop: arrivals that got a slot). */
  sent = 0
  /** Open loop: measured arrivals that had to wait for a slot (--max-inflight). */
  lateStarts = 0
  goodRequests = 0
  /** Ok streamed requests whose content chunks differ from the token count the server reported. */
  tokenMismatches = 0

  /** A request is about to be written; `dispatchDelayMs` = actual − scheduled send. */
  onSend(measured: boolean, dispatchDelayMs: number, late: boolean): void {
    if (++this.inFlight > this.peakInFlight && measured) this.peakInFlight = this.inFlight
    if (measured) {
      this.sent++
      const d = dispatchDelayMs < 0 ? 0 : dispatchDelayMs
      recordMs(this.dispatchDelay, d)
      if (!late) recordMs(this.timerLag, d)
    }
  }

  recordOk(latencyMs: number, ttfbMs: number, ttftMs: number, chunks: number, reported: number, gaps: ArrayLike<number>, gapCount: number): void {
    this.ok++
    recordMs(this.latency, latencyMs)
    recordMs(this.intervalLatency, latencyMs)
    if (ttfbMs >= 0) recordMs(this.ttfb, ttfbMs)
    if (ttftMs >= 0) recordMs(this.ttft, ttftMs)
    for (let i = 0; i < gapCount; i++) recordMs(this.itl, gaps[i]!)
    const tpotMs = ttftMs >= 0 && chunks >= 2 ? (latencyMs - ttftMs) / (chunks - 1) : -1
    if (tpotMs >= 0) recordMs(this.tpot, tpotMs)
    const slo = this.slo
    if (
      slo !== undefined &&
      (slo.latencyMs === undefined || latencyMs <= slo.latencyMs) &&
      (slo.ttftMs === undefined || (ttftMs >= 0 && ttftMs <= slo.ttftMs)) &&
      (slo.ttfbMs === undefined || (ttfbMs >= 0 && ttfbMs <= slo.ttfbMs)) &&
      (slo.tpotMs === undefined || tpotMs < 0 || tpotMs <= slo.tpotMs)
    ) {
      this.goodRequests++
    }
    this.outputChunks += chunks
    if (reported >= 0) {
      if (ttftMs >= 0 && chunks !== reported) this.tokenMismatches++
      this.reportedTokens += reported
      this.outputTokens += reported
    } else {
      this.outputTokens += chunks
    }
  }

  recordError(cls: ErrorClass, detail: string): void {
    this.errors++
    this.errorsByClass[cls] = (this.errorsByClass[cls] ?? 0) + 1
    if (this.errorSamples[cls] === undefined) this.errorSamples[cls] = detail
  }

  recordWarmup(ok: boolean, cls: ErrorClass | null): void {
    this.warmupRequests++
    if (ok) this.warmupOk++
    else if (cls !== null) this.warmupErrorsByClass[cls] = (this.warmupErrorsByClass[cls] ?? 0) + 1
  }

  get requests(): number {
    return this.ok + this.errors
  }
}
