import { Schema } from "effect"

/** The two chat wires: Ollama `/api/chat` (NDJSON) and OpenAI `/v1/chat/completions` (SSE). */
export const Api = Schema.Literal("ollama", "openai").annotations({ message: () => ({ message: "must be ollama or openai", override: true }) })
export type Api = typeof Api.Type
