import { Effect, FiberSet } from "effect"
import { constantArrivals, poissonArrivals } from "./Arrivals.ts"
import type { Recorder } from "../stats/Recorder.ts"
import type { LoadOptions } from "./LoadOptions.ts"
import type { StageRun } from "./StageRun.ts"
import type { VirtualClient } from "./VirtualClient.ts"

/**
 * Open loop: arrivals on a schedule. Before it emits an arrival the generator takes a permit of
 * a Semaphore sized to --max-inflight; the request's fiber gives it back when the request ends.
 * An arrival that had to wait for a permit (or was due while an earlier one waited) is a late
 * start; its latency still runs from its scheduled time (no coordinated omission). The backlog
 * is only the schedule's next time falling behind the clock: O(1) memory at any rate.
 *
 * Window edges: arrivals scheduled during warmup and still unsent when the window opens are
 * skipped (unmeasured anyway); arrivals scheduled inside a timed window are still sent after it
 * closes, for at most --timeout, then the rest are dropped (achievedRate shows the shortfall).
 * Succeeds when the generator has stopped and every request it started has ended.
 */
export const openDriver = (
  options: LoadOptions,
  run: StageRun,
  recorder: Recorder,
  newClient: () => VirtualClient,
  fibers: FiberSet.FiberSet
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const arrivals = options.arrival === "poisson" ? poissonArrivals(options.rate!, options.seed) : constantArrivals(options.rate!)
    const maxInFlight = options.maxInFlight
    const permits = yield* Effect.makeSemaphore(maxInFlight)
    const releasePermit = permits.release(1)
    const free: Array<VirtualClient> = []
    let busy = 0
    /** Arrivals scheduled before this time were held up by a permit wait: late starts. */
    let lateUntil = 0
    let next = performance.now()
    let skippedWarmup = false

    const timeoutMs = options.timeoutSeconds * 1000
    /** Whether the arrival at `next` is still to be sent. */
    const wanted = (now: number): boolean =>
      run.phase === "warmup" ||
      ((run.phase === "measure" || run.phase === "drain") &&
        next < run.plannedEnd &&
        run.remainingRequests > 0 &&
        now < run.plannedEnd + timeoutMs)

    const send = (tSched: number, late: boolean) => {
      const measured = run.isMeasured(tSched)
      if (measured) run.started++
      if (late && measured) recorder.lateStarts++
      const client = free.pop() ?? newClient()
      busy++
      return FiberSet.run(
        fibers,
        Effect.zipRight(
          client.request(tSched, measured, late),
          Effect.suspend(() => {
            busy--
            free.push(client)
            return releasePermit
          })
        )
      )
    }

    for (;;) {
      const now = performance.now()
      if (!skippedWarmup && run.windowStart > 0) {
        skippedWarmup = true
        if (next < run.windowStart) next = run.windowStart
      }
      if (!wanted(now)) break
      if (next > now) {
        // The schedule never runs past the window, so this sleep ends inside it.
        yield* Effect.sleep(next - now)
        continue
      }
      const mustWait = busy >= maxInFlight
      yield* permits.take(1)
      if (mustWait) lateUntil = performance.now()
      // The state may have moved on while this arrival waited for its permit.
      if (!wanted(performance.now())) {
        yield* releasePermit
        break
      }
      yield* send(next, next < lateUntil)
      next += arrivals.nextGapMs()
    }
    yield* FiberSet.awaitEmpty(fibers)
  })
