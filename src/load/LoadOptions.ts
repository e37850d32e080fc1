import { Schema } from "effect"
import { Api } from "../domain/Api.ts"
import { BOUNDS, Concurrency, HttpUrl, intIn, nonEmptyText, numberAbove, numberIn, Rate, safeInt } from "../domain/Bounds.ts"


export const DEFAULT_PROMPT = "Say hello in one short sentence."

const GoodputThresholds = Schema.Struct({
  latencyMs: Schema.optional(Schema.Positive),
  ttftMs: Schema.optional(Schema.Positive),
  tpotMs: Schema.optional(Schema.Positive),
  ttfbMs: Schema.optional(Schema.Positive)
})

/**
 * One stage's load shape. Shared by the CLI and the library; defaults as MISSION.md, bounds as
 * domain/Bounds.ts (the same rules the CLI applies to its flags).
 */
export class LoadOptions extends Schema.Class<LoadOptions>("LoadOptions")({
  /** Base URL of the router (or any Ollama/OpenAI-compatible server). */
  url: Schema.optionalWith(HttpUrl, { default: () => "http://127.0.0.1:12434" }),
  api: Schema.optionalWith(Api, { default: () => "ollama" as const }),
  stream: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Closed-loop virtual clients. */
  concurrency: Schema.optionalWith(Concurrency, { default: () => 32 }),
  /** Measured window in seconds (ignored when `requests` is set). */
  durationSeconds: Schema.optionalWith(numberAbove(0, BOUNDS.durationSeconds.max, "seconds"), { default: () => 20 }),
  /** Exactly this many measured requests instead of a timed window. */
  requests: Schema.optional(intIn(1, BOUNDS.requests.max)),
  /** Unmeasured warmup before the window, in seconds. */
  warmupSeconds: Schema.optionalWith(numberIn(0, BOUNDS.warmupSeconds.max, "seconds"), { default: () => 2 }),
  /** Per-request timeout in seconds. */
  timeoutSeconds: Schema.optionalWith(numberIn(BOUNDS.timeoutSeconds.min, BOUNDS.timeoutSeconds.max, "seconds"), { default: () => 120 }),
  model: Schema.optionalWith(nonEmptyText, { default: () => "mock" }),
  prompt: Schema.optionalWith(Schema.String, { default: () => DEFAULT_PROMPT }),
  /** Tokens every response must carry (set when the mock is ours); a mismatch counts as `token_mismatch`. */
  expectTokens: Schema.optional(intIn(1, BOUNDS.mockTokens.max)),
  /**
   * Open loop: requests per second, sent on schedule whatever the responses do (latency is
   * measured from each request's scheduled start). Absent: closed loop with `concurrency` clients.
   */
  rate: Schema.optional(Rate),
  /** Arrival process for `rate`: evenly spaced, or Poisson (exponential gaps, seeded). */
  arrival: Schema.optionalWith(Schema.Literal("constant", "poisson").annotations({ message: () => ({ message: "must be constant or poisson", override: true }) }), {
    default: () => "constant" as const
  }),
  /** Seed of the Poisson arrival process (same seed, same schedule). */
  seed: Schema.optionalWith(safeInt, { default: () => 1 }),
  /** Open loop: at most this many requests in flight; arrivals beyond it wait and count as late starts. */
  maxInFlight: Schema.optionalWith(Concurrency, { default: () => 1024 }),
  /** Per-request SLO for goodput: a request is good when ok and within every threshold given. */
  goodputSlo: Schema.optional(GoodputThresholds)
}) {}

/** A sweep, one stage per level: concurrency levels (closed loop) or arrival rates (open loop). */
export class RampOptions extends Schema.Class<RampOptions>("RampOptions")({
  load: LoadOptions,
  levels: Schema.NonEmptyArray(Schema.Positive),
  /** What the levels are: virtual clients (default) or requests per second. */
  vary: Schema.optionalWith(Schema.Literal("concurrency", "rate"), { default: () => "concurrency" as const })
}) {}
