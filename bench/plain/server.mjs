// The plain reference server: a minimal `node:http` server that answers every request with
// bytes recorded from our mock (bench/run.ts records them), nothing else. No routing, no
// request parsing (the request body is read and dropped). Plain JavaScript, run with plain
// `node` (no loader), so its CPU and RSS are what Node itself costs.
//
//   node bench/plain/server.mjs --body FILE --mode buffered|stream [--tok-ms MS] [--ttft-ms MS] [--port P]
//
// - buffered: `200 application/json` with content-length, the whole body in one write.
// - stream, --tok-ms 0: `200 application/x-ndjson`, chunked, the whole body in one write (what
//   the mock does at --mock-tok-ms 0).
// - stream, --tok-ms > 0: one write per NDJSON line: the first line at TTFT, then one line every
//   tok-ms, the last (done) line tok-ms after the last token, like the mock. One `setTimeout`
//   chain per stream (the "plain" way; the mock shares one ticker), with due times counted from
//   arrival so timer lateness does not accumulate, and a stream more than a token behind
//   continuing from "now" (the mock's rule).
//
// Prints `plain server listening on http://127.0.0.1:PORT` on stdout; SIGTERM closes it.
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1]
  if (fallback === void 0) throw new Error(`missing --${name}`)
  return fallback
}
const mode = arg("mode")
const tokMs = Number(arg("tok-ms", "0"))
const ttftMs = Number(arg("ttft-ms", "0"))
const port = Number(arg("port", "0"))
const body = readFileSync(arg("body"))
const JSON_HEADERS = { "content-type": "application/json", "content-length": body.length }
const NDJSON_HEADERS = { "content-type": "application/x-ndjson" }
// The recorded stream split after each LF: lines[0..n-2] carry tokens, the last is the done line.
const lines = []
for (let start = 0; start < body.length; ) {
  let end = body.indexOf(10, start)
  end = end < 0 ? body.length : end + 1
  lines.push(body.subarray(start, end))
  start = end
}
const respond = (res) => {
  if (mode === "buffered") {
    res.writeHead(200, JSON_HEADERS)
    res.end(body)
    return
  }
  res.writeHead(200, NDJSON_HEADERS)
  if (tokMs <= 0 && ttftMs <= 0) {
    res.end(body)
    return
  }
  let i = 0
  let due = performance.now() + ttftMs
  let timer
  const step = () => {
    timer = void 0
    if (res.destroyed) return
    const now = performance.now()
    if (i === lines.length - 1) {
      res.end(lines[i])
      return
    }
    res.write(lines[i++])
    due += tokMs
    if (due <= now) due = now + tokMs
    timer = setTimeout(step, Math.max(0, due - performance.now()))
  }
  res.on("close", () => {
    if (timer !== void 0) clearTimeout(timer)
  })
  if (ttftMs <= 0) step()
  else timer = setTimeout(step, ttftMs)
}
const server = createServer({ noDelay: true }, (req, res) => {
  req.on("end", () => respond(res))
  req.resume()
})
// Later errors (e.g. EMFILE on accept) cost a client its connection, not the process.
server.on("error", () => {})
server.listen({ host: "127.0.0.1", port, backlog: 4096 }, () => {
  const a = server.address()
  const p = a !== null && typeof a === "object" ? a.port : port
  process.stdout.write(`plain server listening on http://127.0.0.1:${p}\n`)
})
const stop = () => {
  server.close()
  server.closeAllConnections()
  setTimeout(() => process.exit(0), 200).unref()
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
