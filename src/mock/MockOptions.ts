import { Schema } from "effect"

/** Shaping of the built-in mock backend: the "fake GPU". Shared by the CLI and the library. */
export class MockOptions extends Schema.Class<MockOptions>("MockOptions")({
  /** Prefill latency before the first token, in ms. */
  ttftMs: Schema.optionalWith(Schema.NonNegative, { default: () => 20 }),
  /** Completion tokens emitted per response (the counts it reports equal this). */
  tokens: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 32 }),
  /** Delay between tokens, in ms (0: all tokens as fast as the socket takes them). */
  tokMs: Schema.optionalWith(Schema.NonNegative, { default: () => 5 }),
  /** Model names advertised in /api/tags, /api/ps and /v1/models. */
  models: Schema.optionalWith(Schema.NonEmptyArray(Schema.NonEmptyTrimmedString), { default: () => ["mock"] as const }),
  /**
   * Parallel generation slots, like Ollama's OLLAMA_NUM_PARALLEL: responses beyond them wait,
   * first come first served, before their prefill starts. 0: unlimited.
   */
  slots: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 1_000_000)), { default: () => 0 }),
  /** Port to listen on; 0 picks a free one. */
  port: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { default: () => 0 }),
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" })
}) {}
