import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Effect, Match } from "effect"
import { parseExprSync } from "../analysis/Expr.ts"
import { findKnee } from "../analysis/Knee.ts"
import { routerOverhead } from "../analysis/Overhead.ts"
import { evaluateSlo, goodputSloOf, sloForResult } from "../analysis/Slo.ts"
import type { PortInUse, ServerStartFailed, TargetUnreachable } from "../Errors.ts"
import { type HookResult, runRamp, type StageHooks } from "../load/Stage.ts"
import * as MockBackend from "../mock/MockBackend.ts"
import type { MockOptions } from "../mock/MockOptions.ts"
import { levelsOf, modeName, rampOf, type RunOptions } from "../options/RunOptions.ts"
import { combineHooks } from "../report/Progress.ts"
import { currentEnvironment } from "../results/Environment.ts"
import { RunResult, type StageResult } from "../domain/Results.ts"
import { runWithRouter, type WithRouterError } from "../router/Orchestrate.ts"
import { settingsOf } from "./Settings.ts"

/** The fatal errors of a run; per-request failures are counted in the stages instead. */
export type RunError = TargetUnreachable | PortInUse | ServerStartFailed | WithRouterError

/** What `run` needs from the platform: processes and files (only the mock + router mode uses them). */
export type RunContext = CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path

/** Listeners for a run; `run` never prints. */
export interface RunListeners<R = never> extends StageHooks {
  /** Progress notes for the user (where the mock or the router listens, a kept config folder). */
  readonly onInfo?: (message: string) => void
  /** `ServeMock`: the mock is listening (the run then lasts until interrupted). */
  readonly onServing?: (mock: { readonly url: string; readonly options: MockOptions }) => Effect.Effect<void, never, R>
  /**
   * The run was cut short (interrupted, or failed after a stage ended): what was measured, with
   * `interrupted: true` and `error` saying why. Runs before the interruption or failure goes on.
   */
  readonly onPartial?: (result: RunResult) => Effect.Effect<void, never, R>
  /**
   * After every stage (an interrupted one too), before anything is torn down: what was
   * measured so far, to save somewhere safe. A router's grace period or a second Ctrl-C can
   * end the process before `onPartial` runs; a checkpoint has been written by then.
   */
  readonly onCheckpoint?: (result: RunResult) => Effect.Effect<void, never, R>
}

/** Assembles the RunResult the CLI prints and writes (knee, SLO, overhead, settings, environment). */
const resultOf = (
  options: RunOptions,
  startedAt: Date,
  stages: ReadonlyArray<StageResult>,
  end: { readonly interrupted: boolean; readonly error?: string; readonly directStages?: ReadonlyArray<StageResult> }
): RunResult =>
  RunResult.make({
    schemaVersion: 1,
    mode: modeName(options.mode),
    settings: settingsOf(options),
    environment: currentEnvironment(startedAt),
    stages,
    interrupted: end.interrupted,
    knee: stages.length > 1 ? findKnee(stages) : undefined,
    ...(end.directStages !== undefined ? { directStages: end.directStages, overhead: routerOverhead(stages, end.directStages) } : {}),
    slo: options.slo !== undefined ? sloForResult(evaluateSlo(stages, parseExprSync(options.slo))) : undefined,
    ...(end.error !== undefined ? { error: end.error } : {})
  })

/**
 * Runs what `options` describe, in its mode, and returns everything the CLI writes: the stages,
 * knee, SLO, router overhead, per-backend spread, environment and the settings actually used.
 * Every resource (mock, router process, temp folder) is released when it ends, however it ends.
 *
 * `ServeMock` serves until interrupted (it never succeeds). A run cut short by an interruption,
 * or failing after a stage ended, hands what was measured to `listeners.onPartial` first.
 *
 * @example
 * const result = yield* run(RunOptions.make({ mode: MockDirect.make({}), shape: Closed.make({ levels: [4, 16] }), requests: 200 }))
 */
export const run = <R = never>(options: RunOptions, listeners: RunListeners<R> = {}): Effect.Effect<RunResult, RunError, R | RunContext> =>
  Effect.gen(function* () {
    const startedAt = new Date()
    const stages: Array<StageResult> = []
    let directStages: ReadonlyArray<StageResult> | undefined
    const context = yield* Effect.context<R>()
    const checkpoint = (r: StageResult): HookResult => {
      stages.push(r)
      const save = listeners.onCheckpoint
      if (save === undefined) return
      const error = r.interrupted ? "interrupted" : undefined
      return Effect.provide(
        save(resultOf(options, startedAt, stages, { interrupted: r.interrupted, ...(error !== undefined ? { error } : {}) })),
        context
      )
    }
    const hooks = combineHooks(listeners, { onStageEnd: checkpoint })
    const info = listeners.onInfo ?? (() => {})
    const goodputSlo = options.slo !== undefined ? goodputSloOf(parseExprSync(options.slo)) : undefined

    const body: Effect.Effect<unknown, RunError, R | RunContext> = Match.value(options.mode).pipe(
      Match.tagsExhaustive({
        Drive: ({ url }) => runRamp(rampOf(options, url, goodputSlo), hooks),
        ServeMock: ({ mock }) =>
          Effect.gen(function* () {
            const server = yield* MockBackend.make(mock)
            yield* listeners.onServing?.({ url: server.url, options: server.options }) ?? Effect.void
            return yield* Effect.never
          }).pipe(Effect.scoped),
        MockDirect: ({ mock }) =>
          Effect.gen(function* () {
            const server = yield* MockBackend.make(mock)
            info(`mock backend (in-process) on ${server.url}`)
            return yield* runRamp(rampOf(options, server.url, goodputSlo), hooks)
          }).pipe(Effect.scoped),
        MockRouter: (mode) =>
          runWithRouter(
            {
              mock: mode.mock,
              router: mode.router,
              // The router mode replaces the URL with the router's.
              ramp: rampOf(options, "http://127.0.0.1/", goodputSlo),
              compareDirect: mode.compareDirect,
              mockBackends: mode.backends,
              onInfo: info
            },
            hooks
          ).pipe(Effect.tap((r) => Effect.sync(() => void (directStages = r.directStages))))
      })
    )

    const partial = (error: string) =>
      listeners.onPartial?.(resultOf(options, startedAt, stages, { interrupted: true, error })) ?? Effect.void
    yield* body.pipe(
      Effect.onInterrupt(() => partial("interrupted")),
      Effect.tapError((e) => (stages.length > 0 ? partial(e.message) : Effect.void))
    )
    return resultOf(options, startedAt, stages, { interrupted: false, ...(directStages !== undefined ? { directStages } : {}) })
  }).pipe(Effect.withSpan("Run.run", { attributes: { mode: modeName(options.mode), levels: levelsOf(options.shape).length } }))
