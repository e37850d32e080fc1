/**
 * Example-based parser tests: several events in one read, every malformed or failing shape
 * the error classes name (ErrorClass.ts, ANCHORS §2.2 and §6), and the buffered bodies.
 */
import { assert, describe, it } from "@effect/vitest"
import { OllamaStreamParser, parseOllamaBody } from "../../src/load/parse/OllamaStream.ts"
import { OpenAiStreamParser, parseOpenAiBody } from "../../src/load/parse/OpenAiStream.ts"
import { ParseState, type StreamParser } from "../../src/load/parse/ParseState.ts"

const enc = new TextEncoder()

interface Fed {
  readonly parser: StreamParser
  readonly stamps: Array<number>
}

const ollama = (): Fed => {
  const stamps: Array<number> = []
  return { parser: new OllamaStreamParser((now) => stamps.push(now)), stamps }
}
const openai = (): Fed => {
  const stamps: Array<number> = []
  return { parser: new OpenAiStreamParser((now) => stamps.push(now)), stamps }
}

/** Feeds each string as one read (stamped 1, 2, …), then end() (stamped 99). */
const feed = (fed: Fed, ...reads: ReadonlyArray<string>): ParseState => {
  reads.forEach((r, i) => fed.parser.feed(enc.encode(r), i + 1))
  fed.parser.end(99)
  return fed.parser.state
}

const ol = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "m", created_at: "2025-01-01T00:00:00Z", message: { role: "assistant", content }, done: false, ...extra }) + "\n"
const olDone = (evalCount?: number) =>
  JSON.stringify({
    model: "m",
    created_at: "2025-01-01T00:00:00Z",
    message: { role: "assistant", content: "" },
    done: true,
    done_reason: "stop",
    ...(evalCount === undefined ? {} : { eval_count: evalCount, eval_duration: 1000 })
  }) + "\n"

const oa = (choices: unknown, usage: unknown = null) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices, usage })}\n\n`
const oaRole = oa([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }])
const oaText = (content: string) => oa([{ index: 0, delta: { content }, finish_reason: null }])
const oaFinish = oa([{ index: 0, delta: {}, finish_reason: "stop" }])
const oaUsage = (n: number) => oa([], { prompt_tokens: 3, completion_tokens: n, total_tokens: n + 3 })
const DONE = "data: [DONE]\n\n"

describe("Ollama NDJSON stream", () => {
  it("several lines in one read: each counted, all stamped with that read", () => {
    const fed = ollama()
    const s = feed(fed, ol("a") + ol("b") + ol("c") + olDone(3))
    assert.strictEqual(s.contentChunks, 3)
    assert.deepStrictEqual(fed.stamps, [1, 1, 1])
    assert.strictEqual(s.firstContentAt, 1)
    assert.strictEqual(s.lastContentAt, 1)
    assert.isTrue(s.sawFinal)
    assert.strictEqual(s.reportedTokens, 3)
    assert.isNull(s.error)
  })

  it("a garbage line is malformed, and nothing after it counts", () => {
    const s = feed(ollama(), ol("a") + "this is not json\n" + ol("b") + olDone(2))
    assert.strictEqual(s.error, "malformed")
    assert.strictEqual(s.errorDetail, "this is not json")
    assert.strictEqual(s.contentChunks, 1)
    assert.isFalse(s.sawFinal)
  })

  it("a JSON line that is not an object is malformed", () => {
    for (const line of ["[1,2]", "42", "null", '"text"']) {
      assert.strictEqual(feed(ollama(), ol("a") + line + "\n" + olDone(1)).error, "malformed", line)
    }
  })

  it('an {"error": …} line under 200 is a stream_error (and not a hang waiting for done)', () => {
    const s = feed(ollama(), ol("a"), '{"error":"boom"}\n')
    assert.strictEqual(s.error, "stream_error")
    assert.strictEqual(s.errorDetail, "boom")
    assert.isFalse(s.sawFinal)
    const obj = feed(ollama(), '{"error":{"message":"gpu on fire"}}\n')
    assert.strictEqual(obj.error, "stream_error")
    assert.include(obj.errorDetail, "gpu on fire")
  })

  it("missing done line: sawFinal stays false", () => {
    const s = feed(ollama(), ol("a") + ol("b"))
    assert.strictEqual(s.contentChunks, 2)
    assert.isFalse(s.sawFinal)
    assert.strictEqual(s.reportedTokens, -1)
    assert.isNull(s.error)
  })

  it("empty content is not counted and does not set TTFT", () => {
    const fed = ollama()
    const s = feed(fed, ol(""), ol(""), ol("x"), olDone(1))
    assert.strictEqual(s.contentChunks, 1)
    assert.strictEqual(s.firstContentAt, 3)
    assert.deepStrictEqual(fed.stamps, [3])
  })

  it("the final line without a newline is read at end()", () => {
    const fed = ollama()
    const last = olDone(1).trimEnd()
    fed.parser.feed(enc.encode(ol("x") + last), 1)
    assert.isFalse(fed.parser.state.sawFinal, "not before end()")
    fed.parser.end(2)
    assert.isTrue(fed.parser.state.sawFinal)
    assert.strictEqual(fed.parser.state.reportedTokens, 1)
  })

  it("a cut final line (no terminator, does not parse) is truncated at end()", () => {
    const s = feed(ollama(), ol("x") + olDone(1).slice(0, 20))
    assert.strictEqual(s.error, "truncated")
  })

  it("blank and whitespace lines are tolerated; lines after done are ignored", () => {
    const s = feed(ollama(), "\n" + ol("a") + "  \t\n\r\n" + olDone(1) + "trailing garbage\n" + ol("late"))
    assert.isNull(s.error)
    assert.strictEqual(s.contentChunks, 1)
    assert.isTrue(s.sawFinal)
  })

  it("thinking (a reasoning model's trace) is generated text: TTFT at the first thinking line", () => {
    const fed = ollama()
    const think = (t: string) =>
      JSON.stringify({ model: "m", created_at: "2025-01-01T00:00:00Z", message: { role: "assistant", content: "", thinking: t }, done: false }) + "\n"
    const s = feed(fed, ol(""), think("hmm"), think(""), ol("x"), olDone(2))
    assert.strictEqual(s.firstContentAt, 2)
    assert.deepStrictEqual(fed.stamps, [2, 4])
    assert.strictEqual(s.contentChunks, 2)
    assert.isNull(s.error)
  })

  it("a done line without eval_count reports no tokens", () => {
    const s = feed(ollama(), ol("a") + olDone())
    assert.isTrue(s.sawFinal)
    assert.strictEqual(s.reportedTokens, -1)
  })
})

describe("OpenAI SSE stream", () => {
  it("several events in one read: each counted, all stamped with that read", () => {
    const fed = openai()
    const s = feed(fed, oaRole + oaText("a") + oaText("b") + oaText("c") + oaFinish + oaUsage(3) + DONE)
    assert.strictEqual(s.contentChunks, 3)
    assert.deepStrictEqual(fed.stamps, [1, 1, 1])
    assert.isTrue(s.sawFinal)
    assert.strictEqual(s.reportedTokens, 3)
    assert.isNull(s.error)
  })

  it("the role-only first chunk is not content (TTFT waits for text)", () => {
    const fed = openai()
    const roleNoContent = oa([{ index: 0, delta: { role: "assistant" }, finish_reason: null }])
    const s = feed(fed, roleNoContent, oaRole, oaText("hi"), oaFinish + DONE)
    assert.strictEqual(s.contentChunks, 1)
    assert.strictEqual(s.firstContentAt, 3)
    assert.deepStrictEqual(fed.stamps, [3])
  })

  it("reasoning_content and reasoning deltas are generated text: TTFT at the first of them", () => {
    const fed = openai()
    const reason = (key: string, t: string) => oa([{ index: 0, delta: { content: null, [key]: t }, finish_reason: null }])
    const s = feed(fed, oaRole, reason("reasoning_content", ""), reason("reasoning_content", "so"), reason("reasoning", "then"), oaText("x"), oaFinish + DONE)
    assert.strictEqual(s.firstContentAt, 3)
    assert.deepStrictEqual(fed.stamps, [3, 4, 5])
    assert.strictEqual(s.contentChunks, 3)
    assert.isNull(s.error)
  })

  it("empty content is not counted", () => {
    const s = feed(openai(), oaRole + oaText("") + oaText("x") + oaText("") + oaFinish + DONE)
    assert.strictEqual(s.contentChunks, 1)
  })

  it("a garbage line is malformed", () => {
    const s = feed(openai(), oaRole + oaText("a") + "garbage\n\n" + oaText("b") + DONE)
    assert.strictEqual(s.error, "malformed")
    assert.strictEqual(s.contentChunks, 1)
    assert.isFalse(s.sawFinal)
  })

  it("data that is not JSON, or not an object, is malformed", () => {
    assert.strictEqual(feed(openai(), oaText("a") + "data: {oops\n\n" + DONE).error, "malformed")
    assert.strictEqual(feed(openai(), oaText("a") + "data: [1]\n\n" + DONE).error, "malformed")
    assert.strictEqual(feed(openai(), oaText("a") + "data: null\n\n" + DONE).error, "malformed")
  })

  it("event: error is a stream_error, with its data as the detail", () => {
    const s = feed(openai(), oaRole + oaText("a") + 'event: error\ndata: {"message":"overloaded"}\n\n' + DONE)
    assert.strictEqual(s.error, "stream_error")
    assert.strictEqual(s.errorDetail, '{"message":"overloaded"}')
    assert.isFalse(s.sawFinal)
  })

  it("event: error without data, even as the stream's last line, is a stream_error", () => {
    assert.strictEqual(feed(openai(), oaText("a") + "event: error\n\n").error, "stream_error")
    assert.strictEqual(feed(openai(), oaText("a") + "event: error\n").error, "stream_error")
    assert.strictEqual(feed(openai(), oaText("a") + "event: error").error, "stream_error")
  })

  it("a data object with an error key is a stream_error", () => {
    const s = feed(openai(), oaRole + 'data: {"error":{"message":"context length exceeded","type":"invalid_request_error"}}\n\n')
    assert.strictEqual(s.error, "stream_error")
    assert.include(s.errorDetail, "context length exceeded")
    assert.strictEqual(feed(openai(), 'data: {"error":"plain"}\n\n').errorDetail, "plain")
  })

  it("missing [DONE]: sawFinal stays false even after the finish and usage chunks", () => {
    const s = feed(openai(), oaRole + oaText("a") + oaFinish + oaUsage(1))
    assert.isFalse(s.sawFinal)
    assert.strictEqual(s.contentChunks, 1)
    assert.strictEqual(s.reportedTokens, 1)
    assert.isNull(s.error)
  })

  it("a trailing data: [DONE] without a newline is read at end()", () => {
    const fed = openai()
    fed.parser.feed(enc.encode(oaText("x") + "data: [DONE]"), 1)
    assert.isFalse(fed.parser.state.sawFinal, "not before end()")
    fed.parser.end(2)
    assert.isTrue(fed.parser.state.sawFinal)
  })

  it("a content event without its blank line is dispatched at end(), stamped by end()", () => {
    const fed = openai()
    const s = feed(fed, oaText("x").trimEnd())
    assert.strictEqual(s.contentChunks, 1)
    assert.deepStrictEqual(fed.stamps, [99])
  })

  it("multi-line data fields are joined with a newline before JSON parsing", () => {
    const json = JSON.stringify({ choices: [{ index: 0, delta: { content: "joined" } }] })
    const cut = json.indexOf('"delta"')
    // The join puts "\n" between JSON tokens: still valid JSON, one event, one chunk.
    const s = feed(openai(), `data: ${json.slice(0, cut)}\ndata: ${json.slice(cut)}\n\n` + DONE)
    assert.isNull(s.error)
    assert.strictEqual(s.contentChunks, 1)
    // Inside a JSON string the joined "\n" is a raw control character: malformed.
    const inString = json.indexOf("joined") + 3
    const bad = feed(openai(), `data: ${json.slice(0, inString)}\ndata: ${json.slice(inString)}\n\n` + DONE)
    assert.strictEqual(bad.error, "malformed")
  })

  it("comments, id and retry lines are skipped; data: without a space is accepted", () => {
    const body = ": OPENROUTER PROCESSING\n\n" + "id: 1\nretry: 1000\n:ping\n" + oaText("a") + `data:${oaText("b").slice(6)}` + ":\n" + DONE
    const s = feed(openai(), body)
    assert.isNull(s.error)
    assert.strictEqual(s.contentChunks, 2)
    assert.isTrue(s.sawFinal)
  })

  it("a usage chunk with choices: null (vLLM-like) still reports tokens", () => {
    const s = feed(openai(), oaText("a") + oa(null, { completion_tokens: 7 }) + DONE)
    assert.isNull(s.error)
    assert.strictEqual(s.reportedTokens, 7)
  })

  it("events after [DONE] are ignored", () => {
    const s = feed(openai(), oaText("a") + DONE + oaText("late") + "garbage\n\n")
    assert.isNull(s.error)
    assert.strictEqual(s.contentChunks, 1)
  })
})

describe("buffered bodies", () => {
  const ollamaBody = (content: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      model: "m",
      created_at: "2025-01-01T00:00:00Z",
      message: { role: "assistant", content },
      done: true,
      done_reason: "stop",
      eval_count: 5,
      ...extra
    })
  const openAiBody = (content: string | null, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: "c",
      object: "chat.completion",
      created: 1,
      model: "m",
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
      ...extra
    })

  const parse = (f: (text: string, state: ParseState, now: number) => void, text: string): ParseState => {
    const s = new ParseState()
    f(text, s, 7)
    return s
  }

  it("Ollama: a complete body is one content chunk, final, with eval_count", () => {
    const s = parse(parseOllamaBody, ollamaBody("Hello 😀 世界"))
    assert.deepStrictEqual(
      { chunks: s.contentChunks, final: s.sawFinal, tokens: s.reportedTokens, first: s.firstContentAt, error: s.error },
      { chunks: 1, final: true, tokens: 5, first: 7, error: null }
    )
  })

  it("Ollama: empty, cut short, non-object, error and not-done bodies", () => {
    assert.strictEqual(parse(parseOllamaBody, "").error, "truncated")
    assert.strictEqual(parse(parseOllamaBody, ollamaBody("x").slice(0, 30)).error, "malformed")
    assert.strictEqual(parse(parseOllamaBody, "[]").error, "malformed")
    const err = parse(parseOllamaBody, '{"error":"model \\"x\\" not found"}')
    assert.strictEqual(err.error, "stream_error")
    assert.strictEqual(err.errorDetail, 'model "x" not found')
    const notDone = parse(parseOllamaBody, ollamaBody("x", { done: false }))
    assert.isFalse(notDone.sawFinal)
    const empty = parse(parseOllamaBody, ollamaBody(""))
    assert.strictEqual(empty.contentChunks, 0)
    assert.isTrue(empty.sawFinal)
  })

  it("OpenAI: a complete body is one content chunk, final, with usage.completion_tokens", () => {
    const s = parse(parseOpenAiBody, openAiBody("Hello 😀 世界"))
    assert.deepStrictEqual(
      { chunks: s.contentChunks, final: s.sawFinal, tokens: s.reportedTokens, first: s.firstContentAt, error: s.error },
      { chunks: 1, final: true, tokens: 5, first: 7, error: null }
    )
  })

  it("OpenAI: empty, cut short, no choices, error, null content and no usage", () => {
    assert.strictEqual(parse(parseOpenAiBody, "").error, "truncated")
    assert.strictEqual(parse(parseOpenAiBody, openAiBody("x").slice(0, 40)).error, "malformed")
    assert.strictEqual(parse(parseOpenAiBody, openAiBody("x", { choices: [] })).error, "malformed")
    assert.strictEqual(parse(parseOpenAiBody, '{"object":"chat.completion"}').error, "malformed")
    assert.strictEqual(parse(parseOpenAiBody, '{"error":{"message":"rate limited"}}').error, "stream_error")
    const toolCall = parse(parseOpenAiBody, openAiBody(null))
    assert.strictEqual(toolCall.contentChunks, 0)
    assert.isTrue(toolCall.sawFinal)
    const noUsage = parse(parseOpenAiBody, openAiBody("x", { usage: undefined }))
    assert.strictEqual(noUsage.reportedTokens, -1)
  })
})
