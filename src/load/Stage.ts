import { setMaxListeners } from "node:events"
import { Effect, Exit } from "effect"
import { Pool } from "undici"
import { TargetUnreachable } from "../Errors.ts"
import { SelfHealth, StageResult } from "../results/Results.ts"
import { summarize } from "../stats/Histogram.ts"
import { LoopMonitor } from "../stats/LoopMonitor.ts"
import { Recorder } from "../stats/Recorder.ts"
import { constantArrivals, poissonArrivals } from "./Arrivals.ts"
import { LoadOptions, type RampOptions } from "./LoadOptions.ts"
import { makeRequestSpec } from "./RequestSpec.ts"
import { type ClientContext, VirtualClient } from "./VirtualClient.ts"

export type StagePhase = "warmup" | "measure" | "drain" | "done"

/** What a progress reporter can read while a stage runs (cheap; call it a few times a second). */
export interface LiveStage {
  readonly index: number
  readonly concurrency: number
  readonly rate: number | undefined
  readonly phase: StagePhase
  /** Seconds since the measured window opened (0 during warmup). */
  readonly elapsedSeconds: number
  /** Seconds left in a timed window; undefined for --requests. */
  readonly remainingSeconds: number | undefined
  readonly inFlight: number
  readonly ok: number
  readonly errors: number
  /** Target for --requests, else undefined. */
  readonly requestsTarget: number | undefined
  readonly recorder: Recorder
}

/** Listeners for a run; the engine never prints, reporters listen. */
export interface StageHooks {
  readonly onStageStart?: (info: {
    readonly index: number
    readonly concurrency: number
    readonly rate: number | undefined
    readonly live: () => LiveStage
  }) => void
  /** Called once per stage, also with `interrupted: true` when the stage is cut short. */
  readonly onStageEnd?: (result: StageResult) => void
}

/** Thresholds past which the driver, not the target, is the bottleneck (README "Self-health"). */
export const SELF_HEALTH = {
  loopDelayP99Ms: 25,
  dispatchDelayP99Ms: 10,
  achievedRateRatio: 0.95
} as const

/** The mutable control state of one running stage. */
class StageRun {
  phase: StagePhase = "warmup"
  windowStart = 0
  windowStartWall = new Date()
  windowEnd = 0
  lastMeasuredEnd = 0
  /** Measured requests started (closed) or measured arrivals generated (open). */
  started = 0
  readonly clients: Array<VirtualClient> = []
  /** Open loop: called when the window closes so arrivals due before it are still sent. */
  onWindowClose: () => void = () => {}

  constructor(readonly requestsTarget: number | undefined) {}

  /** Closed loop: whether a client may send another request now; counts it for --requests. */
  mayStart(): boolean {
    if (this.phase === "warmup") return true
    if (this.phase !== "measure") return false
    if (this.requestsTarget !== undefined && this.started >= this.requestsTarget) return false
    this.started++
    return true
  }

  openWindow(): void {
    this.phase = "measure"
    this.windowStart = performance.now()
    this.windowStartWall = new Date()
  }

  closeWindow(): void {
    this.windowEnd = performance.now()
    this.onWindowClose()
    this.phase = "drain"
  }

  stopAll(): void {
    this.phase = "done"
    for (const c of this.clients) c.stop()
  }
}

const sleep = (ms: number, run: StageRun) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || run.phase === "done") return resolve()
    setTimeout(resolve, ms)
  })

/** A closed-loop client: send, wait for the outcome, send again, until the stage says stop. */
const clientLoop = async (client: VirtualClient, run: StageRun, startDelayMs: number): Promise<void> => {
  await sleep(startDelayMs, run)
  while (!client.isStopped && run.mayStart()) {
    const measured = run.phase === "measure"
    await client.send(performance.now(), measured)
  }
}

/**
 * Open loop: arrivals on a schedule, each sent at its time by a free client (created on
 * demand up to maxInFlight). An arrival that finds no free client waits in FIFO order and
 * counts as a late start; its latency still runs from its scheduled time (no coordinated
 * omission). Resolves when the window has closed and every request has finished.
 */
const openLoop = (run: StageRun, ctx: ClientContext, options: LoadOptions): Promise<void> =>
  new Promise<void>((resolve) => {
    const arrivals = options.arrival === "poisson" ? poissonArrivals(options.rate!, options.seed) : constantArrivals(options.rate!)
    const free: Array<VirtualClient> = []
    // Scheduled times waiting for a client; negative = it had to wait (late start).
    const queue: Array<number> = []
    let qHead = 0
    let next = performance.now()
    let timer: ReturnType<typeof setTimeout> | undefined
    let busy = 0

    const generating = () =>
      run.phase === "warmup" || (run.phase === "measure" && (run.requestsTarget === undefined || run.started < run.requestsTarget))

    const isMeasured = (tSched: number) => run.windowStart > 0 && tSched >= run.windowStart && (run.windowEnd === 0 || tSched < run.windowEnd)

    const generateUntil = (limit: number) => {
      while (next <= limit && generating()) {
        if (isMeasured(next)) run.started++
        queue.push(next)
        next += arrivals.nextGapMs()
      }
    }

    const release = (client: VirtualClient) => {
      busy--
      free.push(client)
      dispatch()
      finishIfDone()
    }

    const dispatch = () => {
      while (qHead < queue.length && run.phase !== "done") {
        let client = free.pop()
        if (client === undefined) {
          if (run.clients.length >= options.maxInFlight) break
          client = new VirtualClient(ctx)
          run.clients.push(client)
        }
        const entry = queue[qHead++]!
        const late = entry < 0
        const tSched = late ? -entry : entry
        const measured = isMeasured(tSched)
        if (late && measured) ctx.recorder.lateStarts++
        busy++
        const c = client
        c.send(tSched, measured, late).then(() => release(c))
      }
      // Whatever is still queued now had to wait for a slot.
      for (let i = qHead; i < queue.length; i++) if (queue[i]! > 0) queue[i] = -queue[i]!
      if (qHead > 4096 && qHead * 2 > queue.length) {
        queue.splice(0, qHead)
        qHead = 0
      }
    }

    const finishIfDone = () => {
      if (busy === 0 && (run.phase === "done" || (!generating() && qHead >= queue.length))) {
        if (timer !== undefined) clearTimeout(timer)
        timer = undefined
        resolve()
      }
    }

    const pump = () => {
      timer = undefined
      if (run.phase === "done") return finishIfDone()
      generateUntil(performance.now())
      dispatch()
      if (generating()) timer = setTimeout(pump, Math.max(0, next - performance.now()))
      else finishIfDone()
    }

    run.onWindowClose = () => {
      // Arrivals due before the window closed still belong to it, even if the timer lagged.
      generateUntil(run.windowEnd - 1e-6)
      dispatch()
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      queueMicrotask(finishIfDone)
    }
    const stopPending = () => {
      queue.length = 0
      qHead = 0
      finishIfDone()
    }
    const origStop = run.stopAll.bind(run)
    run.stopAll = () => {
      origStop()
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      stopPending()
    }
    pump()
  })

/**
 * Runs one stage: warmup (unmeasured), then the measured window. Closed loop: `concurrency`
 * clients, started staggered over the first half of the warmup, each sending back to back.
 * Open loop (`rate` set): arrivals on schedule, see openLoop.
 *
 * Counted: exactly the requests whose (scheduled) start falls inside the window; those still
 * in flight when a timed window closes are waited for (each bounded by --timeout) and
 * counted; req/s = counted / window seconds. Per-request failures are counted by class in
 * the result, never failed Effects. Fails only with TargetUnreachable when every warmup
 * request failed to connect.
 */
export const runStage = (
  options: LoadOptions,
  meta: { readonly index?: number; readonly hooks?: StageHooks } = {}
): Effect.Effect<StageResult, TargetUnreachable> =>
  Effect.gen(function* () {
    const index = meta.index ?? 0
    const hooks = meta.hooks ?? {}
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
    const open = options.rate !== undefined
    const conc = open ? options.maxInFlight : options.concurrency
    const loop = new LoopMonitor()

    const pool = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new Pool(url.origin, {
            connections: conc,
            pipelining: 1,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
            connectTimeout: Math.min(timeoutMs, 10_000),
            keepAliveTimeout: 4_000
          })
      ),
      (p) => Effect.promise(() => p.destroy().catch(() => undefined))
    )

    const ctx: ClientContext = {
      pool,
      spec,
      recorder,
      timeoutMs,
      expectTokens: options.expectTokens ?? 0,
      onDone: (measured: boolean, endedAt: number) => {
        if (measured) run.lastMeasuredEnd = endedAt
      }
    }

    const live = (): LiveStage => {
      const now = performance.now()
      const elapsed = run.windowStart === 0 ? 0 : ((run.phase === "measure" ? now : run.windowEnd || now) - run.windowStart) / 1000
      return {
        index,
        concurrency: conc,
        rate: options.rate,
        phase: run.phase,
        elapsedSeconds: elapsed,
        remainingSeconds: options.requests === undefined ? Math.max(0, options.durationSeconds - elapsed) : undefined,
        inFlight: recorder.inFlight,
        ok: recorder.ok,
        errors: recorder.errors,
        requestsTarget: options.requests,
        recorder
      }
    }

    const result = (interrupted: boolean): StageResult => {
      const end = performance.now()
      const windowMs =
        options.requests !== undefined || interrupted
          ? Math.max((run.lastMeasuredEnd || end) - run.windowStart, 0)
          : options.durationSeconds * 1000
      const windowSeconds = run.windowStart === 0 ? 0 : windowMs / 1000
      const drainSeconds = run.windowEnd > 0 ? Math.max(0, (run.lastMeasuredEnd - run.windowEnd) / 1000) : 0
      const rate = (n: number) => (windowSeconds > 0 ? n / windowSeconds : 0)
      const dispatchDelay = summarize(recorder.dispatchDelay)
      const timerLag = summarize(recorder.timerLag)
      const loopDelay = loop.stop()
      const achievedRate = open ? round2(rate(recorder.sent)) : undefined
      const warnings: Array<string> = []
      if (loopDelay.p99Ms > SELF_HEALTH.loopDelayP99Ms) {
        warnings.push(`driver event-loop delay p99 ${loopDelay.p99Ms.toFixed(1)} ms > ${SELF_HEALTH.loopDelayP99Ms} ms`)
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
        !interrupted &&
        recorder.lateStarts === 0 &&
        recorder.sent < expected * SELF_HEALTH.achievedRateRatio &&
        shortfall > chance
      ) {
        warnings.push(`achieved ${achievedRate} req/s of ${options.rate} requested`)
      }
      return StageResult.make({
        index,
        loadModel: open ? "open" : "closed",
        concurrency: conc,
        rate: options.rate,
        arrival: open ? options.arrival : undefined,
        achievedRate,
        lateStarts: recorder.lateStarts,
        peakInFlight: recorder.peakInFlight,
        api: options.api,
        stream: options.stream,
        url: options.url,
        startedAt: run.windowStartWall.toISOString(),
        windowSeconds: round3(windowSeconds),
        drainSeconds: round3(drainSeconds),
        interrupted,
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
          loopDelayP99Ms: round3(loopDelay.p99Ms),
          loopDelayMaxMs: round3(loopDelay.maxMs)
        })
      })
    }

    hooks.onStageStart?.({ index, concurrency: conc, rate: options.rate, live })
    // Cut short (Ctrl-C, router exit): report what was measured. Registered before the
    // clients' fiber, so it runs after they were stopped (finalizers run in reverse order).
    let reported = false
    yield* Effect.addFinalizer((exit) =>
      Exit.isInterrupted(exit) && !reported ? Effect.sync(() => hooks.onStageEnd?.(result(true))) : Effect.void
    )

    // One stage-wide budget of abort listeners: undici adds one per pooled connection.
    const ac = new AbortController()
    setMaxListeners(conc + 16, ac.signal)

    const warmupMs = options.warmupSeconds * 1000
    let clientsDone: Promise<unknown>
    if (open) {
      clientsDone = openLoop(run, ctx, options)
    } else {
      for (let i = 0; i < conc; i++) run.clients.push(new VirtualClient(ctx))
      const staggerMs = conc > 1 ? warmupMs / 2 / conc : 0
      clientsDone = Promise.all(run.clients.map((c, i) => clientLoop(c, run, i * staggerMs)))
    }
    // All clients as one interruptible wait: interruption stops them and waits for the
    // aborted requests to settle, so the pool is idle when the scope closes it.
    const awaitClients = Effect.async<void>((resume) => {
      clientsDone.then(() => resume(Effect.void))
      return Effect.sync(() => run.stopAll()).pipe(Effect.zipRight(Effect.promise(() => clientsDone)))
    })
    const clientsFiber = yield* Effect.forkScoped(awaitClients)

    // One sweep for every client's --timeout instead of a timer per request; undici's own
    // headers/body timeouts run on coarse (~0.5 s) timers and a trickle never trips them.
    const sweepMs = Math.max(5, Math.min(250, timeoutMs / 20))
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        setInterval(() => {
          const now = performance.now()
          for (const c of run.clients) c.checkDeadline(now)
        }, sweepMs)
      ),
      (timer) => Effect.sync(() => clearInterval(timer))
    )

    if (warmupMs > 0) {
      yield* Effect.sleep(warmupMs)
      const w = recorder.warmupErrorsByClass
      if (recorder.warmupRequests > 0 && recorder.warmupOk === 0 && (w["connect"] ?? 0) === recorder.warmupRequests) {
        run.stopAll()
        return yield* Effect.fail(
          new TargetUnreachable({ url: options.url, detail: `${recorder.warmupRequests} connection failures during warmup` })
        )
      }
    }
    loop.start()
    run.openWindow()
    if (options.requests === undefined) {
      yield* Effect.sleep(options.durationSeconds * 1000)
      run.closeWindow()
    }
    yield* clientsFiber.await
    run.phase = "done"
    reported = true
    const r = result(false)
    hooks.onStageEnd?.(r)
    return r
  }).pipe(Effect.scoped, Effect.withSpan("nomyo-load/runStage", { attributes: { index: meta.index ?? 0 } }))

const round2 = (x: number): number => Math.round(x * 100) / 100
const round3 = (x: number): number => Math.round(x * 1000) / 1000

/** The load shape of one ramp level: `load` at that concurrency, or at that arrival rate. */
export const levelOptions = (ramp: RampOptions, load: LoadOptions, level: number): LoadOptions =>
  LoadOptions.make(ramp.vary === "rate" ? { ...load, rate: level } : { ...load, concurrency: level })

/** Runs one stage per level, in order, with the same load shape: concurrency levels, or arrival rates. */
export const runRamp = (
  options: RampOptions,
  hooks?: StageHooks
): Effect.Effect<ReadonlyArray<StageResult>, TargetUnreachable> =>
  Effect.forEach(options.levels, (level, index) => runStage(levelOptions(options, options.load, level), hooks ? { index, hooks } : { index })).pipe(
    Effect.withSpan("nomyo-load/runRamp")
  )
