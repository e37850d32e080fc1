import * as Command from "@effect/cli/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Console, Effect, Option } from "effect"
import { AllRequestsFailed, InvalidOptions } from "../Errors.ts"
import { LoadOptions, RampOptions } from "../load/LoadOptions.ts"
import { runRamp, type StageHooks } from "../load/Stage.ts"
import * as MockBackend from "../mock/MockBackend.ts"
import { MockOptions } from "../mock/MockOptions.ts"
import { formatBackends, formatErrors, formatOverhead, formatTable } from "../report/Table.ts"
import { routerOverhead } from "../analysis/Overhead.ts"
import { currentEnvironment } from "../results/Environment.ts"
import { RunResult, type StageResult } from "../results/Results.ts"
import { checkWritable, writeResults } from "../results/WriteResults.ts"
import { TOOL, VERSION } from "../Version.ts"
import * as Options from "@effect/cli/Options"
import { findKnee } from "../analysis/Knee.ts"
import { evaluateSlo, goodputSloOf, sloForResult } from "../analysis/Slo.ts"
import { assertOption, checkAssertions, compareCommand, formatVerdicts, mergeCommand, sloOption } from "./AnalysisCommands.ts"
import * as Flags from "./Flags.ts"
import { combineHooks, progressReporter } from "../report/Progress.ts"
import { quietOption, reportCommand, reportOption, writeHtmlReport } from "./ReportCommand.ts"
import * as RouterFlags from "./RouterFlags.ts"
import { runWithRouter } from "../router/Orchestrate.ts"
import { description } from "./Help.ts"

type Mode = "drive" | "serve-mock" | "mock-direct" | "mock-backend"

const pickMode = (mock: Flags.MockFlags, url: Option.Option<string>): Effect.Effect<Mode, InvalidOptions> => {
  const chosen = [mock.serveMock && "--serve-mock", mock.mockDirect && "--mock-direct", mock.mockBackend && "--mock-backend"].filter(
    (x): x is string => typeof x === "string"
  )
  if (chosen.length > 1) return Effect.fail(new InvalidOptions({ flag: chosen.join(" and "), detail: "pick one mode" }))
  if (chosen.length === 1 && Option.isSome(url)) {
    return Effect.fail(new InvalidOptions({ flag: "--url", detail: `cannot be combined with ${chosen[0]} (that mode targets its own server)` }))
  }
  if (mock.serveMock) return Effect.succeed("serve-mock")
  if (mock.mockDirect) return Effect.succeed("mock-direct")
  if (mock.mockBackend) return Effect.succeed("mock-backend")
  return Effect.succeed("drive")
}

const mockOptionsOf = (mock: Flags.MockFlags) =>
  MockOptions.make({
    ttftMs: mock.ttftMs,
    tokens: mock.tokens,
    tokMs: mock.tokMs,
    models: mock.models as unknown as readonly [string, ...Array<string>],
    port: Option.getOrElse(mock.port, () => 0),
    slots: mock.slots
  })

/** Runs the mock alone until interrupted. */
const serveMock = (options: MockOptions) =>
  Effect.gen(function* () {
    const mock = yield* MockBackend.make(options)
    yield* Console.log(`mock backend listening on ${mock.url} (models: ${options.models.join(", ")})`)
    yield* Console.error(
      `mock: ttft ${options.ttftMs} ms, ${options.tokens} tokens, ${options.tokMs} ms/token` +
        `${options.slots > 0 ? `, ${options.slots} parallel slots` : ""}; Ollama /api/* and OpenAI /v1/*; Ctrl-C to stop`
    )
    return yield* Effect.never
  }).pipe(Effect.scoped)

export interface RunOutcome {
  readonly stages: ReadonlyArray<StageResult>
}

/** Concurrency levels (closed loop) or arrival rates (open loop), from --ramp/--ramp-rate/--rate. */
const pickLevels = (
  load: Flags.LoadFlags,
  open: Flags.OpenLoopFlags
): Effect.Effect<{ readonly vary: "concurrency" | "rate"; readonly levels: ReadonlyArray<number> }, InvalidOptions> => {
  const given = [
    Option.isSome(load.ramp) && "--ramp",
    Option.isSome(open.rampRate) && "--ramp-rate",
    Option.isSome(open.rate) && "--rate"
  ].filter((x): x is string => typeof x === "string")
  if (given.length > 1) return Effect.fail(new InvalidOptions({ flag: given.join(" and "), detail: "pick one way to set the load levels" }))
  if (Option.isSome(open.rampRate)) return Effect.succeed({ vary: "rate", levels: open.rampRate.value })
  if (Option.isSome(open.rate)) return Effect.succeed({ vary: "rate", levels: [open.rate.value] })
  return Effect.succeed({ vary: "concurrency", levels: Option.getOrElse(load.ramp, () => [load.concurrency]) })
}

const gate = Options.all({ assert: assertOption, slo: sloOption })
const output = Options.all({ report: reportOption, quiet: quietOption })
const compareDirect = Options.boolean("compare-direct").pipe(
  Options.withDescription(
    "[router] With --mock-backend: also run every stage directly against the mock and print the router's overhead per stage"
  )
)
type GateFlags = typeof gate extends Options.Options<infer A> ? A : never
type OutputFlags = typeof output extends Options.Options<infer A> ? A : never

const handler = (args: {
  readonly load: Flags.LoadFlags
  readonly mock: Flags.MockFlags
  readonly open: Flags.OpenLoopFlags
  readonly gate: GateFlags
  readonly router: RouterFlags.RouterFlags
  readonly compareDirect: boolean
  readonly output: OutputFlags
}) =>
  Effect.gen(function* () {
    const { load, mock, open, gate } = args
    const mode = yield* pickMode(mock, load.url)
    if (mode !== "mock-backend") {
      const stray = [...RouterFlags.givenRouterFlags(args.router), ...(args.compareDirect ? ["--compare-direct"] : [])]
      if (stray.length > 0) return yield* Effect.fail(new InvalidOptions({ flag: stray.join(", "), detail: "only used with --mock-backend" }))
    }
    const mockBackends = Option.getOrElse(args.router.backends, () => 1)
    if (args.compareDirect && mockBackends > 1) {
      return yield* Effect.fail(
        new InvalidOptions({ flag: "--compare-direct", detail: "needs a single mock backend (the direct stage has one target); drop --mock-backends" })
      )
    }
    const mockOptions = mockOptionsOf(mock)
    if (mode === "serve-mock") return yield* serveMock(mockOptions)

    const { vary, levels } = yield* pickLevels(load, open)
    const usesMock = mode !== "drive"
    const model = Option.getOrElse(load.model, () => (usesMock ? mockOptions.models[0] : "mock"))
    const loadOptions = LoadOptions.make({
      url: Option.getOrElse(load.url, () => "http://127.0.0.1:12434"),
      api: load.api,
      stream: load.stream,
      concurrency: vary === "concurrency" ? levels[0]! : load.concurrency,
      rate: vary === "rate" ? levels[0]! : undefined,
      arrival: open.arrival,
      seed: open.seed,
      maxInFlight: open.maxInFlight,
      durationSeconds: load.duration,
      requests: Option.getOrUndefined(load.requests),
      warmupSeconds: load.warmup,
      timeoutSeconds: load.timeout,
      model,
      prompt: load.prompt,
      expectTokens: usesMock ? mockOptions.tokens : undefined,
      goodputSlo: Option.isSome(gate.slo) ? goodputSloOf(gate.slo.value) : undefined
    })
    const jsonPath = Option.getOrUndefined(load.json)
    if (jsonPath !== undefined) yield* checkWritable(jsonPath)
    const reportPath = Option.getOrUndefined(args.output.report)
    if (reportPath !== undefined) yield* checkWritable(reportPath)

    const startedAt = new Date()
    const stages: Array<StageResult> = []
    let directStages: ReadonlyArray<StageResult> | undefined
    // Live progress on stderr when it is a terminal (never mixed into stdout or --json).
    const progress = yield* progressReporter({ stream: process.stderr, quiet: args.output.quiet, stages: levels.length })
    const hooks: StageHooks = combineHooks(progress, { onStageEnd: (r) => void stages.push(r) })
    const settings: Record<string, unknown> = {
      ...LoadOptions.make(loadOptions),
      levels,
      vary,
      ...(usesMock ? { mock: { ...mockOptions } } : {}),
      ...(mode === "mock-backend" ? { mockBackends } : {})
    }

    /** Prints the table and writes --json: after success, failure or interruption alike. */
    const report = (interrupted: boolean, error?: string) =>
      Effect.gen(function* () {
        const result = RunResult.make({
          schemaVersion: 1,
          mode,
          settings,
          environment: currentEnvironment(startedAt),
          stages,
          interrupted,
          knee: stages.length > 1 ? findKnee(stages) : undefined,
          ...(directStages !== undefined ? { directStages, overhead: routerOverhead(stages, directStages) } : {}),
          slo: Option.isSome(gate.slo) ? sloForResult(evaluateSlo(stages, gate.slo.value)) : undefined,
          ...(error !== undefined ? { error } : {})
        })
        if (stages.length > 0) {
          yield* Console.log(formatTable(stages, open.columns))
          const errs = formatErrors(stages)
          if (errs) yield* Console.log(errs)
          if (result.overhead !== undefined) yield* Console.log(formatOverhead(result.overhead))
          const spread = formatBackends(stages)
          if (spread) yield* Console.log(spread)
          const verdicts = formatVerdicts(result)
          if (verdicts) yield* Console.log(verdicts)
        }
        if (jsonPath !== undefined) {
          yield* writeResults(jsonPath, result)
          yield* Console.error(`results written to ${jsonPath}`)
        }
        if (reportPath !== undefined) {
          yield* writeHtmlReport(reportPath, result)
          yield* Console.error(`report written to ${reportPath}`)
        }
      })

    const ramp = (url: string) =>
      runRamp(
        RampOptions.make({ load: LoadOptions.make({ ...loadOptions, url }), levels: levels as readonly [number, ...Array<number>], vary }),
        hooks
      )

    const run: Effect.Effect<unknown, { readonly message: string }, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =
      mode === "mock-direct"
        ? Effect.gen(function* () {
            const server = yield* MockBackend.make(mockOptions)
            progress.log(`mock backend (in-process) on ${server.url}`)
            return yield* ramp(server.url)
          }).pipe(Effect.scoped)
        : mode === "mock-backend"
          ? runWithRouter(
              {
                mock: mockOptions,
                router: RouterFlags.toRouterOptions(args.router),
                ramp: RampOptions.make({ load: loadOptions, levels: levels as readonly [number, ...Array<number>], vary }),
                compareDirect: args.compareDirect,
                mockBackends,
                onInfo: (message) => progress.log(message)
              },
              hooks
            ).pipe(Effect.tap((r) => Effect.sync(() => {
              directStages = r.directStages
            })))
          : ramp(loadOptions.url)

    yield* run.pipe(
      Effect.onInterrupt(() =>
        Console.error("interrupted: reporting what was measured").pipe(
          Effect.zipRight(report(true, "interrupted")),
          Effect.catchAll((e) => Console.error(`${TOOL}: ${e.message}`))
        )
      ),
      Effect.tapError((e) => (stages.length > 0 ? report(true, e.message).pipe(Effect.ignore) : Effect.void))
    )
    yield* report(false)
    if (Option.isSome(gate.assert)) yield* checkAssertions(stages, gate.assert.value)
    const measured = stages.reduce((n, s) => n + s.requests, 0)
    const ok = stages.reduce((n, s) => n + s.ok, 0)
    if (measured > 0 && ok === 0) {
      const byClass: Record<string, number> = {}
      for (const s of stages) for (const [k, v] of Object.entries(s.errorsByClass)) byClass[k] = (byClass[k] ?? 0) + v
      return yield* Effect.fail(new AllRequestsFailed({ url: stages[0]!.url, errorsByClass: byClass }))
    }
  }).pipe(Effect.scoped)

export const command = Command.make(
  "nomyo-load",
  { load: Flags.load, open: Flags.openLoop, mock: Flags.mock, router: RouterFlags.router, compareDirect, gate, output },
  handler
).pipe(
  Command.withDescription(description),
  Command.withSubcommands([mergeCommand, compareCommand, reportCommand])
)

export const cli = (argv: ReadonlyArray<string>) =>
  Command.run(command, { name: TOOL, version: VERSION })(argv)
