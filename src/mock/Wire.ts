import type { ModelVariant } from "./Models.ts"

/** What a wire format reads from a response in progress. */
export interface WireState {
  readonly variant: ModelVariant
  /** Completion tokens this response carries. */
  readonly tokens: number
  readonly promptTokens: number
  /** OpenAI streams: `stream_options.include_usage` was true. */
  readonly includeUsage: boolean
  /** Per-server sequence number (OpenAI `id`). */
  readonly id: number
  /** Unix seconds at arrival (OpenAI `created`). */
  readonly created: number
  /** `performance.now()` at arrival, and when the first token went out (or was due, buffered). */
  readonly startedAt: number
  readonly firstTokenAt: number
  /** A per-response prefix a wire builds once in `begin` and reuses on every line. */
  head: string
}

/**
 * One response format (Ollama chat or generate NDJSON, OpenAI chat or completions SSE). Lines are
 * built from pre-encoded constant parts plus the few per-response or per-tick strings, so a
 * token costs two or three string concatenations.
 */
export interface Wire {
  /** Response headers of a streamed reply. */
  readonly streamHeaders: Readonly<Record<string, string>>
  /** Called once before the first line of a stream. */
  begin(s: WireState): void
  /** The text of content token `i` (0-based); token 0 carries any stream preamble. */
  token(s: WireState, i: number, iso: string): string
  /** Everything after the last content token: the final line(s) and terminator. */
  end(s: WireState, iso: string, now: number): string
  /** A buffered (non-stream) reply. */
  whole(s: WireState, iso: string, now: number): string
}

/** Milliseconds (a `performance.now()` difference) to whole nanoseconds, never negative. */
export const nanos = (ms: number): number => (ms > 0 ? Math.round(ms * 1e6) : 0)
