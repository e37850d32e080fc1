import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Console, Effect, Exit } from "effect"
import { compareCommand, mergeCommand } from "../../src/cli/AnalysisCommands.ts"
import { exitCode } from "../../src/cli/Exit.ts"
import { Environment, RunResult, StageResult, Summary } from "../../src/domain/Results.ts"
import { makeHistogram, recordMs, summarize } from "../../src/stats/Histogram.ts"

/** A deterministic PRNG (Park–Miller), so synthetic data is the same every run. */
export const prng = (seed: number) => {
  let s = seed
  return () => {
    s = (s * 16807) % 2147483647
    return s / 2147483647
  }
}

export const summaryOf = (valuesMs: ReadonlyArray<number>): Summary => {
  const h = makeHistogram()
  for (const v of valuesMs) recordMs(h, v)
  return summarize(h)
}

const EMPTY = summaryOf([])

/**
 * A summary with exactly the given p50/p99 (what knee, SLO and compare read), backed by a
 * real histogram of `count` samples shaped like it (so merging still works, approximately).
 */
export const fakeSummary = (p: { readonly p50?: number; readonly p99: number; readonly count?: number }): Summary => {
  const count = p.count ?? 100
  const p50 = p.p50 ?? p.p99 / 2
  const values: Array<number> = []
  for (let i = 0; i < count; i++) {
    const q = (i + 1) / count
    values.push(q <= 0.5 ? p50 * (0.5 + q) : q < 0.97 ? p50 + ((p.p99 - p50) * (q - 0.5)) / 0.47 : q < 1 ? p.p99 : p.p99 * 1.2)
  }
  const real = summaryOf(values)
  return Summary.make({ ...real, mean: p50, p50, p90: p50 + (p.p99 - p50) * 0.85, p99: p.p99, p999: p.p99 * 1.1, max: p.p99 * 1.2 })
}

export interface StageSpec {
  readonly index?: number
  readonly conc?: number
  readonly rate?: number
  readonly okRps?: number
  readonly p99?: number
  readonly p50?: number
  readonly ttftP99?: number
  readonly ok?: number
  readonly errors?: number
  readonly stream?: boolean
  readonly latency?: Summary
  readonly ttft?: Summary
  readonly tokps?: number
  readonly goodput?: number
  readonly goodRequests?: number
  readonly interrupted?: boolean
}

export const makeStage = (o: StageSpec): StageResult => {
  const ok = o.ok ?? (o.latency?.count ?? 100)
  const errors = o.errors ?? 0
  const okRps = o.okRps ?? ok / 10
  const stream = o.stream ?? true
  const open = o.rate !== undefined
  return StageResult.make({
    index: o.index ?? 0,
    loadModel: open ? "open" : "closed",
    concurrency: o.conc ?? (open ? 0 : 8),
    rate: o.rate,
    arrival: open ? "constant" : undefined,
    achievedRate: open ? o.rate : undefined,
    api: "ollama",
    stream,
    url: "http://127.0.0.1:1",
    startedAt: "2025-01-01T00:00:00.000Z",
    windowSeconds: 10,
    drainSeconds: 0.1,
    interrupted: o.interrupted ?? false,
    requests: ok + errors,
    ok,
    errors,
    errorsByClass: errors > 0 ? { http_503: errors } : {},
    errorSamples: errors > 0 ? { http_503: "queue full" } : {},
    rps: okRps + errors / 10,
    okRps,
    warmupRequests: 0,
    latency: o.latency ?? (ok === 0 ? EMPTY : fakeSummary({ p99: o.p99 ?? 100, ...(o.p50 !== undefined ? { p50: o.p50 } : {}) })),
    ttft: o.ttft ?? (stream && ok > 0 ? fakeSummary({ p99: o.ttftP99 ?? 20 }) : EMPTY),
    ttfb: EMPTY,
    itl: EMPTY,
    tpot: EMPTY,
    outputChunks: ok * 32,
    reportedTokens: ok * 32,
    outputTokensPerSecond: o.tokps ?? okRps * 32,
    goodput: o.goodput,
    goodRequests: o.goodRequests
  })
}

/** A ramp: one stage per (level, okRps, p99) point. */
export const ramp = (points: ReadonlyArray<readonly [level: number, okRps: number, p99: number, errors?: number]>, open = false) =>
  points.map(([level, okRps, p99, errors], index) =>
    makeStage({ index, ...(open ? { rate: level } : { conc: level }), okRps, p99, ok: Math.round(okRps * 10), errors: errors ?? 0 })
  )

export const makeRun = (stages: ReadonlyArray<StageResult>, hostname = "driver-0", extra: Partial<RunResult> = {}): RunResult =>
  RunResult.make({
    schemaVersion: 1,
    mode: "drive",
    settings: { levels: stages.map((s) => s.concurrency) },
    environment: Environment.make({
      tool: "nomyo-load",
      toolVersion: "0.1.0",
      runtime: "node",
      runtimeVersion: "20",
      platform: "linux",
      arch: "x64",
      cpus: 2,
      hostname,
      startedAt: "2025-01-01T00:00:00.000Z"
    }),
    stages,
    interrupted: false,
    ...extra
  })

export interface CliOutcome {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly exit: Exit.Exit<unknown, unknown>
}

/** Runs `self` with log/error captured into the arrays. */
const captured = <A, E, R>(self: Effect.Effect<A, E, R>, out: Array<string>, err: Array<string>): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) => {
    const text = (args: ReadonlyArray<unknown>) => args.map(String).join(" ")
    const console: Console.Console = {
      ...base,
      log: (...args) => Effect.sync(() => void out.push(text(args))),
      error: (...args) => Effect.sync(() => void err.push(text(args)))
    }
    return Effect.withConsole(self, console)
  })

const root = Command.make("nomyo-load").pipe(Command.withSubcommands([mergeCommand, compareCommand]))

/** Runs `nomyo-load <argv>` (merge/compare only) in-process, with the exit code bin.ts would use. */
export const runAnalysisCli = async (argv: ReadonlyArray<string>, command: Command.Command<any, any, any, any> = root): Promise<CliOutcome> => {
  const out: Array<string> = []
  const err: Array<string> = []
  const program = Command.run(command, { name: "nomyo-load", version: "0.1.0" })(["node", "nomyo-load", ...argv]) as Effect.Effect<
    void,
    unknown,
    NodeContext.NodeContext
  >
  const exit = await Effect.runPromiseExit(captured(program, out, err).pipe(Effect.provide(NodeContext.layer)))
  return { code: exitCode(exit), stdout: out.join("\n"), stderr: err.join("\n"), exit }
}
