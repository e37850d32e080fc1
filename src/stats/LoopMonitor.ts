import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks"

const RESOLUTION_MS = 10

/** Event-loop delay of this process, where the runtime supports it (Deno may not). */
export class LoopMonitor {
  private readonly h: IntervalHistogram | null

  constructor() {
    let h: IntervalHistogram | null = null
    try {
      h = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    } catch {
      h = null
    }
    this.h = h
  }

  start(): void {
    try {
      this.h?.reset()
      this.h?.enable()
    } catch {
      // unsupported: report zeros
    }
  }

  stop(): { p99Ms: number; maxMs: number } {
    const h = this.h
    if (h === null) return { p99Ms: 0, maxMs: 0 }
    try {
      h.disable()
      if (h.count === 0) return { p99Ms: 0, maxMs: 0 }
      // Samples are the time between checks, which includes the sampling interval itself.
      const lag = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS)
      return { p99Ms: lag(h.percentile(99)), maxMs: lag(h.max) }
    } catch {
      return { p99Ms: 0, maxMs: 0 }
    }
  }
}
