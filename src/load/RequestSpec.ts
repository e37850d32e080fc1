import type { Api } from "../domain/Api.ts"

/** What every request of a stage sends: built once, shared by all virtual clients. */
export interface RequestSpec {
  readonly api: Api
  readonly stream: boolean
  readonly path: string
  readonly body: Buffer
  readonly headers: Record<string, string>
}

/**
 * Ollama `/api/chat` or OpenAI `/v1/chat/completions`. `stream` is always sent explicitly: a
 * router's Ollama client that gets no `stream` answers 200 with an empty body
 * (router-contract §2.5 A). OpenAI streams ask for the usage chunk so the server's token
 * count can be checked.
 */
export const makeRequestSpec = (opts: {
  readonly api: Api
  readonly stream: boolean
  readonly model: string
  readonly prompt: string
  readonly basePath: string
}): RequestSpec => {
  const messages = [{ role: "user", content: opts.prompt }]
  const payload =
    opts.api === "ollama"
      ? { model: opts.model, messages, stream: opts.stream }
      : opts.stream
        ? { model: opts.model, messages, stream: true, stream_options: { include_usage: true } }
        : { model: opts.model, messages, stream: false }
  const body = Buffer.from(JSON.stringify(payload))
  const base = opts.basePath.endsWith("/") ? opts.basePath.slice(0, -1) : opts.basePath
  return {
    api: opts.api,
    stream: opts.stream,
    path: base + (opts.api === "ollama" ? "/api/chat" : "/v1/chat/completions"),
    body,
    headers: {
      "content-type": "application/json",
      accept: opts.stream ? (opts.api === "ollama" ? "application/x-ndjson" : "text/event-stream") : "application/json",
      "content-length": String(body.length)
    }
  }
}
