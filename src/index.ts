/**
 * nomyo-load as a library: every entry point is an Effect with typed errors and scoped
 * resources. Per-request failures are data (counted by class in each StageResult); the error
 * channel carries only fatal, user-actionable conditions.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoadOptions, MockBackend, MockOptions, RampOptions, runRamp } from "nomyo-load"
 *
 * const program = Effect.gen(function* () {
 *   const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 20, tokens: 32, tokMs: 5 }))
 *   const load = LoadOptions.make({ url: mock.url, durationSeconds: 5, warmupSeconds: 1 })
 *   const stages = yield* runRamp(RampOptions.make({ load, levels: [8, 32] }))
 *   for (const s of stages) console.log(s.concurrency, s.rps, s.latency.p99)
 * }).pipe(Effect.scoped)
 *
 * Effect.runPromise(program)
 * ```
 */
export { runRamp, runStage, type LiveStage, type StageHooks, type StagePhase } from "./load/Stage.ts"
export { Api, DEFAULT_PROMPT, LoadOptions, RampOptions } from "./load/LoadOptions.ts"
export type { ErrorClass } from "./load/ErrorClass.ts"
export * as MockBackend from "./mock/MockBackend.ts"
export { MockOptions } from "./mock/MockOptions.ts"
export { BackendLoad, Environment, RunResult, StageResult, Summary, decodeRunResult, encodeRunResult } from "./results/Results.ts"
export { runWithRouter, type WithRouterOptions, type WithRouterResult } from "./router/Orchestrate.ts"
export * as RouterProcess from "./router/RouterProcess.ts"
export { RouterOptions } from "./router/RouterOptions.ts"
export * from "./router/RouterErrors.ts"
export { writeResults } from "./results/WriteResults.ts"
export { formatErrors, formatTable } from "./report/Table.ts"
export { decodeHistogram, encodeHistogram, makeHistogram } from "./stats/Histogram.ts"
export * from "./Errors.ts"
export { TOOL, VERSION } from "./Version.ts"
