import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import { Console, Effect, Either, FiberRef, Match } from "effect"
import { parseExprSync } from "../analysis/Expr.ts"
import { AllRequestsFailed, UsageError } from "../Errors.ts"
import { levelsOf, type RunOptions, type ServeMock } from "../options/RunOptions.ts"
import { progressReporter } from "../report/Progress.ts"
import { formatBackends, formatErrors, formatOverhead, formatTable } from "../report/Table.ts"
import type { RunResult } from "../domain/Results.ts"
import { checkpointResults, checkWritable, writeResults } from "../results/WriteResults.ts"
import { resultsJsonSchema } from "../run/ResultsSchema.ts"
import { run } from "../run/Run.ts"
import { TOOL, VERSION } from "../Version.ts"
import { checkAssertions, compareCommand, formatVerdicts, mergeCommand } from "./AnalysisCommands.ts"
import { scanArgs, subcommandSpecs, type CommandSpec } from "./Argv.ts"
import * as Flags from "./Flags.ts"
import { description } from "./Help.ts"
import { reportCommand, writeHtmlReport } from "./ReportCommand.ts"

/** `--serve-mock`: the mock alone, until interrupted. */
const serve = (options: RunOptions, mode: ServeMock) =>
  run(options, {
    onServing: ({ url }) =>
      Console.log(`mock backend listening on ${url} (models: ${mode.mock.models.join(", ")})`).pipe(
        Effect.zipRight(
          Console.error(
            `mock: ttft ${mode.mock.ttftMs} ms, ${mode.mock.tokens} tokens, ${mode.mock.tokMs} ms/token` +
              `${mode.mock.slots > 0 ? `, ${mode.mock.slots} parallel slots` : ""}; Ollama /api/* and OpenAI /v1/*; Ctrl-C to stop`
          )
        )
      )
  })

/** Prints the table (and what goes under it) and writes --json / --report: after success, failure or interruption alike. */
const emit = (result: RunResult, output: Flags.Output) =>
  Effect.gen(function* () {
    const stages = result.stages
    if (stages.length > 0) {
      yield* Console.log(formatTable(stages, output.columns))
      const errs = formatErrors(stages)
      if (errs) yield* Console.log(errs)
      if (result.overhead !== undefined) yield* Console.log(formatOverhead(result.overhead))
      const spread = formatBackends(stages)
      if (spread) yield* Console.log(spread)
      const verdicts = formatVerdicts(result)
      if (verdicts) yield* Console.log(verdicts)
    }
    // Each output is written even when the other fails (each is saved elsewhere if its target
    // fails); the first failure is reported after both were tried.
    const json =
      output.json === undefined
        ? Effect.void
        : writeResults(output.json, result).pipe(Effect.zipRight(Console.error(`results written to ${output.json}`)))
    const html =
      output.report === undefined
        ? Effect.void
        : writeHtmlReport(output.report, result).pipe(Effect.zipRight(Console.error(`report written to ${output.report}`)))
    const jsonDone = yield* Effect.either(json)
    const htmlDone = yield* Effect.either(html)
    if (Either.isLeft(jsonDone)) return yield* Effect.fail(jsonDone.left)
    if (Either.isLeft(htmlDone)) return yield* Effect.fail(htmlDone.left)
  })

/** Every mode that sends load: run, print, write, then the --assert gate and the all-failed check. */
const load = (options: RunOptions, output: Flags.Output) =>
  Effect.gen(function* () {
    if (output.json !== undefined) yield* checkWritable(output.json, "--json")
    if (output.report !== undefined) yield* checkWritable(output.report, "--report")
    // Live progress on stderr when it is a terminal (never mixed into stdout or --json).
    const progress = yield* progressReporter({ stream: process.stderr, quiet: output.quiet, stages: levelsOf(options.shape).length })
    const result = yield* run(options, {
      // Saved quietly after each stage, so a forced stop during teardown never loses them.
      onCheckpoint: (partial) => (output.json === undefined ? Effect.void : checkpointResults(output.json, partial)),
      onStageStart: progress.onStageStart,
      onStageEnd: progress.onStageEnd,
      onInfo: progress.log,
      onPartial: (partial) =>
        (partial.error === "interrupted" ? Console.error("interrupted: reporting what was measured") : Effect.void).pipe(
          Effect.zipRight(emit(partial, output)),
          Effect.catchAll((e) => Console.error(`${TOOL}: ${e.message}`))
        )
    })
    yield* emit(result, output)
    if (output.assert !== undefined) yield* checkAssertions(result.stages, parseExprSync(output.assert))
    const measured = result.stages.reduce((n, s) => n + s.requests, 0)
    const ok = result.stages.reduce((n, s) => n + s.ok, 0)
    if (measured > 0 && ok === 0) {
      const byClass: Record<string, number> = {}
      for (const s of result.stages) for (const [k, v] of Object.entries(s.errorsByClass)) byClass[k] = (byClass[k] ?? 0) + v
      return yield* Effect.fail(new AllRequestsFailed({ url: result.stages[0]!.url, errorsByClass: byClass }))
    }
  }).pipe(Effect.scoped)

/** parse → run → print/write, by mode. */
const handler = (parsed: Readonly<Record<string, unknown>>) =>
  Effect.gen(function* () {
    const { options, output } = yield* Either.match(Flags.assemble(Flags.givenFlags(parsed)), {
      onLeft: Effect.fail,
      onRight: Effect.succeed
    })
    return yield* Match.value(options.mode).pipe(
      Match.tag("ServeMock", (mode) => serve(options, mode)),
      Match.orElse(() => load(options, output))
    )
  })

/** `nomyo-load schema`: the JSON Schema of the results file. */
const schemaCommand = Command.make("schema", {}, () => Console.log(JSON.stringify(resultsJsonSchema(), null, 2))).pipe(
  Command.withDescription("Print the JSON Schema of the results file (--json), generated from the results Schema")
)

/** True while a command's handler runs: @effect/cli's own usage messages are printed outside one. */
const inHandler = FiberRef.unsafeMake(false)
const handled = <N extends string, R, E, A>(command: Command.Command<N, R, E, A>) =>
  Command.transformHandler(command, (effect) => Effect.locally(effect, inHandler, true))

export const command = Command.make("nomyo-load", { flags: Flags.options }, ({ flags }) => handler(flags)).pipe(
  handled,
  Command.withDescription(description),
  Command.withSubcommands([handled(mergeCommand), handled(compareCommand), handled(reportCommand), handled(schemaCommand)])
)

const rootSpec: CommandSpec = { name: TOOL, positionals: false, flags: Flags.flagSpecs }
const subSpecs = subcommandSpecs(command)

const oneLine = (doc: HelpDoc.HelpDoc) =>
  // eslint-disable-next-line no-control-regex
  HelpDoc.toAnsiText(doc).replace(/\u001b\[[0-9;]*m/g, "").replace(/\s*\n\s*/g, " ").trim()

/**
 * Runs the CLI on `argv` (process.argv). Faults in the shape of the line are found first (one
 * line naming the flag, "did you mean"); @effect/cli's remaining usage errors are printed by
 * the caller as one line too, instead of the multi-line text @effect/cli writes itself.
 */
export const cli = (argv: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    const problem = scanArgs(argv.slice(2), rootSpec, subSpecs)
    if (problem !== undefined) return Effect.fail(problem)
    // `--model=` (an empty value) is "Invalid subcommand" to @effect/cli; `--model ""` is a value the Schema judges.
    const split = argv.flatMap((a, i) => (i >= 2 && /^--[^=]+=/.test(a) ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a]))
    return Command.run(command, { name: TOOL, version: VERSION })(split).pipe(
      Effect.catchIf(
        (e): e is ValidationError.ValidationError => ValidationError.isValidationError(e),
        (e) => Effect.fail(new UsageError({ detail: "error" in e ? oneLine(e.error) : String(e) }))
      ),
      (self) =>
        Console.consoleWith((base) =>
          Effect.withConsole(self, {
            ...base,
            error: (...args) => Effect.flatMap(FiberRef.get(inHandler), (inside) => (inside ? base.error(...args) : Effect.void))
          })
        )
    )
  })
