import type { ErrorClass } from "../../domain/ErrorClass.ts"
import { MAX_LINE_BYTES } from "./LineReader.ts"

/**
 * What a response parser learned about one response. Reused across requests by a virtual
 * client (reset() between them) so the hot path allocates nothing per request for it.
 */
export class ParseState {
  /** Chunks (lines or events) that carried non-empty completion text. */
  contentChunks = 0
  /** performance.now() of the socket read that delivered the first / last content chunk; -1 if none. */
  firstContentAt = -1
  lastContentAt = -1
  /** The final marker was seen: Ollama `done: true`, OpenAI `data: [DONE]` (or a complete non-stream body). */
  sawFinal = false
  /** Completion tokens the server reports (Ollama `eval_count`, OpenAI `usage.completion_tokens`); -1 if none. */
  reportedTokens = -1
  /** First protocol-level failure seen in the body (`malformed` or `stream_error`); null if none. */
  error: ErrorClass | null = null
  /** Text of that failure, for diagnostics (first one only). */
  errorDetail = ""

  reset(): void {
    this.contentChunks = 0
    this.firstContentAt = -1
    this.lastContentAt = -1
    this.sawFinal = false
    this.reportedTokens = -1
    this.error = null
    this.errorDetail = ""
  }

  /** A chunk with completion text arrived in the socket read stamped `now`. */
  content(now: number): void {
    if (this.firstContentAt < 0) this.firstContentAt = now
    this.lastContentAt = now
    this.contentChunks++
  }

  /**
   * Parses one line or event as a JSON object. A parse failure counts as `badJson`
   * (`malformed`, or `truncated` for a cut last line), a non-object as `malformed`, an object
   * with a truthy `error` as `stream_error`; all give undefined.
   */
  parseObject(text: string, badJson: ErrorClass = "malformed"): any {
    let obj: any
    try {
      obj = JSON.parse(text)
    } catch {
      this.fail(badJson, text)
      return undefined
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      this.fail("malformed", text)
      return undefined
    }
    if (obj.error) {
      this.fail("stream_error", typeof obj.error === "string" ? obj.error : JSON.stringify(obj.error))
      return undefined
    }
    return obj
  }

  /** A line past LineReader's limit: no chunk is that long, so the body is not a chat stream. */
  overlong(bytes: number): void {
    this.fail("malformed", `a line of more than ${bytes} bytes (limit ${MAX_LINE_BYTES})`)
  }

  fail(cls: ErrorClass, detail: string): void {
    if (this.error === null) {
      this.error = cls
      this.errorDetail = detail.length > 200 ? detail.slice(0, 200) + "…" : detail
    }
  }
}

/** Called once per content chunk with the timestamp of the socket read that carried it. */
export type OnContent = (now: number) => void

/** An incremental parser for one streamed response body. */
export interface StreamParser {
  readonly state: ParseState
  /** Starts a new response. */
  reset(): void
  /** Feeds one socket read; `now` is performance.now() taken when it arrived, before parsing. */
  feed(chunk: Uint8Array, now: number): void
  /** The body ended: flush a trailing line without its newline. */
  end(now: number): void
}
