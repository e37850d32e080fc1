/**
 * Per-request failure classes. A failed request is counted under exactly one class; these are
 * plain strings on purpose (no error object per failure on the hot path).
 *
 * - `connect`: the TCP connection could not be opened (refused, unreachable, connect timeout)
 * - `reset`: the connection broke after it was open (reset, socket closed mid-response)
 * - `timeout`: no complete response within --timeout
 * - `http_<status>`: a non-2xx status
 * - `truncated`: the body ended without its final marker (Ollama `done: true`, OpenAI `[DONE]`)
 * - `malformed`: a line or event that is not the JSON the API defines
 * - `stream_error`: an `{"error": …}` object (or SSE `event: error`) inside a 2xx response
 * - `empty`: a complete, well-formed response that carried no content
 * - `token_mismatch`: tokens received differ from the count the final chunk reports
 * - `other`: anything else (the message is logged once)
 */
export type ErrorClass =
  | "connect"
  | "reset"
  | "timeout"
  | `http_${number}`
  | "truncated"
  | "malformed"
  | "stream_error"
  | "empty"
  | "token_mismatch"
  | "other"

const connectCodes = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_CONNECT"
])
const resetCodes = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "ECONNABORTED"])
const timeoutCodes = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"])

/** Classifies a thrown client error (undici or system). */
export const classifyError = (err: unknown): ErrorClass => {
  let e: any = err
  // undici wraps system errors; walk the cause chain for the most specific code.
  for (let depth = 0; e != null && depth < 4; depth++) {
    const code = e.code
    if (typeof code === "string") {
      if (connectCodes.has(code)) return "connect"
      if (timeoutCodes.has(code)) return "timeout"
      if (resetCodes.has(code)) return "reset"
    }
    if (Array.isArray(e.errors) && e.errors.length > 0) e = e.errors[0]
    else e = e.cause
  }
  return "other"
}

export const httpClass = (status: number): ErrorClass => `http_${status}` as ErrorClass
