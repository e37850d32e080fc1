import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import { Either, Option, Schema } from "effect"
import { InvalidOptions } from "../Errors.ts"
import type { FlagSpec } from "./Argv.ts"
import { LoadOptions } from "../load/LoadOptions.ts"
import { MockOptions } from "../mock/MockOptions.ts"
import { BOUNDS } from "../domain/Bounds.ts"
import { decodeRunOptionsRaw, Expression, firstIssue, MockRouter, type Mode, RunOptions } from "../options/RunOptions.ts"
import { extraColumnNames } from "../report/Table.ts"
import { RouterOptions } from "../router/RouterOptions.ts"

/**
 * Every flag of the main command, defined once: name, alias, pseudo-name, group, description,
 * where its value goes in the RunOptions record, and the modes that use it. Defaults shown in
 * --help are read from the Schemas; values are judged by the Schemas (the CLI only splits lists
 * and reads numbers), so the CLI and the library accept and refuse the same things.
 */

/** A one-line usage error for flags parsed by @effect/cli itself (the subcommands'); exit 2. */
export const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

export type Group = "load" | "open loop" | "output" | "mock" | "router" | "ci"
export type ModeTag = Mode["_tag"]

/** How the text of a value becomes the value the Schema judges (never fails: "abc" becomes NaN). */
type Read = "int" | "number" | "intList" | "numberList" | "text" | "textList" | "intAsList" | "numberAsList"

export interface Flag {
  readonly name: string
  readonly alias?: string
  readonly group: Group
  readonly description: string
  readonly kind: "value" | "boolean" | "repeated"
  readonly pseudo?: string
  readonly read?: Read
  /** Where the value goes in the RunOptions record; absent for the CLI's own output flags. */
  readonly path?: ReadonlyArray<string>
  /** The value a boolean flag puts at `path`. */
  readonly value?: unknown
  /** For a boolean with a negation (`--no-stream` / `--stream`). */
  readonly negation?: string
  /** Flags sharing a slot set the same thing: at most one may be given. */
  readonly slot?: "mode" | "levels"
  /** The modes that use the flag; given in another, it is refused. */
  readonly modes: ReadonlyArray<ModeTag>
  /** Only meaningful in the open loop (--rate / --ramp-rate). */
  readonly openOnly?: boolean
  /** The default, as --help shows it (read from the Schemas). */
  readonly defaultText?: string
  /** The accepted range, as --help shows it. */
  readonly bound?: string
}

const ALL: ReadonlyArray<ModeTag> = ["Drive", "ServeMock", "MockDirect", "MockRouter"]
const LOAD: ReadonlyArray<ModeTag> = ["Drive", "MockDirect", "MockRouter"]
const MOCK: ReadonlyArray<ModeTag> = ["ServeMock", "MockDirect", "MockRouter"]
const ROUTER: ReadonlyArray<ModeTag> = ["MockRouter"]

/** The defaults, from the Schemas themselves. */
const run = RunOptions.make({})
const load = LoadOptions.make({})
const mock = MockOptions.make({})
const router = RouterOptions.make({})
const mockRouter = MockRouter.make({})
const n = (x: number) => x.toLocaleString("en-US")

export const FLAGS: ReadonlyArray<Flag> = [
  // ── load ──
  { name: "url", group: "load", kind: "value", pseudo: "URL", read: "text", path: ["mode", "url"], slot: "mode", modes: ["Drive"],
    description: "Router base URL to drive (default mode)", defaultText: load.url },
  { name: "api", group: "load", kind: "value", pseudo: "ollama|openai", read: "text", path: ["api"], modes: LOAD,
    description: "ollama: POST /api/chat (NDJSON); openai: POST /v1/chat/completions (SSE)", defaultText: run.api },
  { name: "no-stream", negation: "stream", group: "load", kind: "boolean", path: ["stream"], value: false, modes: LOAD,
    description: "--stream (default): streamed responses; --no-stream: one buffered response" },
  { name: "concurrency", alias: "c", group: "load", kind: "value", pseudo: "N", read: "intAsList", path: ["shape", "levels"], slot: "levels", modes: LOAD,
    description: "Concurrent virtual clients (closed loop)", defaultText: String(load.concurrency),
    bound: `1..${n(BOUNDS.concurrency.max)}` },
  { name: "duration", alias: "d", group: "load", kind: "value", pseudo: "SECONDS", read: "number", path: ["durationSeconds"], modes: LOAD,
    description: "Seconds of measured window per stage (not with --requests)", defaultText: String(run.durationSeconds),
    bound: `> 0, at most ${n(BOUNDS.durationSeconds.max)} (a week)` },
  { name: "requests", alias: "n", group: "load", kind: "value", pseudo: "N", read: "int", path: ["requests"], modes: LOAD,
    description: "Send exactly N measured requests per stage instead of a timed window (closed loop)", bound: `1..${n(BOUNDS.requests.max)}` },
  { name: "warmup", group: "load", kind: "value", pseudo: "SECONDS", read: "number", path: ["warmupSeconds"], modes: LOAD,
    description: "Unmeasured warmup seconds before each stage", defaultText: String(run.warmupSeconds),
    bound: `0..${n(BOUNDS.warmupSeconds.max)} (a day)` },
  { name: "timeout", group: "load", kind: "value", pseudo: "SECONDS", read: "number", path: ["timeoutSeconds"], modes: LOAD,
    description: "Per-request timeout in seconds", defaultText: String(run.timeoutSeconds),
    bound: `${BOUNDS.timeoutSeconds.min}..${n(BOUNDS.timeoutSeconds.max)}` },
  { name: "model", group: "load", kind: "value", pseudo: "NAME", read: "text", path: ["model"], modes: LOAD,
    description: "Model to request (must be one the backend advertises)", defaultText: `${load.model}, or the first --mock-models` },
  { name: "prompt", group: "load", kind: "value", pseudo: "TEXT", read: "text", path: ["prompt"], modes: LOAD,
    description: "User message sent in every request", defaultText: JSON.stringify(run.prompt) },
  { name: "ramp", group: "load", kind: "value", pseudo: "C1,C2,...", read: "intList", path: ["shape", "levels"], slot: "levels", modes: LOAD,
    description: "Sweep concurrency levels, one stage each, e.g. 8,32,64",
    bound: `each 1..${n(BOUNDS.concurrency.max)}, at most ${BOUNDS.levels} levels` },
  { name: "json", group: "output", kind: "value", pseudo: "PATH", read: "text", modes: LOAD,
    description: "Also write the full results as JSON to this path (checked before the run)" },
  // ── open loop ──
  { name: "rate", group: "open loop", kind: "value", pseudo: "REQ/S", read: "numberAsList", path: ["shape", "rates"], slot: "levels", modes: LOAD,
    description: "Open loop: send this many requests per second on schedule, whatever the responses do",
    bound: `> 0, at most ${n(BOUNDS.rate.max)}` },
  { name: "ramp-rate", group: "open loop", kind: "value", pseudo: "R1,R2,...", read: "numberList", path: ["shape", "rates"], slot: "levels", modes: LOAD,
    description: "Open-loop sweep: one stage per arrival rate, e.g. 5,10,20",
    bound: `each > 0, at most ${n(BOUNDS.rate.max)}; at most ${BOUNDS.levels} rates` },
  { name: "arrival", group: "open loop", kind: "value", pseudo: "constant|poisson", read: "text", path: ["shape", "arrival"], modes: LOAD, openOnly: true,
    description: "Arrival process: evenly spaced or Poisson", defaultText: load.arrival },
  { name: "seed", group: "open loop", kind: "value", pseudo: "N", read: "int", path: ["shape", "seed"], modes: LOAD, openOnly: true,
    description: "Seed of the Poisson arrival schedule", defaultText: String(load.seed), bound: "a safe integer" },
  { name: "max-inflight", group: "open loop", kind: "value", pseudo: "N", read: "int", path: ["shape", "maxInFlight"], modes: LOAD, openOnly: true,
    description: "Cap on requests in flight; arrivals beyond it wait and count as late starts", defaultText: String(load.maxInFlight),
    bound: `1..${n(BOUNDS.concurrency.max)}` },
  // ── output ──
  { name: "columns", group: "output", kind: "value", pseudo: "a,b,...", read: "textList", modes: LOAD,
    description: `Extra table columns: ${extraColumnNames.join(", ")}` },
  { name: "report", group: "output", kind: "value", pseudo: "PATH.html", read: "text", modes: LOAD,
    description: "Also write a self-contained HTML report (charts, histograms, errors, settings) to this path" },
  { name: "quiet", alias: "q", group: "output", kind: "boolean", modes: ALL,
    description: "No live progress line (it is shown only when stderr is a terminal anyway)" },
  // ── mock ──
  { name: "serve-mock", group: "mock", kind: "boolean", path: ["mode", "_tag"], value: "ServeMock", slot: "mode", modes: ALL,
    description: "Only run the mock backend until interrupted (point a hand-run router at it)" },
  { name: "mock-direct", group: "mock", kind: "boolean", path: ["mode", "_tag"], value: "MockDirect", slot: "mode", modes: ALL,
    description: "Start the mock in-process and drive it directly, no router (self-test, driver ceiling)" },
  { name: "mock-backend", group: "mock", kind: "boolean", path: ["mode", "_tag"], value: "MockRouter", slot: "mode", modes: ALL,
    description: "Start the mock and the router as a subprocess, drive load through the router, tear both down" },
  { name: "mock-ttft-ms", group: "mock", kind: "value", pseudo: "MS", read: "number", path: ["mode", "mock", "ttftMs"], modes: MOCK,
    description: "Mock prefill latency before the first token (ms)", defaultText: String(mock.ttftMs), bound: `0..${n(BOUNDS.mockMs.max)}` },
  { name: "mock-tokens", group: "mock", kind: "value", pseudo: "N", read: "int", path: ["mode", "mock", "tokens"], modes: MOCK,
    description: "Mock completion tokens per response", defaultText: String(mock.tokens), bound: `1..${n(BOUNDS.mockTokens.max)}` },
  { name: "mock-tok-ms", group: "mock", kind: "value", pseudo: "MS", read: "number", path: ["mode", "mock", "tokMs"], modes: MOCK,
    description: "Mock delay between tokens (ms)", defaultText: String(mock.tokMs), bound: `0..${n(BOUNDS.mockMs.max)}` },
  { name: "mock-models", group: "mock", kind: "value", pseudo: "M1,M2,...", read: "textList", path: ["mode", "mock", "models"], modes: MOCK,
    description: "Comma-separated model names the mock advertises", defaultText: mock.models.join(",") },
  { name: "mock-port", group: "mock", kind: "value", pseudo: "PORT", read: "int", path: ["mode", "mock", "port"], modes: MOCK,
    description: "Fixed mock port (0: a free port, printed at start)", defaultText: String(mock.port), bound: "0..65535" },
  { name: "mock-slots", group: "mock", kind: "value", pseudo: "N", read: "int", path: ["mode", "mock", "slots"], modes: MOCK,
    description:
      "Parallel generation slots per mock, like OLLAMA_NUM_PARALLEL: requests beyond them wait (first come, first served) " +
      "before their prefill starts, so queueing shows in TTFT. 0 = unlimited",
    defaultText: String(mock.slots), bound: `0..${n(BOUNDS.mockSlots.max)}` },
  // ── router ──
  { name: "router-cmd", group: "router", kind: "value", pseudo: "COMMAND", read: "text", path: ["mode", "router", "cmd"], modes: ROUTER,
    description:
      "Command that starts the router, run through /bin/sh in --router-dir. Placeholders {host} {port} {workers} {config} are " +
      "substituted; without {host}/{port}/{workers}, --host H --port P --workers N are appended. " +
      "E.g. --router-cmd \".venv/bin/uvicorn router:app --loop uvloop\"",
    defaultText: "uvicorn router:app" },
  { name: "router-dir", group: "router", kind: "value", pseudo: "DIR", read: "text", path: ["mode", "router", "dir"], modes: ROUTER,
    description: "Working folder of the router: its checkout, holding router.py and static/", defaultText: "the current folder" },
  { name: "router-port", group: "router", kind: "value", pseudo: "PORT", read: "int", path: ["mode", "router", "port"], modes: ROUTER,
    description: "Fixed port for the router (0: a free port)", defaultText: String(router.port), bound: "0..65535" },
  { name: "router-workers", group: "router", kind: "value", pseudo: "N", read: "int", path: ["mode", "router", "workers"], modes: ROUTER,
    description: "uvicorn --workers for the router", defaultText: String(router.workers), bound: `1..${BOUNDS.routerWorkers.max}` },
  { name: "router-max-conc", group: "router", kind: "value", pseudo: "N", read: "int", path: ["mode", "router", "maxConc"], modes: ROUTER,
    description:
      "max_concurrent_connections in the generated config. Set it low (e.g. 2) to see the router's admission limit; see the README",
    defaultText: "the run's peak concurrency", bound: `1..${n(BOUNDS.routerMaxConc.max)}` },
  { name: "router-config", group: "router", kind: "repeated", pseudo: "KEY=VALUE", read: "text", path: ["mode", "router", "configOverrides"], modes: ROUTER,
    description:
      "KEY=VALUE (VALUE as YAML) sets a top-level key of the generated config; KEY= removes it. Repeatable. " +
      "E.g. --router-config conversation_affinity= for router v0.7.1, which rejects that key" },
  { name: "router-start-timeout", group: "router", kind: "value", pseudo: "SECONDS", read: "number", path: ["mode", "router", "startTimeoutSeconds"], modes: ROUTER,
    description: "Seconds to wait for the router's first HTTP answer", defaultText: String(router.startTimeoutSeconds),
    bound: `> 0, at most ${n(BOUNDS.routerStartTimeoutSeconds.max)}` },
  { name: "router-log", group: "router", kind: "boolean", path: ["mode", "router", "log"], value: true, modes: ROUTER,
    description: "Echo the router's output to stderr, prefixed [router] (it always goes to router.log in the temp folder)" },
  { name: "keep-config", group: "router", kind: "boolean", path: ["mode", "router", "keepConfig"], value: true, modes: ROUTER,
    description: "Keep the temp folder with the generated config.yaml, router.log and token DB, and print where it is" },
  { name: "mock-backends", group: "router", kind: "value", pseudo: "N", read: "int", path: ["mode", "backends"], modes: ROUTER,
    description:
      "Start N mock backends behind the router (all shaped by the --mock-* flags; with --mock-port P they listen on P, P+1, …). " +
      "Each stage then shows how the router spread the requests over them",
    defaultText: String(mockRouter.backends), bound: `1..${BOUNDS.mockBackends.max}` },
  { name: "compare-direct", group: "router", kind: "boolean", path: ["mode", "compareDirect"], value: true, modes: ROUTER,
    description: "Also run every stage directly against the mock and print the router's overhead per stage (one mock backend only)" },
  // ── ci ──
  { name: "assert", group: "ci", kind: "value", pseudo: "EXPR", read: "text", modes: LOAD,
    description: "CI gate: checks every stage must pass, e.g. 'p99<800,err=0,rps>=50,ttftP99<300'; prints each check, exits 1 if one fails" },
  { name: "slo", group: "ci", kind: "value", pseudo: "EXPR", read: "text", path: ["slo"], modes: LOAD,
    description: "Service-level objective, e.g. 'p99<2000,ttftP99<500': reports the highest level that meets it, and goodput" }
]

export const flagByName = new Map(FLAGS.map((f) => [f.name, f]))

/** The spellings of every flag, for the argv pre-scan (Argv.ts). */
export const flagSpecs: ReadonlyArray<FlagSpec> = FLAGS.map((f) => ({
  names: [`--${f.name}`, ...(f.alias !== undefined ? [`-${f.alias}`] : []), ...(f.negation !== undefined ? [`--${f.negation}`] : [])],
  takesValue: f.kind !== "boolean",
  repeatable: f.kind === "repeated"
}))

const helpText = (f: Flag): string =>
  `[${f.group}] ${f.description}` +
  (f.defaultText !== undefined ? `. Default: ${f.defaultText}` : "") +
  (f.bound !== undefined ? `. Range: ${f.bound}` : "")

const toOption = (f: Flag): Options.Options<unknown> => {
  if (f.kind === "boolean") {
    const b = f.negation !== undefined ? Options.boolean(f.name, { ifPresent: false, negationNames: [f.negation] }) : Options.boolean(f.name)
    return (f.alias !== undefined ? b.pipe(Options.withAlias(f.alias)) : b).pipe(Options.withDescription(helpText(f)))
  }
  const t = Options.text(f.name).pipe(Options.withPseudoName(f.pseudo ?? "VALUE"))
  const aliased = f.alias !== undefined ? t.pipe(Options.withAlias(f.alias)) : t
  return f.kind === "repeated"
    ? aliased.pipe(Options.repeated, Options.withDescription(helpText(f)))
    : aliased.pipe(Options.withDescription(helpText(f)), Options.optional)
}

/** The main command's options: every flag as raw text (or a boolean), judged later by the Schema. */
export const options: Options.Options<Readonly<Record<string, unknown>>> = Options.all(
  Object.fromEntries(FLAGS.map((f) => [f.name, toOption(f)]))
) as Options.Options<Readonly<Record<string, unknown>>>

/** The flags given on the command line, with their raw values (text, list of texts, or true). */
export type Given = ReadonlyArray<{ readonly flag: Flag; readonly raw: string | ReadonlyArray<string> | true }>

/** The given flags out of the parsed option record (a boolean counts as given when it differs from its default). */
export const givenFlags = (parsed: Readonly<Record<string, unknown>>): Given =>
  FLAGS.flatMap((flag): Given => {
    const v = parsed[flag.name]
    if (flag.kind === "boolean") return v === (flag.negation !== undefined ? false : true) ? [{ flag, raw: true as const }] : []
    if (flag.kind === "repeated") return Array.isArray(v) && v.length > 0 ? [{ flag, raw: v as ReadonlyArray<string> }] : []
    return Option.isOption(v) && Option.isSome(v) ? [{ flag, raw: v.value as string }] : []
  })

// ── reading values ────────────────────────────────────────────────────────────────────────

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const num = (t: string): number => (NUMBER.test(t.trim()) ? Number(t) : NaN)
const split = (t: string) => t.split(",").map((p) => p.trim())

const readValue = (read: Read, text: string): unknown => {
  switch (read) {
    case "int":
    case "number":
      return num(text)
    case "intAsList":
    case "numberAsList":
      return [num(text)]
    case "intList":
    case "numberList":
      return split(text).map(num)
    case "textList":
      return split(text)
    case "text":
      return text
  }
}

// ── assembling RunOptions ─────────────────────────────────────────────────────────────────

const MODE_FLAG: Record<ModeTag, string> = {
  Drive: "--url (drive mode, the default)",
  ServeMock: "--serve-mock",
  MockDirect: "--mock-direct",
  MockRouter: "--mock-backend"
}

const orList = (xs: ReadonlyArray<string>) => (xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} or ${xs[xs.length - 1]}`)

const where = (f: Flag): string => {
  if (f.modes.length === 3 && !f.modes.includes("ServeMock")) return "not used with --serve-mock (it only serves the mock)"
  return `only used with ${orList(f.modes.map((m) => MODE_FLAG[m]))}`
}

const SLOT_LABEL = {
  mode: "mode (--url drives a running server; --serve-mock, --mock-direct and --mock-backend start their own)",
  levels: "way to set the load levels (-c, --ramp, --rate or --ramp-rate)"
} as const

const refuse = (flag: string, detail: string) => Either.left(new InvalidOptions({ flag, detail }))

const setPath = (record: Record<string, unknown>, path: ReadonlyArray<string>, value: unknown) => {
  let at = record
  for (const key of path.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>
  at[path[path.length - 1]!] = value
}

/** What the CLI writes and checks besides the run itself. */
export interface Output {
  readonly json: string | undefined
  readonly report: string | undefined
  readonly quiet: boolean
  readonly columns: ReadonlyArray<string>
  readonly assert: string | undefined
}

const Columns = Schema.Array(
  Schema.String.pipe(Schema.filter((c) => extraColumnNames.includes(c) || `unknown column "${c}"; choose from ${extraColumnNames.join(", ")}`))
)

const VALUE_PROBLEM = /^(must|each|at most|Expected|is missing)/

/**
 * The given flags → RunOptions (decoded once by its Schema) and the CLI's output settings. Every
 * failure is one InvalidOptions naming the flag: two flags for one setting, a flag its mode does
 * not use, or the first value the Schema refuses.
 */
export const assemble = (given: Given): Either.Either<{ readonly options: RunOptions; readonly output: Output }, InvalidOptions> => {
  for (const slot of ["mode", "levels"] as const) {
    const clash = given.filter((g) => g.flag.slot === slot)
    if (clash.length > 1) return refuse(clash.map((g) => `--${g.flag.name}`).join(" and "), `pick one ${SLOT_LABEL[slot]}`)
  }
  const modeFlag = given.find((g) => g.flag.slot === "mode" && g.flag.kind === "boolean")
  const mode = (modeFlag?.flag.value ?? "Drive") as ModeTag
  const open = given.some((g) => g.flag.path?.[1] === "rates")
  for (const { flag } of given) {
    if (!flag.modes.includes(mode)) return refuse(`--${flag.name}`, where(flag))
    if (flag.openOnly === true && !open) return refuse(`--${flag.name}`, "only used in the open loop (with --rate or --ramp-rate)")
  }

  const record: Record<string, unknown> = { mode: { _tag: mode }, shape: { _tag: open ? "Open" : "Closed" } }
  for (const { flag, raw } of given) {
    if (flag.path === undefined) continue
    const value = raw === true ? flag.value : typeof raw === "string" ? readValue(flag.read ?? "text", raw) : raw
    setPath(record, flag.path, value)
  }
  const decoded = decodeRunOptionsRaw(record)
  if (Either.isLeft(decoded)) {
    const issue = firstIssue(decoded.left)
    const key = issue.path.map(String)
    // The given flag whose path is the longest prefix of the issue's path names the fault.
    const culprit = given
      .filter((g) => g.flag.path !== undefined && g.flag.path.every((p, i) => key[i] === p))
      .sort((a, b) => b.flag.path!.length - a.flag.path!.length)[0]
    const name = culprit !== undefined ? `--${culprit.flag.name}` : key.join(".")
    const got = culprit !== undefined && VALUE_PROBLEM.test(issue.message) ? `, got ${JSON.stringify(culprit.raw)}` : ""
    // A message that already names its flag (e.g. RouterOptions' --router-config check) is not prefixed twice.
    const detail = issue.message.startsWith(`${name}: `) ? issue.message.slice(name.length + 2) : issue.message
    return refuse(name, `${detail}${got}`)
  }

  const text = (name: string): string | undefined => {
    const g = given.find((x) => x.flag.name === name)
    return g !== undefined && typeof g.raw === "string" ? g.raw : undefined
  }
  const columnsText = text("columns")
  const columns = Schema.decodeUnknownEither(Columns)(columnsText !== undefined ? split(columnsText) : [])
  if (Either.isLeft(columns)) return refuse("--columns", firstIssue(columns.left).message)
  const assert = text("assert")
  if (assert !== undefined) {
    const checked = Schema.decodeUnknownEither(Expression)(assert)
    if (Either.isLeft(checked)) return refuse("--assert", firstIssue(checked.left).message)
  }
  for (const name of ["json", "report"]) {
    if (text(name)?.trim() === "") return refuse(`--${name}`, "must not be empty")
  }
  return Either.right({
    options: decoded.right,
    output: {
      json: text("json"),
      report: text("report"),
      quiet: given.some((g) => g.flag.name === "quiet"),
      columns: columns.right,
      assert
    }
  })
}
