/**
 * A deliberately broken Ollama/OpenAI-compatible server for driver tests. The failure mode is
 * the first path segment of the base URL: the driver appends `/api/chat` or
 * `/v1/chat/completions` to the URL's pathname, so `${server.url}/truncated` as `--url` makes
 * every request `POST /truncated/api/chat`. The API (and so the wire format) comes from the
 * path's suffix, streaming from the request body's `stream` flag. `accept-close` is the one
 * exception: a second listener that closes every connection as soon as it is accepted.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { createServer as createTcpServer, type Server as TcpServer } from "node:net"
import { Effect, type Scope } from "effect"

export type BrokenMode =
  /** A correct response with `TOKENS` content chunks reporting `TOKENS` tokens. */
  | "ok"
  | "http500"
  | "http429"
  /** Content chunks, then the body ends without `done: true` / `[DONE]`; buffered: half a JSON body. */
  | "truncated"
  /** A content chunk, a non-JSON line, then the rest of a correct stream. */
  | "garbage"
  /** A content chunk, then `{"error": …}` (Ollama line; OpenAI `data:` object) under 200; buffered: an error body under 200. */
  | "stream-error"
  /** OpenAI only: a content chunk, then an SSE `event: error`. */
  | "event-error"
  /** Reads the request, never answers (no status line). */
  | "stall-headers"
  /** Headers and one content chunk, then silence. */
  | "stall-body"
  /** A content chunk every DRIP_MS, forever: the body never stalls long enough for an idle timeout. */
  | "drip"
  /** Reads the request, then destroys the socket before any response byte. */
  | "reset-headers"
  /** Headers and content chunks, then destroys the socket mid-stream. */
  | "reset-mid"
  /** A complete, well-formed response with no content. */
  | "empty"
  /** A correct response with `TOKENS` chunks reporting `TOKENS` (tests set expectTokens ≠ TOKENS). */
  | "short"
  /** `TOKENS` content chunks, but the final chunk reports `TOKENS - 1`. */
  | "misreport"
  /** Every third request (3rd, 6th, …, counted per mode) gets a 500; the others are correct. */
  | "every3rd-500"
  /** A separate listener that destroys each connection as soon as it is accepted (before the request is read). */
  | "accept-close"
  /** Status 200 with an empty body (content-length 0). */
  | "empty-200"
  /** Content chunks, then the body ends in the middle of a line (stream); buffered: half a JSON body. */
  | "mid-line"
  /** A content chunk, then one HUGE_LINE-byte line that is not JSON, then the rest of a correct stream; buffered: a HUGE_LINE-byte body that is not JSON. */
  | "huge-line"
  /** A correct response as HTTP/1.0: no content-length, no chunked encoding, the body ends when the connection closes. */
  | "http10"

export const TOKENS = 3
export const DRIP_MS = 40
/** Bytes of the `huge-line` line: far past any real chunk. */
export const HUGE_LINE = 32 * 1024 * 1024

export interface BrokenServer {
  /** Base URL without a mode, e.g. http://127.0.0.1:40123. */
  readonly url: string
  readonly port: number
  /** The base URL selecting `mode`. */
  readonly urlFor: (mode: BrokenMode) => string
  /** Inference requests received per mode (counted when the request body has been read). */
  readonly received: (mode: BrokenMode) => number
  /** Open TCP connections right now. */
  readonly connections: () => Promise<number>
}

type Api = "ollama" | "openai"

const OLLAMA_PATH = "/api/chat"
const OPENAI_PATH = "/v1/chat/completions"

const ollamaLine = (content: string, done = false, evalCount?: number): string =>
  JSON.stringify({
    model: "mock",
    created_at: "2025-01-01T00:00:00.000Z",
    message: { role: "assistant", content },
    done,
    ...(done ? { done_reason: "stop", eval_count: evalCount, eval_duration: 1_000_000 } : {})
  }) + "\n"

const sse = (obj: unknown): string => `data: ${JSON.stringify(obj)}\n\n`
const openAiChunk = (delta: Record<string, unknown>, finish: string | null = null): string =>
  sse({ id: "chatcmpl-x", object: "chat.completion.chunk", created: 1, model: "mock", choices: [{ index: 0, delta, finish_reason: finish }] })
const openAiUsage = (tokens: number): string =>
  sse({
    id: "chatcmpl-x",
    object: "chat.completion.chunk",
    created: 1,
    model: "mock",
    choices: [],
    usage: { prompt_tokens: 5, completion_tokens: tokens, total_tokens: tokens + 5 }
  })
const DONE = "data: [DONE]\n\n"

interface Wire {
  readonly contentType: string
  readonly head: string
  readonly token: (i: number) => string
  readonly final: (reported: number) => string
  readonly error: string
  readonly whole: (content: string, reported: number) => string
}

const wires: Record<Api, (includeUsage: boolean) => Wire> = {
  ollama: () => ({
    contentType: "application/x-ndjson",
    head: "",
    token: (i) => ollamaLine(`tok${i} 😀 `),
    final: (reported) => ollamaLine("", true, reported),
    error: '{"error":"boom"}\n',
    whole: (content, reported) =>
      JSON.stringify({
        model: "mock",
        created_at: "2025-01-01T00:00:00.000Z",
        message: { role: "assistant", content },
        done: true,
        done_reason: "stop",
        eval_count: reported
      })
  }),
  openai: (includeUsage) => ({
    contentType: "text/event-stream",
    head: openAiChunk({ role: "assistant", content: "" }),
    token: (i) => openAiChunk({ content: `tok${i} 漢字 ` }),
    final: (reported) => openAiChunk({}, "stop") + (includeUsage ? openAiUsage(reported) : "") + DONE,
    error: sse({ error: { message: "boom", type: "server_error", code: null } }),
    whole: (content, reported) =>
      JSON.stringify({
        id: "chatcmpl-x",
        object: "chat.completion",
        created: 1,
        model: "mock",
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: { prompt_tokens: 5, completion_tokens: reported, total_tokens: reported + 5 }
      })
  })
}

const tokens = (wire: Wire, n: number): string => {
  let s = ""
  for (let i = 0; i < n; i++) s += wire.token(i)
  return s
}

const sendJson = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers })
  res.end(body)
}

/** Starts streaming: status, headers and `body` now. */
const startStream = (res: ServerResponse, wire: Wire, body: string): void => {
  res.writeHead(200, { "content-type": wire.contentType, "cache-control": "no-cache" })
  res.flushHeaders()
  if (body.length > 0) res.write(body)
}

const respond = (
  mode: BrokenMode,
  n: number,
  api: Api,
  stream: boolean,
  includeUsage: boolean,
  req: IncomingMessage,
  res: ServerResponse
): void => {
  const wire = wires[api](includeUsage)
  const correct = (chunks: number, reported: number) => {
    if (!stream) return sendJson(res, 200, wire.whole(chunks === 0 ? "" : tokens(wire, chunks), reported))
    res.writeHead(200, { "content-type": wire.contentType })
    res.end(wire.head + tokens(wire, chunks) + wire.final(reported))
  }
  switch (mode) {
    case "ok":
    case "short":
      return correct(TOKENS, TOKENS)
    case "misreport":
      return correct(TOKENS, TOKENS - 1)
    case "empty":
      return correct(0, 0)
    case "every3rd-500":
      return n % 3 === 0 ? sendJson(res, 500, '{"error":"every third"}') : correct(TOKENS, TOKENS)
    case "http500":
      return sendJson(res, 500, '{"error":"internal server error"}')
    case "http429":
      return sendJson(res, 429, '{"error":"too many requests"}', { "retry-after": "1" })
    case "truncated":
      if (!stream) {
        const whole = wire.whole(tokens(wire, TOKENS), TOKENS)
        res.writeHead(200, { "content-type": "application/json" })
        return void res.end(whole.slice(0, whole.length >> 1))
      }
      startStream(res, wire, wire.head + tokens(wire, TOKENS))
      return void res.end()
    case "garbage":
      if (!stream) return sendJson(res, 200, "<html>502 Bad Gateway</html>\n")
      startStream(res, wire, wire.head + wire.token(0) + "<html>502 Bad Gateway</html>\n\n")
      return void res.end(tokens(wire, TOKENS) + wire.final(TOKENS))
    case "stream-error":
      if (!stream) return sendJson(res, 200, '{"error":"boom"}')
      startStream(res, wire, wire.head + wire.token(0))
      return void res.end(wire.error)
    case "event-error":
      startStream(res, wire, wire.head + wire.token(0))
      return void res.end('event: error\ndata: {"message":"overloaded"}\n\n')
    case "stall-headers":
      return
    case "stall-body": {
      if (stream) return startStream(res, wire, wire.head + wire.token(0))
      // Buffered: the headers promise a whole body, half of it arrives.
      const whole = wire.whole(tokens(wire, TOKENS), TOKENS)
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(whole) })
      return void res.write(whole.slice(0, whole.length >> 1))
    }
    case "drip": {
      let i = 0
      if (stream) startStream(res, wire, wire.head)
      else res.writeHead(200, { "content-type": "application/json" }).flushHeaders()
      // Buffered: a body that never ends, one space at a time (JSON allows leading whitespace).
      const timer = setInterval(() => res.write(stream ? wire.token(i++) : " "), DRIP_MS)
      res.on("close", () => clearInterval(timer))
      return
    }
    case "empty-200":
      res.writeHead(200, { "content-type": stream ? wire.contentType : "application/json", "content-length": 0 })
      return void res.end()
    case "mid-line": {
      if (!stream) {
        const whole = wire.whole(tokens(wire, TOKENS), TOKENS)
        res.writeHead(200, { "content-type": "application/json" })
        return void res.end(whole.slice(0, whole.length >> 1))
      }
      const next = wire.token(TOKENS)
      startStream(res, wire, wire.head + tokens(wire, TOKENS))
      return void res.end(next.slice(0, next.length >> 1))
    }
    case "huge-line": {
      const huge = Buffer.alloc(HUGE_LINE, "x")
      if (!stream) {
        res.writeHead(200, { "content-type": "application/json", "content-length": huge.length })
        return void res.end(huge)
      }
      // SSE ignores a line without a field name, so the OpenAI line is a `data:` line.
      startStream(res, wire, wire.head + wire.token(0) + (api === "openai" ? "data: " : ""))
      res.write(huge)
      return void res.end((api === "openai" ? "\n\n" : "\n") + tokens(wire, TOKENS).slice(wire.token(0).length) + wire.final(TOKENS))
    }
    case "http10": {
      const body = stream ? wire.head + tokens(wire, TOKENS) + wire.final(TOKENS) : wire.whole(tokens(wire, TOKENS), TOKENS)
      const type = stream ? wire.contentType : "application/json"
      // Past node:http: the raw bytes of an HTTP/1.0 reply, whose body is ended by closing the connection.
      const socket = req.socket
      socket.write(`HTTP/1.0 200 OK\r\ncontent-type: ${type}\r\nconnection: close\r\n\r\n`)
      return void socket.end(body)
    }
    case "accept-close":
      return sendJson(res, 500, '{"error":"accept-close has its own listener"}')
    case "reset-headers":
      return void req.socket.destroy()
    case "reset-mid":
      startStream(res, wire, "")
      return void res.write(wire.head + tokens(wire, TOKENS), () => res.socket?.destroy())
  }
}

/** Starts a listener on 127.0.0.1, port 0; resolves with its port. */
const listen = (server: TcpServer | ReturnType<typeof createServer>): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve(typeof address === "object" && address !== null ? address.port : 0)
    })
  )

/** Starts the servers on 127.0.0.1, port 0; closed (every connection destroyed) with the scope. */
export const make: Effect.Effect<BrokenServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const counts = new Map<string, number>()
    const server = createServer((req, res) => {
      const url = req.url ?? "/"
      const api: Api | undefined = url.endsWith(OLLAMA_PATH) ? "ollama" : url.endsWith(OPENAI_PATH) ? "openai" : undefined
      const mode = url.split("/")[1] as BrokenMode
      let text = ""
      req.setEncoding("utf8")
      req.on("data", (d: string) => (text += d))
      req.on("end", () => {
        if (api === undefined || req.method !== "POST") return sendJson(res, 404, '{"error":"no such route"}')
        const n = (counts.get(mode) ?? 0) + 1
        counts.set(mode, n)
        let body: any = {}
        try {
          body = JSON.parse(text)
        } catch {
          return sendJson(res, 400, '{"error":"bad json"}')
        }
        const stream = api === "ollama" ? body.stream !== false : body.stream === true
        respond(mode, n, api, stream, body.stream_options?.include_usage === true, req, res)
      })
    })
    // `accept-close`: every connection is destroyed on accept, before a byte of the request is read.
    const closer = createTcpServer((socket) => {
      counts.set("accept-close", (counts.get("accept-close") ?? 0) + 1)
      socket.destroy()
    })
    const [port, closerPort] = await Promise.all([listen(server), listen(closer)])
    return { server, port, closer, closerPort, counts }
  }),
  ({ closer, server }) =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          let open = 2
          const done = () => void (--open === 0 && resolve())
          server.close(done)
          server.closeAllConnections()
          closer.close(done)
        })
    )
).pipe(
  Effect.map(({ closerPort, counts, port, server }): BrokenServer => {
    const url = `http://127.0.0.1:${port}`
    return {
      url,
      port,
      urlFor: (mode) => (mode === "accept-close" ? `http://127.0.0.1:${closerPort}/${mode}` : `${url}/${mode}`),
      received: (mode) => counts.get(mode) ?? 0,
      connections: () =>
        new Promise<number>((resolve, reject) => server.getConnections((err, count) => (err ? reject(err) : resolve(count))))
    }
  })
)
