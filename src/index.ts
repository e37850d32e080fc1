/**
 * nomyo-load as a library: every entry point is an Effect with typed errors and scoped
 * resources. Per-request failures are data (counted by class in each StageResult); the error
 * channel carries only fatal, user-actionable conditions.
 *
 * `run(RunOptions)` does what the CLI does and returns the RunResult the CLI writes; see
 * examples/library.ts and docs/library.md.
 *
 * @example
 * ```ts
 * import * as NodeContext from "@effect/platform-node/NodeContext"
 * import { Effect } from "effect"
 * import { Closed, MockDirect, run, RunOptions } from "nomyo-load"
 *
 * const options = RunOptions.make({ mode: MockDirect.make({}), shape: Closed.make({ levels: [4, 16] }), requests: 200, warmupSeconds: 0 })
 * const result = await Effect.runPromise(run(options).pipe(Effect.provide(NodeContext.layer)))
 * for (const s of result.stages) console.log(s.concurrency, s.rps, s.latency.p99)
 * ```
 */
export { run, type RunContext, type RunError, type RunListeners } from "./run/Run.ts"
export {
  Closed,
  decodeRunOptions,
  Drive,
  Expression,
  LoadShape,
  MockDirect,
  MockRouter,
  Mode,
  modeName,
  modelOf,
  Open,
  rampOf,
  RunOptions,
  ServeMock
} from "./options/RunOptions.ts"
export { BOUNDS } from "./domain/Bounds.ts"
export { redactCommand, redactUrl, settingsOf } from "./run/Settings.ts"
export { resultsJsonSchema } from "./run/ResultsSchema.ts"
export { findKnee, type Knee } from "./analysis/Knee.ts"
export { renderHtml } from "./report/Html.ts"
export { MergeFailed, mergeRuns } from "./analysis/Merge.ts"
export { CompareMismatch, compareRuns, type Comparison, type CompareRow } from "./analysis/Compare.ts"
export { type CheckResult, evaluateExpr, type Expr, ExprInvalid, parseExpr } from "./analysis/Expr.ts"
export { evaluateSlo, type SloEvaluation } from "./analysis/Slo.ts"
export {
  combineHooks,
  type HookResult,
  type LiveStage,
  runRamp,
  runStage,
  SELF_HEALTH,
  type StageHooks,
  type StagePhase,
  type StageSnapshot,
  type StageStartInfo
} from "./load/Stage.ts"
export { checkOpenFiles, openFileLimit } from "./load/OpenFiles.ts"
export { Timeline, TimelinePoint } from "./domain/Timeline.ts"
export { Api } from "./domain/Api.ts"
export { DEFAULT_PROMPT, LoadOptions, RampOptions } from "./load/LoadOptions.ts"
export type { ErrorClass } from "./domain/ErrorClass.ts"
export * as MockBackend from "./mock/MockBackend.ts"
export { MockOptions } from "./mock/MockOptions.ts"
export { BackendLoad, Environment, RunResult, StageResult, Summary, decodeRunResult, encodeRunResult } from "./domain/Results.ts"
export { runWithRouter, type WithRouterOptions, type WithRouterResult } from "./router/Orchestrate.ts"
export * as RouterProcess from "./router/RouterProcess.ts"
export { RouterOptions } from "./router/RouterOptions.ts"
export * from "./router/RouterErrors.ts"
export { checkpointResults, checkWritable, ResultsSavedElsewhere, writeResults } from "./results/WriteResults.ts"
export { formatErrors, formatTable } from "./report/Table.ts"
export { decodeHistogram, decodeHistogramEither, encodeHistogram, HistogramCorrupt, makeHistogram } from "./stats/Histogram.ts"
export * from "./Errors.ts"
export { TOOL, VERSION } from "./Version.ts"
