import { Duration, Effect, Exit, Fiber, FiberSet, Schedule } from "effect"
import { type InvalidOptions, TargetUnreachable } from "../Errors.ts"
import type { StageResult } from "../domain/Results.ts"
import { LoopMonitor } from "../stats/LoopMonitor.ts"
import { Recorder } from "../stats/Recorder.ts"
import { closedDriver } from "./ClosedDriver.ts"
import { hookEffect, type StageHooks } from "./Hooks.ts"
import { LoadOptions, type RampOptions } from "./LoadOptions.ts"
import { openDriver } from "./OpenDriver.ts"
import { checkOpenFiles } from "./OpenFiles.ts"
import { Publisher } from "./Publisher.ts"
import { makeRequestSpec } from "./RequestSpec.ts"
import { stageResultOf } from "./StageResultOf.ts"
import { StageRun } from "./StageRun.ts"
import { type ClientContext, connectionOptions, VirtualClient } from "./VirtualClient.ts"

export { combineHooks, type HookResult, type StageHooks, type StageStartInfo } from "./Hooks.ts"
export type { LiveStage, StagePhase, StageSnapshot } from "./Snapshot.ts"
export { SELF_HEALTH } from "./StageResultOf.ts"

/**
 * Runs one stage: warmup (unmeasured), then the measured window. Closed loop: `concurrency`
 * virtual clients, one fiber each, started staggered over the first half of the warmup, each
 * sending back to back. Open loop (`rate` set): arrivals on schedule under a Semaphore of
 * `maxInFlight` permits (see OpenDriver). Every client owns one connection (an undici Client).
 *
 * Counted: exactly the requests whose (scheduled) start falls inside the window; those still
 * in flight when a timed window closes are waited for (each bounded by --timeout) and
 * counted; req/s = counted / window seconds. With `requests`, exactly that many measured
 * requests and the window runs from the first send to the last completion. Per-request
 * failures are counted by class in the result, never failed Effects.
 *
 * While it runs the stage publishes snapshots (once a second and at each phase change) into
 * the SubscriptionRef handed to `onStageStart`; the result carries the per-second timeline.
 * Interrupting the stage interrupts every client, stagger sleep and request at once; the
 * result then reaches `onStageEnd` marked `interrupted`.
 *
 * Fails with InvalidOptions when the connections cannot fit under the open-file limit, and
 * with TargetUnreachable when every warmup request failed to connect.
 */
export const runStage = Effect.fn("Stage.runStage")(
  function* (options: LoadOptions, meta: { readonly index?: number; readonly hooks?: StageHooks } = {}) {
    const index = meta.index ?? 0
    const hooks = meta.hooks ?? {}
    yield* Effect.annotateCurrentSpan("index", index)
    const open = options.rate !== undefined
    const conc = open ? options.maxInFlight : options.concurrency
    yield* checkOpenFiles(conc, open ? "--max-inflight" : "--concurrency")

    const url = new URL(options.url)
    const spec = makeRequestSpec({
      api: options.api,
      stream: options.stream,
      model: options.model,
      prompt: options.prompt,
      basePath: url.pathname
    })
    const recorder = new Recorder(options.goodputSlo)
    const run = new StageRun(options.requests)
    const timeoutMs = options.timeoutSeconds * 1000
    const loop = new LoopMonitor()
    const ctx: ClientContext = {
      origin: url.origin,
      connection: connectionOptions(timeoutMs),
      spec,
      recorder,
      timeoutMs,
      expectTokens: options.expectTokens ?? 0,
      onDone: (measured, endedAt) => {
        if (measured) run.lastMeasuredEnd = endedAt
      }
    }

    // Connections close last, once every request fiber has ended (finalizers run in reverse).
    const clients: Array<VirtualClient> = []
    yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(clients.map((c) => c.close()))))
    const newClient = () => {
      const c = new VirtualClient(ctx)
      clients.push(c)
      return c
    }

    const publisher = yield* Publisher.make(
      { index, concurrency: conc, rate: options.rate, requestsTarget: options.requests, durationSeconds: options.durationSeconds },
      recorder,
      run
    )
    const result = (interrupted: boolean): StageResult =>
      stageResultOf({
        index,
        options,
        concurrency: conc,
        recorder,
        interrupted,
        endedAt: performance.now(),
        windowStart: run.windowStart,
        windowStartWall: run.windowStartWall,
        windowEnd: run.windowEnd,
        lastMeasuredEnd: run.lastMeasuredEnd,
        loopDelay: loop.stop(),
        timeline: publisher.timeline.points()
      })

    yield* hookEffect(hooks.onStageStart?.({ index, concurrency: conc, rate: options.rate, snapshots: publisher.snapshots }))
    // Cut short (Ctrl-C, router exit): report what was measured. Registered before the
    // fibers, so it runs after every client was interrupted.
    let reported = false
    yield* Effect.addFinalizer((exit) =>
      Exit.isInterrupted(exit) && !reported
        ? Effect.suspend(() => {
            reported = true
            return publisher.publish.pipe(
              Effect.zipRight(Effect.sync(() => run.finish())),
              Effect.zipRight(publisher.publish),
              Effect.zipRight(Effect.suspend(() => hookEffect(hooks.onStageEnd?.(result(true)))))
            )
          })
        : Effect.void
    )

    // After every client fiber was interrupted (finalizers run in reverse): drop the requests
    // still in flight, uncounted, and close every connection at once.
    yield* Effect.addFinalizer(() => Effect.sync(() => clients.forEach((c) => c.cancel())))
    const fibers = yield* FiberSet.make()
    yield* publisher.publish
    // Once a second: during warmup from the stage's start, then from the window's opening.
    const ticks = Effect.forever(Effect.zipRight(Effect.sleep(Duration.seconds(1)), publisher.publish))
    const warmupTicks = yield* Effect.forkScoped(ticks)
    // One sweep for every client's --timeout instead of a timer per request.
    const sweepMs = Math.max(5, Math.min(250, timeoutMs / 20))
    yield* Effect.sync(() => {
      const now = performance.now()
      for (const c of clients) c.checkDeadline(now)
    }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(sweepMs))), Effect.forkScoped)

    const warmupMs = options.warmupSeconds * 1000
    let driver: Fiber.RuntimeFiber<void>
    if (open) {
      driver = yield* Effect.forkScoped(openDriver(options, run, recorder, newClient, fibers))
    } else {
      for (let i = 0; i < conc; i++) newClient()
      const staggerMs = conc > 1 ? warmupMs / 2 / conc : 0
      driver = yield* Effect.forkScoped(closedDriver(clients.slice(), run, staggerMs, fibers))
    }

    if (warmupMs > 0) {
      yield* Effect.sleep(Duration.millis(warmupMs))
      const w = recorder.warmupErrorsByClass
      if (recorder.warmupRequests > 0 && recorder.warmupOk === 0 && (w["connect"] ?? 0) === recorder.warmupRequests) {
        return yield* new TargetUnreachable({ url: options.url, detail: `${recorder.warmupRequests} connection failures during warmup` })
      }
    }
    loop.start()
    run.openWindow(options.requests === undefined ? options.durationSeconds * 1000 : undefined)
    publisher.timeline.start(run.windowStart)
    yield* publisher.publish
    yield* Fiber.interrupt(warmupTicks)
    yield* Effect.forkScoped(ticks)
    if (options.requests === undefined) {
      yield* Effect.sleep(Duration.millis(options.durationSeconds * 1000))
      yield* publisher.publish
      run.closeWindow()
      yield* publisher.publish
    }
    yield* Fiber.join(driver)
    yield* publisher.publish
    run.finish()
    reported = true
    const r = result(false)
    yield* publisher.publish
    yield* hookEffect(hooks.onStageEnd?.(r))
    return r
  },
  Effect.scoped
)

/** The load shape of one ramp level: `load` at that concurrency, or at that arrival rate. */
export const levelOptions = (ramp: RampOptions, load: LoadOptions, level: number): LoadOptions =>
  LoadOptions.make(ramp.vary === "rate" ? { ...load, rate: level } : { ...load, concurrency: level })

/** Runs one stage per level, in order, with the same load shape: concurrency levels, or arrival rates. */
export const runRamp = (
  options: RampOptions,
  hooks?: StageHooks
): Effect.Effect<ReadonlyArray<StageResult>, TargetUnreachable | InvalidOptions> =>
  Effect.forEach(options.levels, (level, index) =>
    runStage(levelOptions(options, options.load, level), hooks ? { index, hooks } : { index })
  ).pipe(Effect.withSpan("Stage.runRamp"))
