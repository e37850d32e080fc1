// The plain reference client: a hand-written closed loop on an undici `Pool`, one async loop
// per virtual client, `pool.request` per request. No Effect, no histogram library; plain
// JavaScript run with plain `node` (no loader).
//
//   node bench/plain/client.mjs '<json config>'      (bench/run.ts builds it)
//
// config: { origin, path, headers, body, stream, concurrency, durationS, warmupS, maxS }
//
// Same load shape and counting rules as our driver, so the numbers compare one to one:
// - `concurrency` loops, started staggered over the first half of the warmup
// - a request is measured when it starts inside the window [warmup, warmup + duration)
//   measured requests still running when the window closes are waited for and counted
//   req/s = measured requests / duration, tokens/s = their tokens / duration.
// - Non-streaming: `await body.text()` (read, not parsed; the driver also JSON-parses it).
// - Streaming (Ollama NDJSON): lines split by hand, each `JSON.parse`d; a line with non-empty
//   `message.content` is a token; the inter-token gaps are the times between the socket reads
//   that carried content (0 for tokens in the same read), pooled, as the driver's `itl`
//   TTFT = first content read - request start; tokens = the done line's `eval_count`.
//
// Prints one JSON line (the result) on stdout.
import { Pool } from "undici"

// A tiny exact-to-10-us histogram: 10 us buckets up to 1 s (400 KB), values past 1 s kept as-is.
class Hist {
  buckets = new Uint32Array(100001)
  over = []
  count = 0
  sum = 0
  maxV = 0
  record(ms) {
    const v = ms < 0 ? 0 : ms
    this.count++
    this.sum += v
    if (v > this.maxV) this.maxV = v
    if (v < 1e3) this.buckets[Math.round(v * 100)]++
    else this.over.push(v)
  }
  /** The value at quantile q (0..1), in ms, to 0.01 ms; 0 when empty. */
  quantile(q) {
    if (this.count === 0) return 0
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    const b = this.buckets
    for (let i = 0; i < b.length; i++) {
      seen += b[i]
      if (seen >= rank) return i / 100
    }
    this.over.sort((x, y) => x - y)
    return this.over[Math.min(this.over.length - 1, rank - seen - 1)]
  }
  summary() {
    const r = (x) => Math.round(x * 1e3) / 1e3
    return {
      count: this.count,
      mean: this.count ? r(this.sum / this.count) : 0,
      p50: r(this.quantile(0.5)),
      p90: r(this.quantile(0.9)),
      p99: r(this.quantile(0.99)),
      max: r(this.maxV)
    }
  }
}

const cfg = JSON.parse(process.argv[2])
const reqBody = Buffer.from(cfg.body)
const pool = new Pool(cfg.origin, { connections: cfg.concurrency, pipelining: 1 })
const latency = new Hist()
const ttft = new Hist()
const itl = new Hist()
let ok = 0
let errors = 0
const errorSamples = {}
let tokens = 0
let contentLines = 0
let warmupRequests = 0
const t0 = performance.now()
const windowStart = t0 + cfg.warmupS * 1e3
const windowEnd = windowStart + cfg.durationS * 1e3
let windowStartWall = 0
let cpuAtStart
let cpuInWindow
let peakRss = 0
const rssTimer = setInterval(() => {
  const r = process.memoryUsage.rss()
  if (r > peakRss) peakRss = r
}, 200)
setTimeout(() => {
  windowStartWall = Date.now()
  cpuAtStart = process.cpuUsage()
}, Math.max(0, windowStart - performance.now()))
setTimeout(() => {
  if (cpuAtStart) cpuInWindow = process.cpuUsage(cpuAtStart)
}, Math.max(0, windowEnd - performance.now()))
const fail = (what) => {
  errors++
  errorSamples[what] = (errorSamples[what] ?? 0) + 1
}
const readStream = (body, start, measured) => new Promise((resolve, reject) => {
  let pending = ""
  let lines = 0
  let evalCount = -1
  let first = -1
  let prev = -1
  let done = false
  body.setEncoding("utf8")
  body.on("data", (chunk) => {
    const now = performance.now()
    let text = pending.length > 0 ? pending + chunk : chunk
    let from = 0
    for (; ; ) {
      const nl = text.indexOf("\n", from)
      if (nl < 0) break
      const line = text.slice(from, nl)
      from = nl + 1
      if (line.length === 0) continue
      let obj
      try {
        obj = JSON.parse(line)
      } catch (err) {
        body.destroy()
        return reject(Object.assign(err, { code: "malformed" }))
      }
      const content = obj.message?.content
      if (typeof content === "string" && content.length > 0) {
        lines++
        if (first < 0) first = now
        if (measured && prev >= 0) itl.record(now - prev)
        prev = now
      }
      if (obj.done === true) {
        done = true
        if (typeof obj.eval_count === "number") evalCount = obj.eval_count
      }
    }
    pending = from < text.length ? text.slice(from) : ""
    text = ""
  })
  body.on("end", () => resolve({ lines, evalCount, first: first < 0 ? start : first, done }))
  body.on("error", reject)
})
const once = async (measured) => {
  const start = performance.now()
  try {
    const { statusCode, body } = await pool.request({ path: cfg.path, method: "POST", headers: cfg.headers, body: reqBody })
    if (statusCode !== 200) {
      await body.dump()
      if (measured) fail(`http_${statusCode}`)
      return
    }
    if (!cfg.stream) {
      const text = await body.text()
      if (!measured) return
      const end = performance.now()
      if (text.length === 0) return fail("empty")
      ok++
      latency.record(end - start)
      return
    }
    const r = await readStream(body, start, measured)
    if (!measured) return
    const end = performance.now()
    if (!r.done) return fail("truncated")
    if (r.lines === 0) return fail("empty")
    ok++
    latency.record(end - start)
    ttft.record(r.first - start)
    contentLines += r.lines
    tokens += r.evalCount >= 0 ? r.evalCount : r.lines
  } catch (err) {
    if (measured) fail(err.code ?? err.name ?? "error")
  }
}
const loop = async (delayMs) => {
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
  for (; ; ) {
    const now = performance.now()
    if (now >= windowEnd) return
    const measured = now >= windowStart
    if (!measured) warmupRequests++
    await once(measured)
  }
}
const guard = setTimeout(() => {
  process.stderr.write(`plain client: hard stop after ${cfg.maxS} s\n`)
  process.exit(3)
}, cfg.maxS * 1e3)
const stagger = cfg.concurrency > 1 ? cfg.warmupS * 1e3 / 2 / cfg.concurrency : 0
const loops = []
for (let i = 0; i < cfg.concurrency; i++) loops.push(loop(i * stagger))
await Promise.all(loops)
const drainedAt = performance.now()
clearTimeout(guard)
clearInterval(rssTimer)
await pool.close()
const requests = ok + errors
const cpu = cpuInWindow ?? process.cpuUsage(cpuAtStart)
process.stdout.write(
  JSON.stringify({
    contender: cfg.stream ? "plain-undici-stream" : "plain-undici",
    concurrency: cfg.concurrency,
    windowSeconds: cfg.durationS,
    windowStartWall,
    windowEndWall: windowStartWall + cfg.durationS * 1e3,
    drainSeconds: Math.max(0, (drainedAt - windowEnd) / 1e3),
    requests,
    ok,
    errors,
    errorsByClass: errorSamples,
    warmupRequests,
    rps: requests / cfg.durationS,
    okRps: ok / cfg.durationS,
    tokens,
    contentLines,
    outputTokensPerSecond: tokens / cfg.durationS,
    latency: latency.summary(),
    ttft: ttft.summary(),
    itl: itl.summary(),
    selfCpuPercentInWindow: Math.round((cpu.user + cpu.system) / 1e6 / cfg.durationS * 1e3) / 10,
    selfPeakRssMiB: Math.round(peakRss / 1048576 * 10) / 10
  }) + "\n"
)
