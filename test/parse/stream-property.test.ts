/**
 * Property tests for the streaming parsers: a valid Ollama NDJSON or OpenAI SSE stream, cut
 * into reads at arbitrary byte offsets (inside multi-byte UTF-8 characters, inside CRLF pairs,
 * with empty reads), parses to exactly what the whole stream parses to, and to what the
 * generator put in it. Content timestamps must be those of the read that completed each
 * content line (NDJSON) or event (SSE), since TTFT and inter-chunk gaps are built on them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { OllamaStreamParser } from "../../src/load/parse/OllamaStream.ts"
import { OpenAiStreamParser } from "../../src/load/parse/OpenAiStream.ts"
import type { OnContent, StreamParser } from "../../src/load/parse/ParseState.ts"

const enc = new TextEncoder()

// ---------------------------------------------------------------------------------------------
// Building a stream: lines with their own terminators, some marked as "completes a content
// chunk", so the expected timestamp of each content chunk is the read holding that byte.

type Eol = "\n" | "\r\n" | "\r" | ""

interface Line {
  readonly text: string
  readonly eol: Eol
  /** This line's terminator completes a content chunk (a content NDJSON line; the blank line after a content SSE event). */
  readonly completesContent?: boolean
}

interface Built {
  readonly bytes: Uint8Array
  /** Byte offset of the terminator of each content-completing line; -1 when it has none (flushed by end()). */
  readonly contentAt: ReadonlyArray<number>
}

const assemble = (lines: ReadonlyArray<Line>): Built => {
  let text = ""
  let offset = 0
  let prev: Eol = ""
  const contentAt: Array<number> = []
  for (const line of lines) {
    // A lone CR then an empty LF-terminated line would read as one CRLF: keep them two line ends.
    const eol: Eol = prev === "\r" && line.text === "" && line.eol === "\n" ? "\r\n" : line.eol
    const textBytes = Buffer.byteLength(line.text, "utf8")
    if (line.completesContent === true) contentAt.push(eol === "" ? -1 : offset + textBytes)
    text += line.text + eol
    offset += textBytes + Buffer.byteLength(eol, "utf8")
    prev = eol
  }
  return { bytes: enc.encode(text), contentAt }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const eol = fc.constantFrom<Eol>("\n", "\r\n", "\r")

/** Completion text: emoji (4-byte and ZWJ sequences), CJK, accents, JSON escapes, line breaks. */
const contentText = fc.oneof(
  { weight: 1, arbitrary: fc.constant("") },
  {
    weight: 6,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.constantFrom("😀", "🧑‍🚀", "👍🏽", "漢字", "中文", "日本語", "é", "ü", "ß", "\\", '"', "\n", "\r\n", "\t", " ", "data: x", "}\n{", "\u2028"),
          fc.string({ unit: "grapheme", maxLength: 5 }),
          fc.string({ unit: "binary", maxLength: 3 })
        ),
        { minLength: 1, maxLength: 4 }
      )
      .map((parts) => parts.join(""))
  }
)

/** Cut points: any byte offsets (reduced modulo length + 1), duplicates giving empty reads. */
const cutPoints = fc.array(fc.nat(), { maxLength: 24 })

const cut = (bytes: Uint8Array, at: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = at.map((x) => x % (bytes.length + 1)).sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

// ---------------------------------------------------------------------------------------------
// Running a parser over pieces; read i is stamped i, end() is stamped pieces.length.

interface Parsed {
  readonly contentChunks: number
  readonly sawFinal: boolean
  readonly reportedTokens: number
  readonly error: string | null
  readonly firstContentAt: number
  readonly lastContentAt: number
  readonly stamps: ReadonlyArray<number>
}

const run = (make: (onContent: OnContent) => StreamParser, pieces: ReadonlyArray<Uint8Array>, parser?: StreamParser, sink?: Array<number>): Parsed => {
  const stamps: Array<number> = sink ?? []
  const p = parser ?? make((now) => stamps.push(now))
  pieces.forEach((piece, i) => p.feed(piece, i))
  p.end(pieces.length)
  const s = p.state
  return {
    contentChunks: s.contentChunks,
    sawFinal: s.sawFinal,
    reportedTokens: s.reportedTokens,
    error: s.error,
    firstContentAt: s.firstContentAt,
    lastContentAt: s.lastContentAt,
    stamps: [...stamps]
  }
}

/** The read that holds byte `offset` (empty reads hold none); -1 (no terminator) is end(). */
const readHolding = (pieces: ReadonlyArray<Uint8Array>, offset: number): number => {
  if (offset < 0) return pieces.length
  let start = 0
  for (let i = 0; i < pieces.length; i++) {
    const len = pieces[i]!.length
    if (offset < start + len) return i
    start += len
  }
  throw new Error(`offset ${offset} past the end`)
}

const newOllama = (onContent: OnContent) => new OllamaStreamParser(onContent)
const newOpenAi = (onContent: OnContent) => new OpenAiStreamParser(onContent)

/** The split parse equals the whole parse and the generator's expectations, stamps included. */
const check = (
  make: (onContent: OnContent) => StreamParser,
  built: Built,
  expected: { contentChunks: number; reportedTokens: number },
  at: ReadonlyArray<number>
): void => {
  const whole = run(make, [built.bytes])
  const pieces = cut(built.bytes, at)
  const split = run(make, pieces)
  const essentials = (p: Parsed) => ({
    contentChunks: p.contentChunks,
    sawFinal: p.sawFinal,
    reportedTokens: p.reportedTokens,
    error: p.error
  })
  assert.deepStrictEqual(essentials(whole), {
    contentChunks: expected.contentChunks,
    sawFinal: true,
    reportedTokens: expected.reportedTokens,
    error: null
  })
  assert.deepStrictEqual(essentials(split), essentials(whole))
  const stamps = built.contentAt.map((o) => readHolding(pieces, o))
  assert.deepStrictEqual(split.stamps, stamps, "each content chunk stamped with the read that completed it")
  assert.strictEqual(split.firstContentAt, stamps.length > 0 ? stamps[0]! : -1)
  assert.strictEqual(split.lastContentAt, stamps.length > 0 ? stamps[stamps.length - 1]! : -1)
}

// ---------------------------------------------------------------------------------------------
// Ollama NDJSON

interface OllamaCase {
  readonly built: Built
  readonly contentChunks: number
  readonly reportedTokens: number
}

const ollamaStream: fc.Arbitrary<OllamaCase> = fc
  .record({
    contents: fc.array(fc.tuple(contentText, eol, fc.constantFrom(0, 0, 0, 1, 2)), { maxLength: 10 }),
    finalContent: fc.oneof({ weight: 4, arbitrary: fc.constant("") }, { weight: 1, arbitrary: contentText }),
    evalCount: fc.option(fc.nat({ max: 100_000 }), { freq: 5 }),
    finalEol: fc.constantFrom<Eol>("\n", "\r\n", "\r", ""),
    blankEol: eol,
    thinking: fc.boolean()
  })
  .map(({ blankEol, contents, evalCount, finalContent, finalEol, thinking }) => {
    const lines: Array<Line> = []
    let contentChunks = 0
    for (const [content, e, blanks] of contents) {
      // Blank and whitespace-only lines between objects are tolerated.
      for (let b = 0; b < blanks; b++) lines.push({ text: b === 0 ? "" : " \t ", eol: blankEol })
      const message: Record<string, unknown> = { role: "assistant", content }
      if (thinking) message.thinking = "hmm 🤔"
      const obj = { model: "mock", created_at: "2025-01-01T00:00:00.000Z", message, done: false }
      // A non-empty thinking trace is generated text too (it counts in eval_count).
      const generated = content.length > 0 || thinking
      lines.push({ text: JSON.stringify(obj), eol: e, completesContent: generated })
      if (generated) contentChunks++
    }
    const done: Record<string, unknown> = {
      model: "mock",
      created_at: "2025-01-01T00:00:00.000Z",
      message: { role: "assistant", content: finalContent },
      done: true,
      done_reason: "stop",
      total_duration: 123456789,
      prompt_eval_count: 7
    }
    if (evalCount !== null) done.eval_count = evalCount
    lines.push({ text: JSON.stringify(done), eol: finalEol, completesContent: finalContent.length > 0 })
    if (finalContent.length > 0) contentChunks++
    return { built: assemble(lines), contentChunks, reportedTokens: evalCount ?? -1 }
  })

// ---------------------------------------------------------------------------------------------
// OpenAI SSE

interface SseEventOpts {
  readonly eol: Eol
  /** `data:{…}` instead of `data: {…}`. */
  readonly tight: boolean
  readonly commentBefore: boolean
  /** A comment between the data line and the blank line (still one event). */
  readonly commentInside: boolean
  readonly id: boolean
  readonly eventName: boolean
  readonly extraBlank: boolean
}

const sseEventOpts: fc.Arbitrary<SseEventOpts> = fc.record({
  eol,
  tight: fc.boolean(),
  commentBefore: fc.boolean(),
  commentInside: fc.boolean(),
  id: fc.boolean(),
  eventName: fc.boolean(),
  extraBlank: fc.boolean()
})

const comments = [":", ": OPENROUTER PROCESSING", ": ping 😀"]

const sseEvent = (lines: Array<Line>, data: string, o: SseEventOpts, isContent: boolean, n: number): void => {
  if (o.commentBefore) lines.push({ text: comments[n % comments.length]!, eol: o.eol })
  if (o.id) lines.push({ text: `id: ${n}`, eol: o.eol })
  if (o.eventName) lines.push({ text: "event: message", eol: o.eol })
  lines.push({ text: (o.tight ? "data:" : "data: ") + data, eol: o.eol })
  if (o.commentInside) lines.push({ text: ":keep-alive", eol: o.eol })
  lines.push({ text: "", eol: o.eol, completesContent: isContent })
  if (o.extraBlank) lines.push({ text: "", eol: o.eol })
}

interface OpenAiCase {
  readonly built: Built
  readonly contentChunks: number
  readonly reportedTokens: number
}

const chunk = (choices: unknown, usage: unknown = null) =>
  JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1735689600, model: "mock", system_fingerprint: "fp", choices, usage })

const openAiStream: fc.Arbitrary<OpenAiCase> = fc
  .record({
    roleHasContent: fc.boolean(),
    contents: fc.array(fc.tuple(contentText, sseEventOpts), { maxLength: 10 }),
    role: sseEventOpts,
    finish: sseEventOpts,
    usage: fc.option(fc.tuple(fc.nat({ max: 100_000 }), fc.boolean(), sseEventOpts), { freq: 3 }),
    doneEol: eol,
    doneEnding: fc.constantFrom("blank", "eol-only", "none")
  })
  .map(({ contents, doneEnding, doneEol, finish, role, roleHasContent, usage }) => {
    const lines: Array<Line> = []
    let n = 0
    const delta = roleHasContent ? { role: "assistant", content: "" } : { role: "assistant" }
    sseEvent(lines, chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]), role, false, n++)
    let contentChunks = 0
    for (const [content, o] of contents) {
      const isContent = content.length > 0
      sseEvent(lines, chunk([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }]), o, isContent, n++)
      if (isContent) contentChunks++
    }
    sseEvent(lines, chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]), finish, false, n++)
    let reportedTokens = -1
    if (usage !== null) {
      const [tokens, nullChoices, o] = usage
      // OpenAI sends `choices: []`; vLLM-like servers `choices: null`.
      sseEvent(lines, chunk(nullChoices ? null : [], { prompt_tokens: 9, completion_tokens: tokens, total_tokens: tokens + 9 }), o, false, n++)
      reportedTokens = tokens
    }
    if (doneEnding === "blank") {
      lines.push({ text: "data: [DONE]", eol: doneEol }, { text: "", eol: doneEol })
    } else {
      // The last event may lack its blank line, or even its line end: end() still dispatches it.
      lines.push({ text: "data: [DONE]", eol: doneEnding === "eol-only" ? doneEol : "" })
    }
    return { built: assemble(lines), contentChunks, reportedTokens }
  })

// ---------------------------------------------------------------------------------------------

describe("stream parsers under arbitrary chunking", () => {
  it("Ollama NDJSON: split reads parse like the whole stream", () => {
    fc.assert(
      fc.property(ollamaStream, cutPoints, (c, at) => check(newOllama, c.built, c, at)),
      { numRuns: 400 }
    )
  })

  it("OpenAI SSE: split reads parse like the whole stream", () => {
    fc.assert(
      fc.property(openAiStream, cutPoints, (c, at) => check(newOpenAi, c.built, c, at)),
      { numRuns: 400 }
    )
  })

  it("one byte per read (every multi-byte character split) parses like the whole stream", () => {
    fc.assert(
      fc.property(fc.oneof(ollamaStream.map((c) => [newOllama, c] as const), openAiStream.map((c) => [newOpenAi, c] as const)), ([make, c]) => {
        const everyByte = Array.from({ length: c.built.bytes.length }, (_, i) => i)
        check(make, c.built, c, everyByte)
      }),
      { numRuns: 60 }
    )
  })

  it("a reused parser (reset between responses) forgets a response abandoned mid-line", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.constant(newOllama), ollamaStream, ollamaStream),
          fc.tuple(fc.constant(newOpenAi), openAiStream, openAiStream)
        ),
        fc.nat(),
        cutPoints,
        ([make, first, second], abandonAt, at) => {
          const stamps: Array<number> = []
          const parser = make((now) => stamps.push(now))
          // The first response is cut off anywhere (aborted request): no end().
          const prefix = first.built.bytes.subarray(0, abandonAt % (first.built.bytes.length + 1))
          for (const piece of cut(prefix, at)) parser.feed(piece, 0)
          parser.reset()
          stamps.length = 0
          const pieces = cut(second.built.bytes, at)
          const reused = run(make, pieces, parser, stamps)
          assert.deepStrictEqual(reused, run(make, pieces))
        }
      ),
      { numRuns: 200 }
    )
  })
})
