import { Effect, SubscriptionRef } from "effect"
import type { Recorder } from "../stats/Recorder.ts"
import { round3 } from "../stats/Round.ts"
import { TimelineRecorder } from "../stats/TimelineRecorder.ts"
import type { StageSnapshot } from "./Snapshot.ts"
import type { StageRun } from "./StageRun.ts"

/** The fixed facts of a stage that every snapshot repeats. */
export interface StageIdentity {
  readonly index: number
  readonly concurrency: number
  readonly rate: number | undefined
  readonly requestsTarget: number | undefined
  readonly durationSeconds: number
}

/** Requests completed so far in the stage, warmup included (so the rate shows during warmup too). */
const completedOf = (rec: Recorder): number => rec.ok + rec.errors + rec.warmupRequests

/**
 * Turns a stage's mutable state into immutable snapshots in a SubscriptionRef, and cuts its
 * timeline: the stage calls `publish` once a second and at each phase change.
 */
export class Publisher {
  readonly timeline: TimelineRecorder
  private markAt: number
  private markCompleted = 0
  private completedPerSecond: number | undefined

  private constructor(
    readonly snapshots: SubscriptionRef.SubscriptionRef<StageSnapshot>,
    private readonly id: StageIdentity,
    private readonly rec: Recorder,
    private readonly run: StageRun
  ) {
    this.timeline = new TimelineRecorder(rec)
    this.markAt = performance.now()
  }

  static make(id: StageIdentity, rec: Recorder, run: StageRun): Effect.Effect<Publisher> {
    return Effect.suspend(() => {
      const empty: StageSnapshot = {
        index: id.index,
        concurrency: id.concurrency,
        rate: id.rate,
        phase: run.phase,
        elapsedSeconds: 0,
        remainingSeconds: id.requestsTarget === undefined ? id.durationSeconds : undefined,
        inFlight: 0,
        ok: 0,
        errors: 0,
        warmupRequests: 0,
        requestsTarget: id.requestsTarget,
        completedPerSecond: undefined,
        latencyP99Ms: undefined,
        timeline: []
      }
      return Effect.map(SubscriptionRef.make(empty), (ref) => new Publisher(ref, id, rec, run))
    })
  }

  /** Cuts the timeline (in the window or its drain) and publishes a snapshot of now. */
  readonly publish: Effect.Effect<void> = Effect.suspend(() => {
    const now = performance.now()
    const phase = this.run.phase
    if (phase === "measure" || phase === "drain") this.timeline.cut(now, phase)
    return SubscriptionRef.set(this.snapshots, this.snapshotAt(now))
  })

  private snapshotAt(now: number): StageSnapshot {
    const { id, rec, run } = this
    const completed = completedOf(rec)
    // A rate over less than most of a second (a phase change) would be noise: keep the last one.
    if (now - this.markAt >= 900) {
      this.completedPerSecond = ((completed - this.markCompleted) * 1000) / (now - this.markAt)
      this.markAt = now
      this.markCompleted = completed
    }
    const elapsed =
      run.windowStart === 0 ? 0 : ((run.phase === "measure" ? now : run.windowEnd || now) - run.windowStart) / 1000
    const latency = rec.latency
    return {
      index: id.index,
      concurrency: id.concurrency,
      rate: id.rate,
      phase: run.phase,
      elapsedSeconds: round3(elapsed),
      remainingSeconds: id.requestsTarget === undefined ? round3(Math.max(0, id.durationSeconds - elapsed)) : undefined,
      inFlight: rec.inFlight,
      ok: rec.ok,
      errors: rec.errors,
      warmupRequests: rec.warmupRequests,
      requestsTarget: id.requestsTarget,
      completedPerSecond: this.completedPerSecond,
      latencyP99Ms:
        latency.totalCount > 0 ? round3(Math.min(latency.getValueAtPercentile(99), latency.maxValue) / 1000) : undefined,
      timeline: this.timeline.points()
    }
  }
}
