import { setMaxListeners } from "node:events"
import { Effect, Exit } from "effect"
import { Pool } from "undici"
import { TargetUnreachable } from "../Errors.ts"
import { StageResult } from "../results/Results.ts"
import { summarize } from "../stats/Histogram.ts"
import { Recorder } from "../stats/Recorder.ts"
import { LoadOptions, type RampOptions } from "./LoadOptions.ts"
import { makeRequestSpec } from "./RequestSpec.ts"
import { VirtualClient } from "./VirtualClient.ts"

export type StagePhase = "warmup" | "measure" | "drain" | "done"

/** What a progress reporter can read while a stage runs (cheap; call it a few times a second). */
export interface LiveStage {
  readonly index: number
  readonly concurrency: number
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
  readonly onStageStart?: (info: { readonly index: number; readonly concurrency: number; readonly live: () => LiveStage }) => void
  /** Called once per stage, also with `interrupted: true` when the stage is cut short. */
  readonly onStageEnd?: (result: StageResult) => void
}

/** The mutable control state of one running stage. */
class StageRun {
  phase: StagePhase = "warmup"
  windowStart = 0
  windowStartWall = new Date()
  windowEnd = 0
  lastMeasuredEnd = 0
  started = 0
  readonly clients: Array<VirtualClient> = []

  constructor(
    readonly requestsTarget: number | undefined,
    readonly recorder: Recorder
  ) {}

  /** Whether a client may send another request now; counts it for --requests. */
  mayStart(): boolean {
    if (this.phase === "warmup") return true
    if (this.phase !== "measure") return false
    if (this.requestsTarget !== undefined) {
      if (this.started >= this.requestsTarget) return false
    }
    this.started++
    return true
  }

  openWindow(): void {
    this.phase = "measure"
    this.windowStart = performance.now()
    this.windowStartWall = new Date()
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
 * Runs one stage: warmup (unmeasured; clients start staggered over its first half), then the
 * measured window. Counted: exactly the requests started inside the window; those still in
 * flight when a timed window closes are waited for (each bounded by --timeout) and counted.
 * Per-request failures are counted by class in the result, never failed Effects. Fails only
 * with TargetUnreachable when every warmup request failed to connect.
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
    const recorder = new Recorder()
    const run = new StageRun(options.requests, recorder)
    const timeoutMs = options.timeoutSeconds * 1000
    const conc = options.concurrency

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

    const ctx = {
      pool,
      spec,
      recorder,
      timeoutMs,
      expectTokens: options.expectTokens ?? 0,
      onDone: (measured: boolean, endedAt: number) => {
        if (measured) run.lastMeasuredEnd = endedAt
      }
    }
    for (let i = 0; i < conc; i++) run.clients.push(new VirtualClient(ctx))

    const live = (): LiveStage => {
      const now = performance.now()
      const elapsed = run.phase === "warmup" ? 0 : ((run.phase === "measure" ? now : run.windowEnd || now) - run.windowStart) / 1000
      return {
        index,
        concurrency: conc,
        phase: run.phase,
        elapsedSeconds: elapsed,
        remainingSeconds:
          options.requests === undefined ? Math.max(0, (run.phase === "warmup" ? options.durationSeconds : options.durationSeconds - elapsed)) : undefined,
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
      return StageResult.make({
        index,
        concurrency: conc,
        api: options.api,
        stream: options.stream,
        url: options.url,
        startedAt: run.windowStartWall.toISOString(),
        windowSeconds: Math.round(windowSeconds * 1000) / 1000,
        drainSeconds: Math.round(drainSeconds * 1000) / 1000,
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
        outputTokensPerSecond: round2(rate(recorder.outputTokens))
      })
    }

    hooks.onStageStart?.({ index, concurrency: conc, live })
    // Cut short (Ctrl-C, router exit): report what was measured. Runs before the clients are
    // stopped and the pool destroyed (finalizers run in reverse order).
    yield* Effect.addFinalizer((exit) =>
      Exit.isInterrupted(exit) && run.phase !== "done"
        ? Effect.sync(() => hooks.onStageEnd?.(result(true)))
        : Effect.void
    )

    // One stage-wide budget of abort listeners: undici adds one per pooled connection.
    const ac = new AbortController()
    setMaxListeners(conc + 16, ac.signal)

    const warmupMs = options.warmupSeconds * 1000
    const staggerMs = conc > 1 ? warmupMs / 2 / conc : 0
    const clientsDone = Promise.all(run.clients.map((c, i) => clientLoop(c, run, i * staggerMs)))
    // Every client as one interruptible wait: interruption stops them all and waits for the
    // aborted requests to settle, so the pool is idle when the scope closes it.
    const awaitClients = Effect.async<void>((resume) => {
      clientsDone.then(() => resume(Effect.void))
      return Effect.sync(() => run.stopAll()).pipe(Effect.zipRight(Effect.promise(() => clientsDone)))
    })
    const clientsFiber = yield* Effect.forkScoped(awaitClients)

    if (warmupMs > 0) {
      yield* Effect.sleep(warmupMs)
      const w = recorder.warmupErrorsByClass
      if (recorder.warmupRequests > 0 && recorder.warmupOk === 0 && (w["connect"] ?? 0) === recorder.warmupRequests) {
        run.stopAll()
        return yield* Effect.fail(new TargetUnreachable({ url: options.url, detail: `${recorder.warmupRequests} connection failures during warmup` }))
      }
    }
    run.openWindow()
    if (options.requests === undefined) {
      yield* Effect.sleep(options.durationSeconds * 1000)
      run.phase = "drain"
      run.windowEnd = performance.now()
    }
    yield* clientsFiber.await
    run.phase = "done"
    const r = result(false)
    hooks.onStageEnd?.(r)
    return r
  }).pipe(Effect.scoped)

const round2 = (x: number): number => Math.round(x * 100) / 100

/** Runs one stage per concurrency level, in order, with the same load shape. */
export const runRamp = (
  options: RampOptions,
  hooks?: StageHooks
): Effect.Effect<ReadonlyArray<StageResult>, TargetUnreachable> =>
  Effect.forEach(options.levels, (concurrency, index) =>
    runStage(LoadOptions.make({ ...options.load, concurrency }), hooks ? { index, hooks } : { index })
  )
