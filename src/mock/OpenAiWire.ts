import { fullText, PIECES } from "./Pieces.ts"
import type { Wire, WireState } from "./Wire.ts"

/**
 * OpenAI `/v1/chat/completions` and `/v1/completions` bodies (router-contract §2.5 D–E, §2.6,
 * §5). Streams are SSE, `data: <json>\n\n` per event: (chat only) a role chunk, one chunk per
 * token, a finish chunk with `finish_reason: "stop"` and an empty (non-null) text, then the
 * usage chunk (`choices: []`) only when `stream_options.include_usage` was true, then
 * `data: [DONE]`. A buffered reply is one object with `usage`.
 */

const STREAM_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" } as const
const DONE = "data: [DONE]\n\n"

interface Shape {
  readonly idPrefix: string
  readonly chunkObject: string
  readonly wholeObject: string
  /** A streamed choice carrying `jsonText` (already JSON-encoded) and a finish reason. */
  readonly choice: (jsonText: string, finish: string) => string
  /** The buffered reply's choice, with the whole text. */
  readonly wholeChoice: (jsonText: string) => string
  /** Chat's first chunk (`delta.role`), or "" for completions. */
  readonly roleChoice: string
}

const usage = (s: WireState): string =>
  `"usage":{"prompt_tokens":${s.promptTokens},"completion_tokens":${s.tokens},"total_tokens":${s.promptTokens + s.tokens}}`

const makeOpenAiWire = (shape: Shape): Wire => {
  const tails = PIECES.map((p) => `${shape.choice(JSON.stringify(p), "null")}]}\n\n`)
  const finish = `${shape.choice('""', '"stop"')}]}\n\n`
  const role = shape.roleChoice === "" ? "" : `${shape.roleChoice}]}\n\n`
  const wholeChoices = new Map<number, string>()
  return {
    streamHeaders: STREAM_HEADERS,
    begin: (s) => {
      s.head = `data: {"id":"${shape.idPrefix}${s.id}","object":"${shape.chunkObject}","created":${s.created},"model":${s.variant.json},"choices":[`
    },
    token: (s, i) => (i === 0 && role !== "" ? s.head + role : "") + s.head + tails[i % tails.length],
    end: (s) => s.head + finish + (s.includeUsage ? s.head + "]," + usage(s) + "}\n\n" : "") + DONE,
    whole: (s) => {
      let choices = wholeChoices.get(s.tokens)
      if (choices === undefined) {
        choices = `"choices":[${shape.wholeChoice(JSON.stringify(fullText(s.tokens)))}],`
        if (wholeChoices.size < 64) wholeChoices.set(s.tokens, choices)
      }
      return `{"id":"${shape.idPrefix}${s.id}","object":"${shape.wholeObject}","created":${s.created},"model":${s.variant.json},` + choices + usage(s) + "}"
    }
  }
}

export const OpenAiChat: Wire = makeOpenAiWire({
  idPrefix: "chatcmpl-mock-",
  chunkObject: "chat.completion.chunk",
  wholeObject: "chat.completion",
  choice: (text, finish) => `{"index":0,"delta":{"content":${text}},"finish_reason":${finish}}`,
  wholeChoice: (text) => `{"index":0,"message":{"role":"assistant","content":${text}},"finish_reason":"stop"}`,
  roleChoice: `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}`
})

export const OpenAiCompletions: Wire = makeOpenAiWire({
  idPrefix: "cmpl-mock-",
  chunkObject: "text_completion",
  wholeObject: "text_completion",
  choice: (text, finish) => `{"index":0,"text":${text},"finish_reason":${finish}}`,
  wholeChoice: (text) => `{"index":0,"text":${text},"finish_reason":"stop"}`,
  roleChoice: ""
})
