import type { TimelinePoint } from "../domain/Timeline.ts"

export type StagePhase = "warmup" | "measure" | "drain" | "done"

/**
 * What a stage publishes while it runs: an immutable value, put into the stage's
 * `SubscriptionRef` once a second and at each phase change. Reporters and library users read
 * these, never the stage's mutable recorder.
 */
export interface StageSnapshot {
  readonly index: number
  /** Virtual clients (closed loop), or the in-flight cap (open loop). */
  readonly concurrency: number
  readonly rate: number | undefined
  readonly phase: StagePhase
  /** Seconds since the measured window opened (0 during warmup). */
  readonly elapsedSeconds: number
  /** Seconds left in a timed window; undefined for --requests. */
  readonly remainingSeconds: number | undefined
  readonly inFlight: number
  /** Measured requests so far. */
  readonly ok: number
  readonly errors: number
  /** Warmup requests so far (unmeasured). */
  readonly warmupRequests: number
  /** Target for --requests, else undefined. */
  readonly requestsTarget: number | undefined
  /** Requests completed per second (warmup included) over about the last second; undefined until known. */
  readonly completedPerSecond: number | undefined
  /** Latency p99 (ms) of the ok measured requests so far; undefined before the first. */
  readonly latencyP99Ms: number | undefined
  /** The stage second by second so far. */
  readonly timeline: ReadonlyArray<TimelinePoint>
}

/** @deprecated the old name of {@link StageSnapshot}. */
export type LiveStage = StageSnapshot
