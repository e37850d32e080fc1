import { Agent, request } from "undici"

/** Test client for the mock: undici requests that record when each body chunk arrived. */

export interface Reply {
  readonly status: number
  readonly contentType: string
  readonly text: string
  /** `performance.now()` when the request was sent. */
  readonly sentAt: number
  /** Each complete line (NDJSON) or event (SSE), with the arrival time of the chunk that completed it. */
  readonly arrivals: ReadonlyArray<{ readonly at: number; readonly text: string }>
  readonly endedAt: number
}

export interface CallOptions {
  readonly method?: string
  readonly body?: unknown
  readonly headers?: Record<string, string>
  readonly dispatcher?: Agent
  /** Split arrivals on this separator ("\n" for NDJSON, "\n\n" for SSE). */
  readonly separator?: string
}

export const call = async (base: string, path: string, opts: CallOptions = {}): Promise<Reply> => {
  const body = opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body)
  const sentAt = performance.now()
  const res = await request(base + path, {
    method: (opts.method ?? (body === undefined ? "GET" : "POST")) as "GET",
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...opts.headers },
    body,
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {})
  })
  const separator = opts.separator ?? "\n"
  const arrivals: Array<{ at: number; text: string }> = []
  let text = ""
  let pending = ""
  for await (const chunk of res.body) {
    const at = performance.now()
    const s = (chunk as Buffer).toString("utf8")
    text += s
    pending += s
    let i: number
    while ((i = pending.indexOf(separator)) >= 0) {
      arrivals.push({ at, text: pending.slice(0, i) })
      pending = pending.slice(i + separator.length)
    }
  }
  const ct = res.headers["content-type"]
  return {
    status: res.statusCode,
    contentType: Array.isArray(ct) ? ct.join(",") : (ct ?? ""),
    text,
    sentAt,
    arrivals,
    endedAt: performance.now()
  }
}

export const json = (reply: Reply): any => JSON.parse(reply.text)

/** NDJSON lines, parsed; fails on a blank line or a missing final newline. */
export const ndjson = (reply: Reply): Array<any> => {
  if (!reply.text.endsWith("\n")) throw new Error(`NDJSON body does not end with a newline: ${JSON.stringify(reply.text.slice(-80))}`)
  const lines = reply.text.slice(0, -1).split("\n")
  return lines.map((line, i) => {
    if (line.trim().length === 0) throw new Error(`blank NDJSON line at ${i}`)
    return JSON.parse(line)
  })
}

/** SSE `data:` payloads; fails unless every event is exactly `data: <payload>\n\n`. */
export const sse = (reply: Reply): Array<string> => {
  if (!reply.text.endsWith("\n\n")) throw new Error("SSE body does not end with a blank line")
  return reply.text
    .slice(0, -2)
    .split("\n\n")
    .map((event, i) => {
      if (!event.startsWith("data: ") || event.includes("\n")) throw new Error(`malformed SSE event ${i}: ${JSON.stringify(event)}`)
      return event.slice("data: ".length)
    })
}

/** Polls `condition` every few ms until it holds or `timeoutMs` passes (then throws). */
export const waitUntil = async (condition: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export const isIso = (value: unknown): boolean =>
  typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) && !Number.isNaN(Date.parse(value))

export const isNonNegInt = (value: unknown): boolean => Number.isInteger(value) && (value as number) >= 0
