import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import type { PortInUse, ServerStartFailed, TargetUnreachable } from "../Errors.ts"
import { LoadOptions, RampOptions } from "../load/LoadOptions.ts"
import { levelOptions, runRamp, runStage, type StageHooks } from "../load/Stage.ts"
import * as MockBackend from "../mock/MockBackend.ts"
import type { MockOptions } from "../mock/MockOptions.ts"
import { BackendLoad, StageResult } from "../domain/Results.ts"
import type { RouterExited } from "./RouterErrors.ts"
import type { RouterOptions } from "./RouterOptions.ts"
import * as RouterProcess from "./RouterProcess.ts"

export interface WithRouterOptions {
  readonly mock: MockOptions
  /**
   * How many mock backends to start behind the router (default 1), all shaped by `mock`; with a
   * fixed `mock.port`, backend i listens on port + i. Each stage then reports how the router
   * spread its requests over them (`StageResult.backends`).
   */
  readonly mockBackends?: number
  readonly router: RouterOptions
  /** The ramp; its `load.url` and `load.expectTokens` are replaced (router URL, mock tokens). */
  readonly ramp: RampOptions
  /** Progress notes for the user (where the router listens, where a kept config is). */
  readonly onInfo?: (message: string) => void
  /**
   * Router overhead in one run: after each stage through the router, run the same stage
   * directly against the mock (same level, same load shape); `directStages` holds them. With
   * several mock backends the direct stage goes to the first one only.
   */
  readonly compareDirect?: boolean
}

export interface WithRouterResult {
  readonly stages: ReadonlyArray<StageResult>
  /** With compareDirect: the same stages sent directly to the mock, aligned by index. */
  readonly directStages?: ReadonlyArray<StageResult>
  readonly router: {
    readonly url: string
    readonly pid: number
    readonly command: string
    readonly configPath: string
    readonly tempDir: string
    /** True with keepConfig: tempDir (config.yaml, router.log, token DB) was left in place. */
    readonly kept: boolean
    /** The max_concurrent_connections written (before --router-config overrides). */
    readonly maxConcurrentConnections: number
  }
  /** The first mock backend. */
  readonly mock: { readonly url: string; readonly stats: MockBackend.MockStats }
  /** Every mock backend, in the order of the router's endpoints. */
  readonly mocks: ReadonlyArray<{ readonly url: string; readonly stats: MockBackend.MockStats }>
}

export type WithRouterError = RouterProcess.StartError | RouterExited | TargetUnreachable | PortInUse | ServerStartFailed

/**
 * The most requests the run can have in flight: the largest concurrency level (closed loop),
 * or the open-loop in-flight cap (`maxInFlight`) when the levels are arrival rates.
 */
export const peakConcurrency = (ramp: RampOptions): number =>
  ramp.vary === "rate" || ramp.load.rate !== undefined ? ramp.load.maxInFlight : Math.max(...ramp.levels)

/**
 * Stage hooks that snapshot every mock's counters when a stage starts and attach what each one
 * did to the stage's result when it ends (`backends`), before passing it on to `hooks`. The
 * results, in order, are collected in `stages` (interrupted stages included).
 */
const withBackendLoad = (mocks: ReadonlyArray<MockBackend.MockBackend>, hooks: StageHooks | undefined) => {
  const stages: Array<StageResult> = []
  let before: ReadonlyArray<MockBackend.MockStats> = []
  const start: StageHooks["onStageStart"] = (info) => {
    before = mocks.map((m) => {
      m.resetPeak()
      return m.stats()
    })
    return hooks?.onStageStart?.(info)
  }
  const end = (result: StageResult) => {
    const now = mocks.map((m) => m.stats())
    const requests = now.map((s, i) => s.requests - (before[i]?.requests ?? 0))
    const total = requests.reduce((a, b) => a + b, 0)
    const backends = mocks.map((m, i) =>
      BackendLoad.make({
        url: m.url,
        requests: requests[i]!,
        tokens: now[i]!.tokensSent - (before[i]?.tokensSent ?? 0),
        share: total === 0 ? 0 : requests[i]! / total,
        peakActive: now[i]!.peakActiveStreams
      })
    )
    const withBackends = StageResult.make({ ...result, backends })
    stages.push(withBackends)
    return hooks?.onStageEnd?.(withBackends)
  }
  return { stages, hooks: { onStageStart: start, onStageEnd: end } satisfies StageHooks }
}

/** After a stage fails, how long to wait for the router's exit to be seen (it explains the failure better). */
const EXIT_SETTLE_MS = 300

/**
 * `--mock-backend`: starts the mock, then the router wired to it by a generated temp config,
 * waits until the router answers, and runs the ramp through the router. A router that exits
 * mid-run fails the run at once with RouterExited (the interrupted stage still reaches
 * `hooks.onStageEnd`, marked `interrupted`). Everything is torn down on every path: the router's
 * process group (SIGTERM, grace, SIGKILL) first, then the mock, then the temp folder (unless
 * `router.keepConfig`). Scoped internally: nothing outlives the returned Effect.
 *
 * @example
 * const result = yield* runWithRouter({
 *   mock: MockOptions.make({ tokens: 64 }),
 *   router: RouterOptions.make({ dir: "/srv/nomyo-router", workers: 2 }),
 *   ramp: RampOptions.make({ load: LoadOptions.make({ durationSeconds: 10 }), levels: [8, 32] })
 * }).pipe(Effect.provide(NodeContext.layer))
 */
export const runWithRouter = Effect.fn("nomyo-load/runWithRouter")(function* (
  options: WithRouterOptions,
  hooks?: StageHooks
): Effect.fn.Return<WithRouterResult, WithRouterError, CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path> {
  return yield* Effect.scoped(
    Effect.gen(function* () {
      const info = options.onInfo ?? (() => {})
      const mocks = yield* Effect.forEach(Array.from({ length: Math.max(1, options.mockBackends ?? 1) }, (_, i) => i), (i) =>
        MockBackend.make(options.mock.port === 0 || i === 0 ? options.mock : { ...options.mock, port: options.mock.port + i })
      )
      const mock = mocks[0]!
      const peak = peakConcurrency(options.ramp)
      const router = yield* RouterProcess.start(options.router, mocks.map((m) => m.url), { peakConcurrency: peak })
      const maxConc = options.router.maxConc ?? peak
      const at = mocks.length === 1 ? `mock at ${mock.url}` : `${mocks.length} mocks at ${mocks.map((m) => m.url).join(", ")}`
      info(`router ready at ${router.url} (pid ${router.pid}, ${options.router.workers} worker(s), max_concurrent_connections ${maxConc}; ${at})`)
      if (router.kept) info(`router config kept in ${router.tempDir} (config.yaml, router.log, token DB): delete it when done`)

      const ramp = RampOptions.make({
        ...options.ramp,
        load: LoadOptions.make({ ...options.ramp.load, url: router.url, expectTokens: options.mock.tokens })
      })
      const direct: Array<StageResult> = []
      const directLoad = LoadOptions.make({ ...ramp.load, url: mock.url })
      // Router stage, then the same stage direct to the mock, level by level: both see the
      // same machine state, so the difference is the router's.
      const throughRouter = withBackendLoad(mocks, hooks)
      const runAll = options.compareDirect
        ? Effect.forEach(ramp.levels, (level, index) =>
            runStage(levelOptions(ramp, ramp.load, level), { index, hooks: throughRouter.hooks }).pipe(
              Effect.tap(() =>
                runStage(levelOptions(ramp, directLoad, level), { index }).pipe(Effect.tap((d) => Effect.sync(() => direct.push(d))))
              )
            )
          )
        : runRamp(ramp, throughRouter.hooks)
      yield* runAll.pipe(
        // A router that dies makes every request fail; say that, not "target unreachable".
        Effect.catchAll((e) => Effect.raceFirst(router.awaitExit, Effect.sleep(EXIT_SETTLE_MS).pipe(Effect.zipRight(Effect.fail(e))))),
        Effect.raceFirst(router.awaitExit)
      )
      return {
        stages: throughRouter.stages,
        ...(options.compareDirect ? { directStages: direct } : {}),
        router: {
          url: router.url,
          pid: router.pid,
          command: router.command,
          configPath: router.configPath,
          tempDir: router.tempDir,
          kept: router.kept,
          maxConcurrentConnections: maxConc
        },
        mock: { url: mock.url, stats: mock.stats() },
        mocks: mocks.map((m) => ({ url: m.url, stats: m.stats() }))
      } satisfies WithRouterResult
    })
  )
})
