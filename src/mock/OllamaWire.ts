import { fullText, PIECES } from "./Pieces.ts"
import { nanos, type Wire, type WireState } from "./Wire.ts"

/**
 * Ollama `/api/chat` and `/api/generate` bodies (router-contract §2.5 A, §2.6, §5): NDJSON, one
 * object per line, no blank lines. Chat lines carry `message{role, content}` on every line;
 * generate lines carry `response` on every line. The final line has `done: true`,
 * `done_reason: "stop"` and integer counts and durations (ns). A buffered reply is one object
 * shaped like the final line, with the whole text.
 */

const STREAM_HEADERS = { "content-type": "application/x-ndjson" } as const

const makeOllamaWire = (content: (jsonText: string) => string): Wire => {
  const tails = PIECES.map((p) => `",${content(JSON.stringify(p))},"done":false}\n`)
  const emptyContent = `",${content('""')},"done":true,"done_reason":"stop","total_duration":`
  const counts = (s: WireState, now: number): string => {
    const first = s.firstTokenAt >= 0 ? s.firstTokenAt : now
    const total = nanos(now - s.startedAt)
    const prompt = nanos(first - s.startedAt)
    return `${total},"load_duration":0,"prompt_eval_count":${s.promptTokens},"prompt_eval_duration":${prompt},"eval_count":${s.tokens},"eval_duration":${total - prompt}}`
  }
  const wholeContent = new Map<number, string>()
  return {
    streamHeaders: STREAM_HEADERS,
    begin: (s) => {
      s.head = `{"model":${s.variant.json},"created_at":"`
    },
    token: (s, i, iso) => s.head + iso + tails[i % tails.length],
    end: (s, iso, now) => s.head + iso + emptyContent + counts(s, now) + "\n",
    whole: (s, iso, now) => {
      let middle = wholeContent.get(s.tokens)
      if (middle === undefined) {
        middle = `",${content(JSON.stringify(fullText(s.tokens)))},"done":true,"done_reason":"stop","total_duration":`
        if (wholeContent.size < 64) wholeContent.set(s.tokens, middle)
      }
      return `{"model":${s.variant.json},"created_at":"` + iso + middle + counts(s, now)
    }
  }
}

export const OllamaChat: Wire = makeOllamaWire((text) => `"message":{"role":"assistant","content":${text}}`)

export const OllamaGenerate: Wire = makeOllamaWire((text) => `"response":${text}`)
