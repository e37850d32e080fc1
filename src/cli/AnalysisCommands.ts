import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import { Console, Data, Effect, Either, Option, ParseResult } from "effect"
import { InvalidOptions } from "../Errors.ts"
import { CompareMismatch, compareRuns, describeRow, formatComparison } from "../analysis/Compare.ts"
import { type CheckResult, evaluateExpr, type Expr, parseExpr } from "../analysis/Expr.ts"
import { MergeFailed, mergeRuns } from "../analysis/Merge.ts"
import { formatValue, levelLabel, lookupMetric } from "../analysis/Metrics.ts"
import { evaluateSlo, sloForResult } from "../analysis/Slo.ts"
import { formatErrors, formatTable } from "../report/Table.ts"
import { decodeRunResult, RunResult, type StageResult } from "../domain/Results.ts"
import { checkWritable, writeResults } from "../results/WriteResults.ts"
import { TOOL } from "../Version.ts"
import { invalid } from "./Flags.ts"

// ── errors ────────────────────────────────────────────────────────────────────────────────

/** At least one --assert check failed (exit 1); each check was printed before. */
export class AssertionsFailed extends Data.TaggedError("AssertionsFailed")<{
  readonly failed: ReadonlyArray<string>
  readonly total: number
}> {
  override get message() {
    if (this.total === 0) return "--assert: no stages were measured, so nothing could pass"
    const shown = this.failed.slice(0, 3).join(", ") + (this.failed.length > 3 ? ", …" : "")
    return `--assert: ${this.failed.length} of ${this.total} checks failed: ${shown}`
  }
}

/** `compare` found a metric worse than --max-regress allows (exit 1); the differences were printed. */
export class RegressionFound extends Data.TaggedError("RegressionFound")<{
  readonly maxRegressPct: number
  readonly regressions: ReadonlyArray<string>
}> {
  override get message() {
    const shown = this.regressions.slice(0, 3).join(", ") + (this.regressions.length > 3 ? ", …" : "")
    return `${this.regressions.length} regression${this.regressions.length === 1 ? "" : "s"} beyond ${this.maxRegressPct}%: ${shown}`
  }
}

// ── options ───────────────────────────────────────────────────────────────────────────────

const exprOption = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("EXPR"),
    Options.withDescription(description),
    Options.mapEffect((text) => {
      const parsed = parseExpr(text)
      return Either.isRight(parsed) ? Effect.succeed(parsed.right) : Effect.fail(invalid(`--${name}: ${parsed.left.message}`))
    }),
    Options.optional
  )

/** `--assert 'p99<800,err=0,rps>=50'`: checked on every stage; a failed check exits 1. Parsed at flag time (exit 2 when malformed). */
export const assertOption = exprOption(
  "assert",
  "CI gate: checks every stage must pass, e.g. 'p99<800,err=0,rps>=50,ttftP99<300'; prints each check, exits 1 if one fails"
)

/** `--slo 'p99<2000,ttftP99<500'`: the SLO whose highest passing level is reported (and whose per-request bounds count goodput). */
export const sloOption = exprOption(
  "slo",
  "Service-level objective, e.g. 'p99<2000,ttftP99<500': reports the highest level that meets it, and goodput"
)

/** "10%" or "10" → 10. */
export const parseMaxRegress = (text: string): number | string => {
  const m = /^\s*(\d+\.?\d*|\.\d+)\s*%?\s*$/.exec(text)
  return m === null ? `--max-regress must be a percentage >= 0 like 10%, got "${text}"` : Number(m[1])
}

const maxRegressOption = Options.text("max-regress").pipe(
  Options.withPseudoName("PCT"),
  Options.withDescription("Largest tolerated change for the worse, relative to the base run (default 10%)"),
  Options.mapEffect((t) => {
    const pct = parseMaxRegress(t)
    return typeof pct === "string" ? Effect.fail(invalid(pct)) : Effect.succeed(pct)
  }),
  Options.withDefault(10)
)

// ── effects ───────────────────────────────────────────────────────────────────────────────

/** One line: JSON.parse quotes the input, which may hold newlines. */
const oneLine = (text: string): string => text.replace(/\s*[\r\n]+\s*/g, " ")

const firstIssue = (e: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
  return issue === undefined ? e.message : `${issue.path.length > 0 ? `at ${issue.path.join(".")}: ` : ""}${issue.message}`
}

/** Larger than any results file; reading more would only exhaust memory (a device, a wrong file). */
const MAX_RESULTS_BYTES = 256 * 1024 * 1024

/**
 * Reads and decodes one results file (--json) through the results schema, histograms
 * included. Every failure is one `InvalidOptions` line naming the file (and the field), so
 * the CLI exits 2 for it as for any bad argument.
 */
export const readResults = Effect.fn("nomyo-load/readResults")(function* (path: string) {
  const fs = yield* FileSystem.FileSystem
  const bad = (detail: string) => new InvalidOptions({ flag: `results file ${path}`, detail: oneLine(detail) })
  const info = yield* fs.stat(path).pipe(
    Effect.mapError((e) => bad(e._tag === "SystemError" && e.reason === "NotFound" ? "no such file" : e.message))
  )
  if (info.type === "Directory") return yield* bad("is a folder, not a results file")
  if (info.type !== "File") return yield* bad("is not a regular file")
  if (Number(info.size) > MAX_RESULTS_BYTES) return yield* bad(`is ${Number(info.size)} bytes, larger than any results file`)
  const text = yield* fs.readFileString(path).pipe(Effect.mapError((e) => bad(e.message)))
  const json = yield* Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => bad(`not JSON (${(e as Error).message})`)
  })
  const version = typeof json === "object" && json !== null ? (json as { schemaVersion?: unknown }).schemaVersion : undefined
  if (version !== undefined && version !== 1) {
    return yield* bad(`schemaVersion ${JSON.stringify(version)} is not supported (this version of ${TOOL} reads schemaVersion 1)`)
  }
  return yield* decodeRunResult(json).pipe(Effect.mapError((e) => bad(`not a nomyo-load results file (${firstIssue(e)})`)))
})

const checkLine = (c: CheckResult, stage: StageResult): string => {
  const value = formatValue(c.value, lookupMetric(c.metric)?.unit)
  return `${c.pass ? "PASS" : "FAIL"} ${c.term} at ${levelLabel(stage)}: ${value}${c.value === undefined ? " (no data)" : ""}`
}

/**
 * Checks every stage against the --assert expression, prints one line per check and stage
 * (`PASS p99<800 at conc 32: 412.3`) and fails with `AssertionsFailed` when any check failed
 * or there was no stage to check.
 */
export const checkAssertions = Effect.fn("nomyo-load/checkAssertions")(function* (stages: ReadonlyArray<StageResult>, expr: Expr) {
  const failed: Array<string> = []
  let total = 0
  for (const stage of stages) {
    for (const c of evaluateExpr(stage, expr)) {
      total++
      yield* Console.log(checkLine(c, stage))
      if (!c.pass) failed.push(`${c.term} at ${levelLabel(stage)} (${formatValue(c.value, lookupMetric(c.metric)?.unit)})`)
    }
  }
  if (total === 0 || failed.length > 0) return yield* Effect.fail(new AssertionsFailed({ failed, total }))
})

/** The knee and SLO lines printed under the table (empty when the run has neither). */
export const formatVerdicts = (run: RunResult): string =>
  [run.knee !== undefined ? `knee: ${run.knee.reason}` : undefined, sloLine(run)].filter((l) => l !== undefined).join("\n")

const sloLine = (run: RunResult): string | undefined => {
  const slo = run.slo
  if (slo === undefined) return undefined
  if (slo.bestIndex === null) return `slo ${slo.expression}: no level met it`
  const best = run.stages[slo.bestIndex]
  return `slo ${slo.expression}: best level ${best !== undefined ? levelLabel(best) : slo.bestLevel}`
}

// ── commands ──────────────────────────────────────────────────────────────────────────────

const mergeHandler = (args: {
  readonly files: ReadonlyArray<string>
  readonly json: Option.Option<string>
  readonly slo: Option.Option<Expr>
  readonly assert: Option.Option<Expr>
}) =>
  Effect.gen(function* () {
    const jsonPath = Option.getOrUndefined(args.json)
    if (jsonPath !== undefined) yield* checkWritable(jsonPath, "--json")
    const runs = yield* Effect.forEach(args.files, (f) => readResults(f))
    let merged = yield* Effect.try({
      try: () => mergeRuns(runs, args.files),
      catch: (e) => (e instanceof MergeFailed ? e : new MergeFailed({ detail: String(e) }))
    })
    if (Option.isSome(args.slo)) merged = RunResult.make({ ...merged, slo: sloForResult(evaluateSlo(merged.stages, args.slo.value)) })
    const hosts = [...new Set(runs.map((r) => r.environment.hostname))]
    yield* Console.error(`merged ${runs.length} run${runs.length === 1 ? "" : "s"} from ${hosts.join(", ")}`)
    yield* Console.log(formatTable(merged.stages))
    const errs = formatErrors(merged.stages)
    if (errs) yield* Console.log(errs)
    const verdicts = formatVerdicts(merged)
    if (verdicts) yield* Console.log(verdicts)
    if (jsonPath !== undefined) {
      yield* writeResults(jsonPath, merged)
      yield* Console.error(`results written to ${jsonPath}`)
    }
    if (Option.isSome(args.assert)) yield* checkAssertions(merged.stages, args.assert.value)
  })

/** `nomyo-load merge a.json b.json … [--json all.json] [--slo …] [--assert …]` */
export const mergeCommand = Command.make(
  "merge",
  {
    files: Args.text({ name: "file" }).pipe(
      Args.withDescription("Results files (--json) of drivers that ran the same ramp at the same time"),
      Args.atLeast(1)
    ),
    json: Options.text("json").pipe(
      Options.withPseudoName("PATH"),
      Options.withDescription("Write the merged results as JSON to this path"),
      Options.optional
    ),
    slo: sloOption,
    assert: assertOption
  },
  mergeHandler
).pipe(
  Command.withDescription(
    "Combine the results of several drivers that ran in parallel into exact combined counts and percentiles (HDR histograms), and print the table"
  )
)

const compareHandler = (args: { readonly base: string; readonly next: string; readonly maxRegress: number }) =>
  Effect.gen(function* () {
    const base = yield* readResults(args.base)
    const next = yield* readResults(args.next)
    const comparison = yield* Effect.try({
      try: () => compareRuns(base, next, args.maxRegress),
      catch: (e) => (e instanceof CompareMismatch ? e : new CompareMismatch({ detail: String(e) }))
    })
    yield* Console.log(formatComparison(comparison))
    if (comparison.regressed) {
      return yield* Effect.fail(new RegressionFound({ maxRegressPct: args.maxRegress, regressions: comparison.regressions.map(describeRow) }))
    }
  })

/** `nomyo-load compare base.json new.json [--max-regress 10%]`: exit 1 on a regression beyond the bound. */
export const compareCommand = Command.make(
  "compare",
  {
    base: Args.text({ name: "base" }).pipe(Args.withDescription("Results file (--json) of the baseline run")),
    next: Args.text({ name: "new" }).pipe(Args.withDescription("Results file (--json) of the run to check")),
    maxRegress: maxRegressOption
  },
  compareHandler
).pipe(
  Command.withDescription(
    "Compare two runs of the same ramp per stage (p50, p99, ttftP99, rps, errRate, tokps); exit 1 when one got worse by more than --max-regress"
  )
)
