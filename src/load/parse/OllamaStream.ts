import { LineReader } from "./LineReader.ts"
import { type OnContent, ParseState, type StreamParser } from "./ParseState.ts"

/**
 * Ollama `/api/chat` NDJSON: one JSON object per line; text in `message.content` (or
 * `message.thinking`); the last
 * line has `done: true` and `eval_count`. An `{"error": …}` line under HTTP 200 is a stream
 * error (Ollama reports mid-stream failures that way). Blank lines are tolerated.
 */
export class OllamaStreamParser implements StreamParser {
  readonly state = new ParseState()
  private readonly lines: LineReader

  constructor(private readonly onContent: OnContent) {
    this.lines = new LineReader(
      (line, now, last) => this.onLine(line, now, last),
      (bytes) => this.state.overlong(bytes)
    )
  }

  reset(): void {
    this.state.reset()
    this.lines.reset()
  }

  feed(chunk: Uint8Array, now: number): void {
    this.lines.feed(chunk, now)
  }

  end(now: number): void {
    this.lines.end(now)
  }

  /** `last`: an unterminated final line; if it does not parse, the body was cut (truncated). */
  private onLine(line: string, now: number, last: boolean): void {
    const s = this.state
    if (s.error !== null || s.sawFinal) return
    if (line.length === 0 || isBlank(line)) return
    const obj = s.parseObject(line, last ? "truncated" : "malformed")
    if (obj === undefined) return
    if (hasOllamaText(obj.message)) {
      s.content(now)
      this.onContent(now)
    }
    if (obj.done === true) {
      s.sawFinal = true
      if (typeof obj.eval_count === "number") s.reportedTokens = obj.eval_count
    }
  }
}

/** A buffered (`stream: false`) Ollama chat body: one JSON object. */
export const parseOllamaBody = (text: string, state: ParseState, now: number): void => {
  let obj: any
  try {
    obj = JSON.parse(text)
  } catch {
    state.fail(text.length === 0 ? "truncated" : "malformed", text)
    return
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return state.fail("malformed", text)
  if (obj.error) return state.fail("stream_error", typeof obj.error === "string" ? obj.error : JSON.stringify(obj.error))
  if (hasOllamaText(obj.message)) {
    state.contentChunks = 1
    state.firstContentAt = now
    state.lastContentAt = now
  }
  if (obj.done === true) state.sawFinal = true
  if (typeof obj.eval_count === "number") state.reportedTokens = obj.eval_count
}

/**
 * A chat message carries generated text: non-empty `content`, or non-empty `thinking` (a
 * reasoning model's trace, which also counts in `eval_count`), as AIPerf and sglang count TTFT.
 */
const hasOllamaText = (message: any): boolean => {
  if (message === null || typeof message !== "object") return false
  const content = message.content
  if (typeof content === "string" && content.length > 0) return true
  const thinking = message.thinking
  return typeof thinking === "string" && thinking.length > 0
}

export const isBlank = (line: string): boolean => {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i)
    if (c !== 32 && c !== 9) return false
  }
  return true
}
