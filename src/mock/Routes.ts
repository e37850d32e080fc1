import type { IncomingMessage, ServerResponse } from "node:http"
import { Completion, type MockState } from "./Completion.ts"
import type { Catalog } from "./Models.ts"
import { OllamaChat, OllamaGenerate } from "./OllamaWire.ts"
import { OpenAiChat, OpenAiCompletions } from "./OpenAiWire.ts"
import { estimateTokens, messageChars, textChars } from "./Pieces.ts"
import type { Wire } from "./Wire.ts"

/**
 * The mock's request listener: plain `node:http` callbacks, one `switch` on the path.
 *
 * - Ollama: `GET /api/tags`, `/api/ps`, `/api/version`, `POST /api/chat`, `/api/generate`,
 *   `/api/show`, and `GET /` ("Ollama is running").
 * - OpenAI: `GET /v1/models` (and `/models`), `/v1/api/version`, `POST /v1/chat/completions`,
 *   `/v1/completions`.
 *
 * Errors use each family's own shape: unknown model 404, malformed body 400, unknown path 404,
 * wrong method 405 (with `Allow`). Headers and unknown body fields are ignored.
 */

/** Request bodies past this size get 413 (chat bodies with images can be large). */
const MAX_BODY_BYTES = 64 * 1024 * 1024

const JSON_TYPE = "application/json"

/** How one API family reports an error. */
interface Family {
  readonly error: (message: string, code: string | null, param: string | null) => string
  readonly modelNotFound: (model: string) => string
}

const Ollama: Family = {
  error: (message) => JSON.stringify({ error: message }),
  modelNotFound: (model) => JSON.stringify({ error: `model "${model}" not found, try pulling it first` })
}

const OpenAi: Family = {
  error: (message, code, param) => JSON.stringify({ error: { message, type: "invalid_request_error", param, code } }),
  modelNotFound: (model) =>
    OpenAi.error(`The model \`${model}\` does not exist or you do not have access to it.`, "model_not_found", "model")
}

const OLLAMA_VERSION = Buffer.from(JSON.stringify({ version: "0.12.3" }))
const OPENAI_VERSION = Buffer.from(JSON.stringify({ version: "0.0.0" }))
const ROOT = Buffer.from("Ollama is running")

/** What a POST route does with its parsed body. */
interface Inference {
  readonly wire: Wire
  readonly family: Family
  /** Ollama streams unless `stream: false`; OpenAI streams only on `stream: true`. */
  readonly streamByDefault: boolean
  readonly promptChars: (body: Record<string, any>) => number
}

const chatChars = (body: Record<string, any>) => messageChars(body.messages)

const OLLAMA_CHAT: Inference = { wire: OllamaChat, family: Ollama, streamByDefault: true, promptChars: chatChars }
const OLLAMA_GENERATE: Inference = {
  wire: OllamaGenerate,
  family: Ollama,
  streamByDefault: true,
  promptChars: (body) => textChars(body.prompt) + textChars(body.system)
}
const OPENAI_CHAT: Inference = { wire: OpenAiChat, family: OpenAi, streamByDefault: false, promptChars: chatChars }
const OPENAI_COMPLETIONS: Inference = {
  wire: OpenAiCompletions,
  family: OpenAi,
  streamByDefault: false,
  promptChars: (body) => textChars(body.prompt)
}

export const makeHandler = (state: MockState, catalog: Catalog) => {
  const inference = (req: IncomingMessage, res: ServerResponse, route: Inference): void => {
    const startedAt = performance.now()
    readJson(req, res, route.family, (body) => {
      const model = body.model
      if (typeof model !== "string" || model.length === 0) {
        return sendJson(res, 400, route.family.error("model is required", "missing_model", "model"))
      }
      const variant = catalog.resolve(model)
      if (variant === undefined) return sendJson(res, 404, route.family.modelNotFound(model))
      const stream = route.streamByDefault ? body.stream !== false : body.stream === true
      const includeUsage = stream && body.stream_options != null && body.stream_options.include_usage === true
      const promptTokens = estimateTokens(route.promptChars(body))
      new Completion(state, res, route.wire, variant, stream, includeUsage, promptTokens, startedAt).start()
    })
  }

  const show = (req: IncomingMessage, res: ServerResponse): void =>
    readJson(req, res, Ollama, (body) => {
      const model = typeof body.model === "string" ? body.model : body.name
      if (typeof model !== "string" || model.length === 0) return sendJson(res, 400, Ollama.error("model is required", null, null))
      const variant = catalog.resolve(model)
      if (variant === undefined) return sendJson(res, 404, Ollama.modelNotFound(model))
      sendJson(res, 200, catalog.show(variant))
    })

  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const path = q < 0 ? url : url.slice(0, q)
    const method = req.method
    const isGet = method === "GET" || method === "HEAD"
    switch (path) {
      case "/api/chat":
        return method === "POST" ? inference(req, res, OLLAMA_CHAT) : notAllowed(res, Ollama, "POST")
      case "/api/generate":
        return method === "POST" ? inference(req, res, OLLAMA_GENERATE) : notAllowed(res, Ollama, "POST")
      case "/v1/chat/completions":
        return method === "POST" ? inference(req, res, OPENAI_CHAT) : notAllowed(res, OpenAi, "POST")
      case "/v1/completions":
        return method === "POST" ? inference(req, res, OPENAI_COMPLETIONS) : notAllowed(res, OpenAi, "POST")
      case "/api/tags":
        return isGet ? sendJson(res, 200, catalog.tags) : notAllowed(res, Ollama, "GET, HEAD")
      case "/api/ps":
        return isGet ? sendJson(res, 200, catalog.ps) : notAllowed(res, Ollama, "GET, HEAD")
      case "/api/version":
        return isGet ? sendJson(res, 200, OLLAMA_VERSION) : notAllowed(res, Ollama, "GET, HEAD")
      case "/api/show":
        return method === "POST" ? show(req, res) : notAllowed(res, Ollama, "POST")
      case "/v1/models":
      case "/models":
        return isGet ? sendJson(res, 200, catalog.openAiModels) : notAllowed(res, OpenAi, "GET, HEAD")
      case "/v1/api/version":
        return isGet ? sendJson(res, 200, OPENAI_VERSION) : notAllowed(res, OpenAi, "GET, HEAD")
      case "/":
        if (!isGet) return notAllowed(res, Ollama, "GET, HEAD")
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": ROOT.length })
        return void res.end(ROOT)
      default: {
        const family = path.startsWith("/v1/") ? OpenAi : Ollama
        return sendJson(res, 404, family.error(`no route for ${method} ${path}`, "unknown_url", null))
      }
    }
  }
}

const sendJson = (res: ServerResponse, status: number, body: string | Buffer, extra?: Record<string, string>): void => {
  const headers: Record<string, string | number> = {
    "content-type": JSON_TYPE,
    "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.length
  }
  if (extra !== undefined) Object.assign(headers, extra)
  res.writeHead(status, headers)
  res.end(body)
}

const notAllowed = (res: ServerResponse, family: Family, allow: string): void =>
  sendJson(res, 405, family.error(`method not allowed (allowed: ${allow})`, "method_not_allowed", null), { allow })

/**
 * Reads the whole body and parses it as a JSON object. A body that is not a JSON object gets 400
 * in the route's own error shape, an oversized one 413; `onBody` runs only for a good body.
 */
const readJson = (
  req: IncomingMessage,
  res: ServerResponse,
  family: Family,
  onBody: (body: Record<string, any>) => void
): void => {
  let first: Buffer | undefined
  let rest: Array<Buffer> | undefined
  let size = 0
  let rejected = false
  req.on("data", (chunk: Buffer) => {
    if (rejected) return
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      rejected = true
      first = rest = undefined
      sendJson(res, 413, family.error(`request body over ${MAX_BODY_BYTES} bytes`, "body_too_large", null), { connection: "close" })
      return
    }
    if (first === undefined) first = chunk
    else (rest ??= [first]).push(chunk)
  })
  req.on("end", () => {
    if (rejected || res.destroyed) return
    const text = rest !== undefined ? Buffer.concat(rest, size).toString("utf8") : first !== undefined ? first.toString("utf8") : ""
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (e) {
      return sendJson(res, 400, family.error(`invalid JSON body: ${(e as Error).message}`, "invalid_json", null))
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return sendJson(res, 400, family.error("the request body must be a JSON object", "invalid_json", null))
    }
    onBody(body as Record<string, any>)
  })
}
