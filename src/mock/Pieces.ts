/**
 * The text the mock "generates": a fixed cycle of short words, one per token, and the cheap
 * prompt-size estimate it reports as the prompt token count.
 */

/** Content tokens, in order, cycling. Each is non-empty, plain ASCII, and needs no JSON escaping. */
export const PIECES: ReadonlyArray<string> = [
  "The ", "mock ", "backend ", "streams ", "one ", "word ", "per ", "token ",
  "so ", "the ", "router ", "under ", "test ", "does ", "all ", "the ", "work. "
]

/** Piece of token `i` (0-based). */
export const piece = (i: number): string => PIECES[i % PIECES.length]!

const fullTexts = new Map<number, string>()

/** The whole completion of `tokens` tokens (the pieces joined); cached per token count. */
export const fullText = (tokens: number): string => {
  let text = fullTexts.get(tokens)
  if (text === undefined) {
    text = ""
    for (let i = 0; i < tokens; i++) text += piece(i)
    if (fullTexts.size < 64) fullTexts.set(tokens, text)
  }
  return text
}

/** About four characters per token, at least 1, like the router's own fallback estimate. */
export const estimateTokens = (chars: number): number => Math.max(1, Math.ceil(chars / 4))

/** Characters of text in a chat `messages` array: string contents and `text` parts. */
export const messageChars = (messages: unknown): number => {
  if (!Array.isArray(messages)) return 0
  let chars = 0
  for (const m of messages) {
    if (m === null || typeof m !== "object") continue
    chars += textChars((m as { content?: unknown }).content)
  }
  return chars
}

/** Characters of a prompt-like value: a string, an array of strings, or of `{ text }` parts. */
export const textChars = (value: unknown): number => {
  if (typeof value === "string") return value.length
  if (!Array.isArray(value)) return 0
  let chars = 0
  for (const part of value) {
    if (typeof part === "string") chars += part.length
    else if (part !== null && typeof part === "object") {
      const text = (part as { text?: unknown }).text
      if (typeof text === "string") chars += text.length
    }
  }
  return chars
}
