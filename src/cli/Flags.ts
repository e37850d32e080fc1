import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import { Effect, Option } from "effect"
import { DEFAULT_PROMPT } from "../load/LoadOptions.ts"
import { extraColumnNames } from "../report/Table.ts"

/** A one-line usage error naming the flag; @effect/cli prints it and we exit 2. */
export const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** A numeric flag parsed by us, so every message names the flag ("'abc' is not a integer" does not). */
export const numberFlag = (name: string, pseudo: string, ok: (n: number) => boolean, expects: string) =>
  Options.text(name).pipe(
    Options.withPseudoName(pseudo),
    Options.mapEffect((t) => {
      const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t.trim()) ? Number(t) : NaN
      return Number.isFinite(n) && ok(n) ? Effect.succeed(n) : Effect.fail(invalid(`--${name} must be ${expects}, got "${t}"`))
    })
  )

export const positiveInt = (name: string) => numberFlag(name, "N", (n) => Number.isInteger(n) && n > 0, "a positive integer")
export const positiveNumber = (name: string) => numberFlag(name, "SECONDS", (n) => n > 0, "a number > 0")
export const nonNegativeNumber = (name: string, pseudo = "SECONDS") => numberFlag(name, pseudo, (n) => n >= 0, "a number >= 0")
export const portFlag = (name: string) =>
  numberFlag(name, "PORT", (n) => Number.isInteger(n) && n > 0 && n < 65536, "a port number 1-65535")

/** "8,32,64" → [8, 32, 64]; anything else is a clear error. */
export const parseLevels = (text: string): ReadonlyArray<number> | string => {
  const parts = text.split(",").map((p) => p.trim())
  if (parts.length === 0 || parts.some((p) => !/^[0-9]+$/.test(p) || Number(p) <= 0)) {
    return `--ramp expects comma-separated positive integers, e.g. 8,32,64; got "${text}"`
  }
  return parts.map(Number)
}

// ── load shape ────────────────────────────────────────────────────────────────────────────
export const load = Options.all({
  url: Options.text("url").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription("[load] Router base URL to drive (default mode). Default http://127.0.0.1:12434"),
    Options.mapEffect((u) => {
      try {
        const parsed = new URL(u)
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error()
        return Effect.succeed(u)
      } catch {
        return Effect.fail(invalid(`--url must be an http:// or https:// URL, got "${u}"`))
      }
    }),
    Options.optional
  ),
  api: Options.text("api").pipe(
    Options.withPseudoName("ollama|openai"),
    Options.withDescription("[load] ollama: POST /api/chat (NDJSON); openai: POST /v1/chat/completions (SSE). Default ollama"),
    Options.mapEffect((t) =>
      t === "ollama" || t === "openai"
        ? Effect.succeed<"ollama" | "openai">(t)
        : Effect.fail(invalid(`--api must be ollama or openai, got "${t}"`))
    ),
    Options.withDefault("ollama" as "ollama" | "openai")
  ),
  stream: Options.boolean("no-stream", { ifPresent: false, negationNames: ["stream"] }).pipe(
    Options.withDescription("[load] --stream (default): streamed responses; --no-stream: one buffered response")
  ),
  concurrency: positiveInt("concurrency").pipe(
    Options.withAlias("c"),
    Options.withDescription("[load] Concurrent virtual clients (closed loop)"),
    Options.withDefault(32)
  ),
  duration: positiveNumber("duration").pipe(
    Options.withAlias("d"),
    Options.withDescription("[load] Seconds of measured window per stage (ignored with --requests)"),
    Options.withDefault(20)
  ),
  requests: positiveInt("requests").pipe(
    Options.withAlias("n"),
    Options.withDescription("[load] Send exactly N measured requests per stage instead of a timed window"),
    Options.optional
  ),
  warmup: nonNegativeNumber("warmup").pipe(
    Options.withDescription("[load] Unmeasured warmup seconds before each stage"),
    Options.withDefault(2)
  ),
  timeout: positiveNumber("timeout").pipe(Options.withDescription("[load] Per-request timeout in seconds"), Options.withDefault(120)),
  model: Options.text("model").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("[load] Model to request (must be one the backend advertises). Default: mock, or the first --mock-models"),
    Options.optional
  ),
  prompt: Options.text("prompt").pipe(
    Options.withPseudoName("TEXT"),Options.withDescription("[load] User message sent in every request"), Options.withDefault(DEFAULT_PROMPT)),
  ramp: Options.text("ramp").pipe(
    Options.withPseudoName("C1,C2,..."),
    Options.withDescription("[load] Sweep concurrency levels, one stage each, e.g. 8,32,64"),
    Options.mapEffect((t) => {
      const levels = parseLevels(t)
      return typeof levels === "string" ? Effect.fail(invalid(levels)) : Effect.succeed(levels)
    }),
    Options.optional
  ),
  json: Options.text("json").pipe(
    Options.withPseudoName("PATH"),Options.withDescription("[load] Also write the full results as JSON to this path"), Options.optional)
})

/** "5,10,20" or "2.5,5" → rates; anything else is a clear error. */
export const parseRates = (text: string): ReadonlyArray<number> | string => {
  const parts = text.split(",").map((p) => p.trim())
  if (parts.some((p) => !/^(\d+\.?\d*|\.\d+)$/.test(p) || Number(p) <= 0)) {
    return `--ramp-rate expects comma-separated rates > 0 in requests/s, e.g. 5,10,20; got "${text}"`
  }
  return parts.map(Number)
}

// ── open loop and output ──────────────────────────────────────────────────────────────────
export const openLoop = Options.all({
  rate: positiveNumber("rate").pipe(
    Options.withPseudoName("REQ/S"),
    Options.withDescription("[open loop] Open loop: send this many requests per second on schedule, whatever the responses do"),
    Options.optional
  ),
  rampRate: Options.text("ramp-rate").pipe(
    Options.withPseudoName("R1,R2,..."),
    Options.withDescription("[open loop] Open-loop sweep: one stage per arrival rate, e.g. 5,10,20"),
    Options.mapEffect((t) => {
      const rates = parseRates(t)
      return typeof rates === "string" ? Effect.fail(invalid(rates)) : Effect.succeed(rates)
    }),
    Options.optional
  ),
  arrival: Options.text("arrival").pipe(
    Options.withPseudoName("constant|poisson"),
    Options.withDescription("[open loop] Open-loop arrival process: evenly spaced (default) or Poisson"),
    Options.mapEffect((t) =>
      t === "constant" || t === "poisson"
        ? Effect.succeed<"constant" | "poisson">(t)
        : Effect.fail(invalid(`--arrival must be constant or poisson, got "${t}"`))
    ),
    Options.withDefault("constant" as "constant" | "poisson")
  ),
  seed: Options.text("seed").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("[open loop] Seed of the Poisson arrival schedule (default 1)"),
    Options.mapEffect((t) => (/^-?\d+$/.test(t) ? Effect.succeed(Number(t)) : Effect.fail(invalid(`--seed must be an integer, got "${t}"`)))),
    Options.withDefault(1)
  ),
  maxInFlight: positiveInt("max-inflight").pipe(
    Options.withDescription("[open loop] Open loop: cap on requests in flight; arrivals beyond it wait and count as late starts (default 1024)"),
    Options.withDefault(1024)
  ),
  columns: Options.text("columns").pipe(
    Options.withPseudoName("a,b,..."),
    Options.withDescription(`[output] Extra table columns: ${extraColumnNames.join(", ")}`),
    Options.mapEffect((t) => {
      const names = t.split(",").map((s) => s.trim())
      const bad = names.filter((n) => !extraColumnNames.includes(n))
      return bad.length > 0
        ? Effect.fail(invalid(`--columns: unknown column ${bad.map((b) => `"${b}"`).join(", ")}; choose from ${extraColumnNames.join(", ")}`))
        : Effect.succeed(names as ReadonlyArray<string>)
    }),
    Options.withDefault([] as ReadonlyArray<string>)
  )
})

// ── mock backend ──────────────────────────────────────────────────────────────────────────
export const mock = Options.all({
  serveMock: Options.boolean("serve-mock").pipe(
    Options.withDescription("[mock] Only run the mock backend until interrupted (point a hand-run router at it)")
  ),
  mockDirect: Options.boolean("mock-direct").pipe(
    Options.withDescription("[mock] Start the mock in-process and drive it directly, no router (self-test, driver ceiling)")
  ),
  mockBackend: Options.boolean("mock-backend").pipe(
    Options.withDescription("[mock] Start the mock and the router as a subprocess, drive load through the router, tear both down")
  ),
  ttftMs: nonNegativeNumber("mock-ttft-ms", "MS").pipe(Options.withDescription("[mock] Mock prefill latency before the first token (ms)"), Options.withDefault(20)),
  tokens: positiveInt("mock-tokens").pipe(Options.withDescription("[mock] Mock completion tokens per response"), Options.withDefault(32)),
  tokMs: nonNegativeNumber("mock-tok-ms", "MS").pipe(Options.withDescription("[mock] Mock delay between tokens (ms)"), Options.withDefault(5)),
  models: Options.text("mock-models").pipe(
    Options.withPseudoName("M1,M2,..."),
    Options.withDescription("[mock] Comma-separated model names the mock advertises"),
    Options.mapEffect((t) => {
      const names = t.split(",").map((s) => s.trim())
      return names.some((n) => n.length === 0)
        ? Effect.fail(invalid(`--mock-models expects comma-separated model names, got "${t}"`))
        : Effect.succeed(names)
    }),
    Options.withDefault(["mock"] as ReadonlyArray<string>)
  ),
  port: portFlag("mock-port").pipe(Options.withDescription("[mock] Fixed mock port (default: a free port, printed at start)"), Options.optional),
  slots: numberFlag("mock-slots", "N", (n) => Number.isInteger(n) && n >= 0 && n <= 1_000_000, "an integer >= 0").pipe(
    Options.withDescription(
      "[mock] Parallel generation slots per mock, like OLLAMA_NUM_PARALLEL: requests beyond them wait (first come, first served) " +
        "before their prefill starts, so queueing shows in TTFT. 0 = unlimited (default)"
    ),
    Options.withDefault(0)
  )
})

type OptionValue<T> = T extends Options.Options<infer A> ? A : never
export type LoadFlags = OptionValue<typeof load>
export type MockFlags = OptionValue<typeof mock>
export type OpenLoopFlags = OptionValue<typeof openLoop>
export const getOr = <A>(o: Option.Option<A>, fallback: A): A => Option.getOrElse(o, () => fallback)
