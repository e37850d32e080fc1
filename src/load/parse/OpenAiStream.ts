import { LineReader } from "./LineReader.ts"
import { isBlank } from "./OllamaStream.ts"
import { type OnContent, ParseState, type StreamParser } from "./ParseState.ts"

/**
 * OpenAI chat-completions SSE, per the WHATWG event-stream rules: `data:` lines (several are
 * joined with "\n") make an event, a blank line dispatches it, `:` lines are comments,
 * `event: error` or a JSON object with an `error` key is a stream error, `data: [DONE]` ends
 * the stream. Content is `choices[0].delta.content` (or `reasoning_content` / `reasoning`) when
 * non-empty: the role-only first chunk is not content. The usage chunk (`choices: []`) carries
 * `usage.completion_tokens`.
 */
export class OpenAiStreamParser implements StreamParser {
  readonly state = new ParseState()
  private readonly lines: LineReader
  private data: string | null = null
  private eventName = ""
  /** The body ended inside a line: an event that then does not parse was cut (truncated). */
  private cut = false

  constructor(private readonly onContent: OnContent) {
    this.lines = new LineReader(
      (line, now, last) => this.onLine(line, now, last),
      (bytes) => this.state.overlong(bytes)
    )
  }

  reset(): void {
    this.state.reset()
    this.lines.reset()
    this.data = null
    this.eventName = ""
    this.cut = false
  }

  feed(chunk: Uint8Array, now: number): void {
    this.lines.feed(chunk, now)
  }

  end(now: number): void {
    this.lines.end(now)
    // A last event without its blank line still counts (as browsers and the openai SDK do),
    // and so does a trailing `event: error` with no data, as a blank line would have.
    if (this.data !== null || this.eventName !== "") this.dispatch(now, this.cut)
  }

  private onLine(line: string, now: number, last: boolean): void {
    if (last) this.cut = true
    if (this.state.error !== null || this.state.sawFinal) return
    if (line.length === 0) {
      if (this.data !== null || this.eventName !== "") this.dispatch(now)
      return
    }
    const c0 = line.charCodeAt(0)
    if (c0 === 58 /* : */) return
    const colon = line.indexOf(":")
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? "" : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === "data") {
      this.data = this.data === null ? value : this.data + "\n" + value
    } else if (field === "event") {
      this.eventName = value
    } else if (field === "id" || field === "retry") {
      // no meaning for a one-shot completion stream
    } else if (isBlank(line)) {
      if (this.data !== null || this.eventName !== "") this.dispatch(now)
    } else {
      this.state.fail("malformed", line)
    }
  }

  private dispatch(now: number, cut = false): void {
    const s = this.state
    const data = this.data
    const eventName = this.eventName
    this.data = null
    this.eventName = ""
    if (eventName === "error") {
      s.fail("stream_error", data ?? "event: error")
      return
    }
    if (data === null) return
    if (data === "[DONE]") {
      s.sawFinal = true
      return
    }
    const obj = s.parseObject(data, cut ? "truncated" : "malformed")
    if (obj === undefined) return
    const choices = obj.choices
    if (Array.isArray(choices) && choices.length > 0 && hasOpenAiText(choices[0]?.delta)) {
      s.content(now)
      this.onContent(now)
    }
    const completion = obj.usage?.completion_tokens
    if (typeof completion === "number") s.reportedTokens = completion
  }
}

const nonEmpty = (v: unknown): boolean => typeof v === "string" && v.length > 0

/**
 * A delta (or message) carries generated text: non-empty `content`, or a reasoning model's
 * `reasoning_content` / `reasoning` (vLLM, DeepSeek, OpenRouter spellings), which also count in
 * `usage.completion_tokens`, as AIPerf and sglang count TTFT.
 */
const hasOpenAiText = (delta: any): boolean =>
  delta !== null &&
  typeof delta === "object" &&
  (nonEmpty(delta.content) || nonEmpty(delta.reasoning_content) || nonEmpty(delta.reasoning))

/** A buffered (`stream: false`) chat.completion body. */
export const parseOpenAiBody = (text: string, state: ParseState, now: number): void => {
  let obj: any
  try {
    obj = JSON.parse(text)
  } catch {
    state.fail(text.length === 0 ? "truncated" : "malformed", text)
    return
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return state.fail("malformed", text)
  if (obj.error) return state.fail("stream_error", typeof obj.error === "string" ? obj.error : JSON.stringify(obj.error))
  const choices = obj.choices
  if (!Array.isArray(choices) || choices.length === 0) return state.fail("malformed", text)
  if (hasOpenAiText(choices[0]?.message)) {
    state.contentChunks = 1
    state.firstContentAt = now
    state.lastContentAt = now
  }
  state.sawFinal = true
  const completion = obj.usage?.completion_tokens
  if (typeof completion === "number") state.reportedTokens = completion
}
