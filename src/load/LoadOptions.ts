import { Schema } from "effect"

export const Api = Schema.Literal("ollama", "openai")
export type Api = typeof Api.Type

export const DEFAULT_PROMPT = "Say hello in one short sentence."

const PositiveInt = Schema.Int.pipe(Schema.positive())

/** One stage's load shape. Shared by the CLI and the library; defaults as MISSION.md. */
export class LoadOptions extends Schema.Class<LoadOptions>("LoadOptions")({
  /** Base URL of the router (or any Ollama/OpenAI-compatible server). */
  url: Schema.optionalWith(Schema.String, { default: () => "http://127.0.0.1:12434" }),
  api: Schema.optionalWith(Api, { default: () => "ollama" as const }),
  stream: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Closed-loop virtual clients. */
  concurrency: Schema.optionalWith(PositiveInt, { default: () => 32 }),
  /** Measured window in seconds (ignored when `requests` is set). */
  durationSeconds: Schema.optionalWith(Schema.Positive, { default: () => 20 }),
  /** Exactly this many measured requests instead of a timed window. */
  requests: Schema.optional(PositiveInt),
  /** Unmeasured warmup before the window, in seconds. */
  warmupSeconds: Schema.optionalWith(Schema.NonNegative, { default: () => 2 }),
  /** Per-request timeout in seconds. */
  timeoutSeconds: Schema.optionalWith(Schema.Positive, { default: () => 120 }),
  model: Schema.optionalWith(Schema.NonEmptyString, { default: () => "mock" }),
  prompt: Schema.optionalWith(Schema.String, { default: () => DEFAULT_PROMPT }),
  /** Tokens every response must carry (set when the mock is ours); a mismatch counts as `token_mismatch`. */
  expectTokens: Schema.optional(PositiveInt)
}) {}

/** A sweep of concurrency levels, one stage each. */
export class RampOptions extends Schema.Class<RampOptions>("RampOptions")({
  load: LoadOptions,
  levels: Schema.NonEmptyArray(PositiveInt)
}) {}
