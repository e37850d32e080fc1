import { Schema } from "effect"
import { BOUNDS, intIn, numberIn, Port } from "../domain/Bounds.ts"

const ModelName = Schema.String.pipe(
  Schema.filter((s) => (s.length > 0 && s.trim() === s) || "each model name must be non-empty, without leading or trailing spaces")
)

/** Shaping of the built-in mock backend: the "fake GPU". Shared by the CLI and the library. */
export class MockOptions extends Schema.Class<MockOptions>("MockOptions")({
  /** Prefill latency before the first token, in ms. */
  ttftMs: Schema.optionalWith(numberIn(0, BOUNDS.mockMs.max, "ms"), { default: () => 20 }),
  /** Completion tokens emitted per response (the counts it reports equal this). */
  tokens: Schema.optionalWith(intIn(1, BOUNDS.mockTokens.max), { default: () => 32 }),
  /** Delay between tokens, in ms (0: all tokens as fast as the socket takes them). */
  tokMs: Schema.optionalWith(numberIn(0, BOUNDS.mockMs.max, "ms"), { default: () => 5 }),
  /** Model names advertised in /api/tags, /api/ps and /v1/models. */
  models: Schema.optionalWith(Schema.NonEmptyArray(ModelName), { default: () => ["mock"] as const }),
  /**
   * Parallel generation slots, like Ollama's OLLAMA_NUM_PARALLEL: responses beyond them wait,
   * first come first served, before their prefill starts. 0: unlimited.
   */
  slots: Schema.optionalWith(intIn(0, BOUNDS.mockSlots.max), { default: () => 0 }),
  /** Port to listen on; 0 picks a free one. */
  port: Schema.optionalWith(Port, { default: () => 0 }),
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" })
}) {}
