/**
 * The project's benchmarks (issue 2 item 10). Never part of the test suite.
 *
 *   node --import tsx bench/run.ts [a|b|c|d|all] [--quick] [--reps N] [--duration S] [--warmup S]
 *                                  [--levels 2000,5000] [--driver build|tsx|dist]
 *
 *   a  non-streaming req/s: our driver vs autocannon vs a plain undici loop, one mock, -c 64
 *   b  streaming (64 tokens, tok-ms 0): streams/s and tokens/s, our driver vs a plain undici streaming loop
 *   c  our mock vs a minimal node:http server serving the same bytes, driven by the plain undici loop
 *      (buffered and streamed shapes)
 *   d  slow streams (200 tokens, tok-ms 25) at 2,000 and 5,000 concurrent: driver + mock vs a plain
 *      node:http server + plain undici client pair; tokens/s, inter-token gap, TTFT, RSS, CPU
 *
 * Every server and every client is its own process (two cores: one each), all on 127.0.0.1.
 * Contenders run one after another against the same server(s), interleaved over repetitions
 * with the order rotated each repetition (A B C, B C A, C A B), each for the same warmup and
 * window; the JSON has the raw runs, the medians, the ratios and the targets with pass/fail.
 * Results: bench/results/<name>[-quick]-<timestamp>.json and <name>[-quick]-latest.json.
 * docs/benchmarks.md explains how to read them.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { request } from "undici"
import { DEFAULT_PROMPT } from "../src/load/LoadOptions.ts"
import { makeRequestSpec, type RequestSpec } from "../src/load/RequestSpec.ts"
import { BoxSampler, type ClientRun, runClient, type Server, startServer } from "./lib/proc.ts"
import { atLeast, atMost, median, medianOf, ratio, round, type Target, within } from "./lib/summary.ts"

const ROOT = path.resolve(import.meta.dirname, "..")
const RESULTS = path.join(ROOT, "bench", "results")
const FIXTURES = path.join(RESULTS, "fixtures")
const NODE = process.execPath

// ── arguments ───────────────────────────────────────────────────────────────────────────────
const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined
}
const which = argv.find((a) => !a.startsWith("--") && ["a", "b", "c", "d", "all"].includes(a)) ?? "all"
const quick = flag("quick")
const driverOpt = opt("driver") ?? "build"
const numOpt = (name: string): number | undefined => (opt(name) !== undefined ? Number(opt(name)) : undefined)

/** Warmup and window of a/b/c; (d) has its own (streams last 5 s). */
const SHORT = {
  warmupS: numOpt("warmup") ?? (quick ? 1 : 2),
  durationS: numOpt("duration") ?? (quick ? 2 : 5),
  reps: numOpt("reps") ?? (quick ? 1 : 5)
}
/** A run is noisy when other processes used more than this % of one core during its window. */
const NOISE = numOpt("noise") ?? 20
const planShort = (budgetS: number): Plan => ({ reps: SHORT.reps, maxRounds: SHORT.reps + 2, budgetS: quick ? 0 : budgetS, quietMaxS: quick ? 3 : 15 })
const SLOW = {
  // Clients start over the first half of the warmup: 10 s spreads them over one 5 s stream.
  warmupS: numOpt("warmup") ?? (quick ? 4 : 10),
  durationS: numOpt("duration") ?? (quick ? 3 : 8),
  reps: numOpt("reps") ?? (quick ? 1 : 2),
  // A (d) run takes 30-60 s: noisy runs are flagged, not repeated (re-run `d` on a quiet box).
  extraRounds: 0,
  levels: (opt("levels") ?? (quick ? "200,500" : "2000,5000")).split(",").map(Number),
  tokens: 200,
  tokMs: 25
}
const CONCURRENCY = 64
const FAST_TOKENS = 64

// ── helpers ─────────────────────────────────────────────────────────────────────────────────
const tsx = (file: string): Array<string> => ["--import", "tsx", file]

/**
 * How our CLI (driver and mock) is run. `build` (default): compile src/ with tsconfig.build.json
 * into a temp dir (the repo's dist/ is left alone) and run `node <tmp>/bin.js`, i.e. what users
 * run, without the tsx loader's ~65 MiB and its hooks thread; falls back to tsx if the build
 * fails. `tsx`: `node --import tsx src/bin.ts`. `dist`: the repo's `node dist/bin.js`.
 */
const prepareDriver = (): { readonly kind: string; readonly args: Array<string>; readonly note?: string } => {
  if (driverOpt === "tsx") return { kind: "tsx", args: tsx("src/bin.ts") }
  if (driverOpt === "dist") return { kind: "dist", args: [path.join(ROOT, "dist", "bin.js")] }
  const out = path.join(os.tmpdir(), `nomyo-load-bench-dist-${process.pid}`)
  rmSync(out, { recursive: true, force: true })
  const tsc = spawnSync(NODE, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--outDir", out, "--noCheck"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 180_000
  })
  // --noCheck: emit without type-checking, so a type error in a file someone is editing does not
  // stop the benchmark (a syntax error still does; then tsx).
  if (tsc.status !== 0 || !existsSync(path.join(out, "bin.js"))) {
    const why = `build failed (${(tsc.stdout + tsc.stderr).trim().split("\n").slice(0, 3).join(" | ")}); using tsx`
    log(`  driver: ${why}`)
    rmSync(out, { recursive: true, force: true })
    return { kind: "tsx", args: tsx("src/bin.ts"), note: why }
  }
  // Resolve packages from the repo and load the output as ES modules.
  symlinkSync(path.join(ROOT, "node_modules"), path.join(out, "node_modules"), "dir")
  writeFileSync(path.join(out, "package.json"), '{ "type": "module" }\n')
  process.on("exit", () => rmSync(out, { recursive: true, force: true }))
  return { kind: "build", args: [path.join(out, "bin.js")] }
}
let boxSampler: BoxSampler | undefined
let driver: { readonly kind: string; readonly args: Array<string>; readonly note?: string } = { kind: "tsx", args: [] }
const driverArgs = (): Array<string> => driver.args
const plainScript = (name: string): Array<string> => [path.join("bench", "plain", name)]
const log = (s: string) => process.stdout.write(s + "\n")
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const stamp = () => new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d\d\dZ$/, "Z")

const openFilesLimit = (): number => {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"))
    return m ? (m[1] === "unlimited" ? Infinity : Number(m[1])) : NaN
  } catch {
    return NaN
  }
}

const machine = () => ({
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  totalMemMiB: Math.round(os.totalmem() / 1048576),
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  openFilesLimit: openFilesLimit(),
  hostname: os.hostname()
})

const loadavg = () => os.loadavg().map((x) => round(x, 2))

const specFor = (stream: boolean): RequestSpec =>
  makeRequestSpec({ api: "ollama", stream, model: "mock", prompt: DEFAULT_PROMPT, basePath: "/" })

/** Starts our mock through the CLI, exactly as users run it. */
const startMock = (tokens: number, tokMs: number): Promise<Server> =>
  startServer("mock", NODE, [
    ...driverArgs(),
    "--serve-mock",
    "--mock-ttft-ms",
    "0",
    "--mock-tokens",
    String(tokens),
    "--mock-tok-ms",
    String(tokMs)
  ], ROOT)

const startPlainServer = (mode: "buffered" | "stream", bodyFile: string, tokMs: number): Promise<Server> =>
  startServer(`plain-${mode}`, NODE, [...plainScript("server.mjs"), "--mode", mode, "--body", bodyFile, "--tok-ms", String(tokMs)], ROOT)

/** One real response of our mock, for the plain server to serve verbatim. */
const record = async (mock: Server, spec: RequestSpec, name: string): Promise<string> => {
  const res = await request(mock.url + spec.path, { method: "POST", headers: spec.headers, body: spec.body })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  if (res.statusCode !== 200) throw new Error(`recording ${name}: HTTP ${res.statusCode}: ${bytes.toString().slice(0, 200)}`)
  mkdirSync(FIXTURES, { recursive: true })
  const file = path.join(FIXTURES, name)
  writeFileSync(file, bytes)
  return file
}

/** One client run, normalized. */
interface Run {
  contender: string
  round?: number
  /** The rest of the box used at most NOISE % of one core during the window. */
  clean?: boolean
  /** Seconds waited for a quiet box before the run. */
  quietWaitS?: number
  /**
   * A fixed CPU-bound loop timed in the (otherwise idle) orchestrator right before the run (best
   * of 3, ms). The VM does not report steal time; when the host takes our cores, this gets slower.
   */
  probeMs?: number
  server: string
  rep: number
  concurrency: number
  exitCode: number | null
  ok: number
  errors: number
  rps: number
  tokensPerSecond?: number
  latencyP50?: number
  latencyP99?: number
  ttftP50?: number
  ttftP99?: number
  itlP50?: number
  itlP99?: number
  itlMean?: number
  clientCpuPct?: number
  serverCpuPct?: number
  clientPeakRssMiB?: number
  serverPeakRssMiB?: number
  /** Kernel (system) part of the CPU above, % of one core. */
  clientSysPct?: number
  serverSysPct?: number
  /** The whole box's busy CPU in the window (% of one core; 200 = both cores), and the part neither process used. */
  boxCpuPct?: number
  otherCpuPct?: number
  stealCpuPct?: number
  /** CPU time per measured request (µs) in the window: what each side's code costs, less sensitive to noise than req/s. */
  clientCpuUsPerReq?: number
  serverCpuUsPerReq?: number
  drainSeconds?: number
  driverLoopDelayP99Ms?: number
  errorsByClass?: Record<string, number>
  raw: unknown
}

let tmpN = 0
const tmpJson = () => path.join(os.tmpdir(), `nomyo-bench-${process.pid}-${++tmpN}.json`)

/** Drops the encoded HDR histograms from a driver stage (large, not needed here). */
const stripHdr = (x: unknown): unknown => {
  if (Array.isArray(x)) return x.map(stripHdr)
  if (x !== null && typeof x === "object") {
    const o: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(x)) if (k !== "hdr") o[k] = stripHdr(v)
    return o
  }
  return x
}

/** The fields every contender's run starts with. */
const runHead = (
  contender: string,
  server: Server,
  rep: number,
  shape: LoadShape,
  client: ClientRun,
  counts: { readonly ok: number; readonly errors: number; readonly rps: number }
) => ({
  contender,
  server: server.name,
  rep,
  concurrency: shape.concurrency,
  exitCode: client.code,
  ok: counts.ok,
  errors: counts.errors,
  rps: counts.rps
})

const finishRun = (
  base: Omit<Run, "clientCpuPct" | "serverCpuPct" | "clientPeakRssMiB" | "serverPeakRssMiB" | "boxCpuPct" | "otherCpuPct" | "stealCpuPct" | "clientCpuUsPerReq" | "serverCpuUsPerReq" | "clientSysPct" | "serverSysPct">,
  client: ClientRun,
  server: Server,
  windowStart: number,
  windowEnd: number
): Run => {
  const run: Run = {
    ...base,
    clientCpuPct: client.sampler.cpuPercent(windowStart, windowEnd),
    serverCpuPct: server.sampler.cpuPercent(windowStart, windowEnd),
    clientSysPct: client.sampler.cpuPercent(windowStart, windowEnd, "sysS"),
    serverSysPct: server.sampler.cpuPercent(windowStart, windowEnd, "sysS"),
    clientPeakRssMiB: client.sampler.hwmMiB(),
    serverPeakRssMiB: server.sampler.peakRssMiB(client.startedAt, client.endedAt)
  }
  const perReq = (pct: number | undefined) => (pct !== undefined && run.rps > 0 ? round((pct / 100 / run.rps) * 1e6, 2) : undefined)
  run.clientCpuUsPerReq = perReq(run.clientCpuPct)
  run.serverCpuUsPerReq = perReq(run.serverCpuPct)
  const box = boxSampler?.usage(windowStart, windowEnd)
  if (box !== undefined) {
    run.boxCpuPct = box.busyPct
    run.stealCpuPct = box.stealPct
    run.otherCpuPct = round(Math.max(0, box.busyPct - (run.clientCpuPct ?? 0) - (run.serverCpuPct ?? 0)), 1)
  }
  const tok = run.tokensPerSecond !== undefined ? ` ${Math.round(run.tokensPerSecond)} tok/s` : ""
  const itl = run.itlP50 !== undefined ? ` itl p50/p99 ${run.itlP50}/${run.itlP99} ms` : ""
  const ttft = run.ttftP50 !== undefined ? ` ttft p50/p99 ${run.ttftP50}/${run.ttftP99} ms` : ""
  log(
    `  ${run.contender.padEnd(22)} -> ${run.server.padEnd(14)} rep ${run.rep}: ${round(run.rps, 1)} req/s${tok}${itl}${ttft}` +
      ` ok ${run.ok} err ${run.errors} | cpu client ${run.clientCpuPct}% server ${run.serverCpuPct}%` +
      ` other ${run.otherCpuPct}% | µs/req client ${run.clientCpuUsPerReq} server ${run.serverCpuUsPerReq} | rss client ${run.clientPeakRssMiB} server ${run.serverPeakRssMiB} MiB`
  )
  return run
}

interface LoadShape {
  readonly stream: boolean
  readonly concurrency: number
  readonly warmupS: number
  readonly durationS: number
}

const clientTimeoutMs = (s: LoadShape) => (s.warmupS + s.durationS + (s.concurrency > 500 ? 150 : 60)) * 1000

/** Our driver through its CLI (`--url ... --json`), as users run it. */
const runDriver = async (server: Server, shape: LoadShape, rep: number): Promise<Run> => {
  const out = tmpJson()
  const args = [
    ...driverArgs(),
    "--url",
    server.url,
    ...(shape.stream ? [] : ["--no-stream"]),
    "-c",
    String(shape.concurrency),
    "--duration",
    String(shape.durationS),
    "--warmup",
    String(shape.warmupS),
    "--timeout",
    "120",
    "--json",
    out,
    "--model",
    "mock"
  ]
  const client = await runClient(NODE, args, ROOT, clientTimeoutMs(shape))
  let result: any
  try {
    result = JSON.parse(readFileSync(out, "utf8"))
  } catch {
    throw new Error(`driver run failed (exit ${client.code}${client.killed ? ", killed" : ""}): ${client.stderr.slice(-1500)}`)
  } finally {
    rmSync(out, { force: true })
  }
  const s = result.stages[0]
  const windowStart = Date.parse(s.startedAt)
  const windowEnd = windowStart + s.windowSeconds * 1000
  return finishRun(
    {
      ...runHead("nomyo-load", server, rep, shape, client, s),
      ...(shape.stream
        ? {
            tokensPerSecond: s.outputTokensPerSecond,
            ttftP50: s.ttft.p50,
            ttftP99: s.ttft.p99,
            itlP50: s.itl.p50,
            itlP99: s.itl.p99,
            itlMean: s.itl.mean
          }
        : {}),
      latencyP50: s.latency.p50,
      latencyP99: s.latency.p99,
      drainSeconds: s.drainSeconds,
      driverLoopDelayP99Ms: s.selfHealth?.loopDelayP99Ms,
      errorsByClass: s.errorsByClass,
      raw: stripHdr(s)
    },
    client,
    server,
    windowStart,
    windowEnd
  )
}

const lastJsonLine = (stdout: string, what: string, client: ClientRun): any => {
  const line = stdout.trim().split("\n").pop() ?? ""
  try {
    return JSON.parse(line)
  } catch {
    throw new Error(`${what} failed (exit ${client.code}${client.killed ? ", killed" : ""}): ${client.stderr.slice(-1500)}`)
  }
}

/** The plain undici loop (bench/plain/client.mjs). */
const runPlain = async (server: Server, shape: LoadShape, rep: number): Promise<Run> => {
  const spec = specFor(shape.stream)
  const cfg = {
    origin: server.url,
    path: spec.path,
    headers: spec.headers,
    body: spec.body.toString(),
    stream: shape.stream,
    concurrency: shape.concurrency,
    durationS: shape.durationS,
    warmupS: shape.warmupS,
    maxS: clientTimeoutMs(shape) / 1000 - 5
  }
  const client = await runClient(NODE, [...plainScript("client.mjs"), JSON.stringify(cfg)], ROOT, clientTimeoutMs(shape))
  const r = lastJsonLine(client.stdout, "plain client", client)
  return finishRun(
    {
      ...runHead(r.contender, server, rep, shape, client, r),
      ...(shape.stream
        ? {
            tokensPerSecond: r.outputTokensPerSecond,
            ttftP50: r.ttft.p50,
            ttftP99: r.ttft.p99,
            itlP50: r.itl.p50,
            itlP99: r.itl.p99,
            itlMean: r.itl.mean
          }
        : {}),
      latencyP50: r.latency.p50,
      latencyP99: r.latency.p99,
      drainSeconds: r.drainSeconds,
      errorsByClass: r.errorsByClass,
      raw: r
    },
    client,
    server,
    r.windowStartWall,
    r.windowEndWall
  )
}

/** autocannon via its API in its own process (bench/plain/autocannon.mjs). */
const runAutocannon = async (server: Server, shape: LoadShape, rep: number): Promise<Run> => {
  const spec = specFor(false)
  // autocannon writes its own Content-Length; a second one makes the server reject every request.
  const { "content-length": _cl, ...headers } = spec.headers
  const cfg = {
    url: server.url + spec.path,
    headers,
    body: spec.body.toString(),
    connections: shape.concurrency,
    durationS: shape.durationS,
    warmupS: shape.warmupS
  }
  const client = await runClient(NODE, [...plainScript("autocannon.mjs"), JSON.stringify(cfg)], ROOT, clientTimeoutMs(shape))
  const r = lastJsonLine(client.stdout, "autocannon", client)
  return finishRun(
    {
      ...runHead("autocannon", server, rep, shape, client, r),
      latencyP50: r.latency.p50,
      latencyP99: r.latency.p99,
      raw: r
    },
    client,
    server,
    r.windowStartWall,
    r.windowEndWall
  )
}

type Contender = { readonly key: string; readonly run: (rep: number) => Promise<Run> }

/** Runs every contender `reps` times, interleaved, the order rotated each repetition. */
/**
 * Waits (at most `maxS`) until the rest of the box is quiet: the whole machine busy at most
 * NOISE % of one core over the last second. Between runs only idle servers of ours are up, so
 * what it measures is everybody else.
 */
/** Times a fixed amount of pure CPU work (best of 3, ms): a host-speed canary. */
const probe = (): number => {
  let best = Infinity
  let x = 0
  for (let k = 0; k < 3; k++) {
    const t = performance.now()
    for (let i = 0; i < 3_000_000; i++) x = (x * 31 + i) | 0
    best = Math.min(best, performance.now() - t)
  }
  probeSink ^= x
  return round(best, 2)
}
let probeSink = 0
let bestProbe = Infinity

const quietWait = async (maxS: number): Promise<{ waitedS: number; busyPct: number }> => {
  const t0 = Date.now()
  for (;;) {
    const from = Date.now()
    await sleep(1000)
    const busy = boxSampler?.usage(from, Date.now())?.busyPct ?? 0
    const waited = (Date.now() - t0) / 1000
    if (busy <= NOISE || waited >= maxS) return { waitedS: round(waited, 1), busyPct: busy }
  }
}

interface Plan {
  /** Clean runs wanted per contender. */
  readonly reps: number
  /** Rounds at most: rounds past `reps` re-run only contenders still short of clean runs. */
  readonly maxRounds: number
  /** No extra rounds once this many seconds went by. */
  readonly budgetS: number
  /** Longest wait for a quiet box before each run. */
  readonly quietMaxS: number
}

/**
 * Runs every contender once per round, the order rotated each round (A B C, B C A, C A B), each
 * run after a short wait for a quiet box. A run is clean when the rest of the box used at most
 * NOISE % of one core during its window. Extra rounds (within maxRounds and budgetS) re-run
 * the contenders that still have fewer than `reps` clean runs.
 */
const interleave = async (contenders: ReadonlyArray<Contender>, plan: Plan): Promise<Record<string, Array<Run>>> => {
  const out: Record<string, Array<Run>> = {}
  for (const c of contenders) out[c.key] = []
  const started = Date.now()
  const cleanCount = (key: string) => out[key]!.filter((r) => r.clean).length
  for (let round = 1; round <= plan.maxRounds; round++) {
    let todo = contenders
    if (round > plan.reps) {
      todo = contenders.filter((c) => cleanCount(c.key) < plan.reps)
      if (todo.length === 0) break
      if ((Date.now() - started) / 1000 > plan.budgetS) {
        log(`  (time budget: no more rounds; clean runs ${contenders.map((c) => `${c.key} ${cleanCount(c.key)}`).join(", ")})`)
        break
      }
      log(`  extra round ${round} for ${todo.map((c) => c.key).join(", ")} (noisy runs)`)
    }
    for (let j = 0; j < todo.length; j++) {
      const c = todo[(j + round - 1) % todo.length]!
      const quiet = await quietWait(plan.quietMaxS)
      const probeMs = probe()
      const run = await c.run(round)
      run.round = round
      run.quietWaitS = quiet.waitedS
      run.probeMs = probeMs
      run.clean = (run.otherCpuPct ?? 0) <= NOISE
      if (!run.clean) log(`    (noisy: other processes used ${run.otherCpuPct}% of a core)`)
      bestProbe = Math.min(bestProbe, probeMs)
      if (probeMs > 1.3 * bestProbe) log(`    (host slow before this run: CPU probe ${probeMs} ms, best ${bestProbe} ms)`)
      out[c.key]!.push(run)
    }
  }
  return out
}

/** The runs medians are taken over: the clean ones if there are enough, else all (flagged). */
const pick = (runs: ReadonlyArray<Run>, reps: number): { runs: ReadonlyArray<Run>; basis: string } => {
  const clean = runs.filter((r) => r.clean)
  const enough = Math.max(1, Math.ceil(reps / 2))
  return clean.length >= enough
    ? { runs: clean, basis: `${clean.length} clean of ${runs.length}` }
    : { runs, basis: `all ${runs.length} (only ${clean.length} clean: noisy box, read with care)` }
}

/** num / den on one metric: ratio of the medians (over picked runs) and ratios paired by round (both clean). */
const compare = (name: string, metric: string, field: keyof Run, num: ReadonlyArray<Run>, den: ReadonlyArray<Run>, reps: number) => {
  const n = pick(num, reps)
  const d = pick(den, reps)
  const base = ratio(name, metric, n.runs.map((r) => r[field] as number), d.runs.map((r) => r[field] as number))
  const paired: Array<number> = []
  for (const a of num) {
    const b = den.find((x) => x.round === a.round && x.clean)
    if (a.clean && b !== undefined) paired.push(round((a[field] as number) / (b[field] as number), 3))
  }
  return { ...base, pairedRatios: paired, medianPairedRatio: round(median(paired), 3), basis: { numerator: n.basis, denominator: d.basis } }
}

const RUN_FIELDS = [
  "rps",
  "ok",
  "errors",
  "tokensPerSecond",
  "latencyP50",
  "latencyP99",
  "ttftP50",
  "ttftP99",
  "itlP50",
  "itlP99",
  "itlMean",
  "clientCpuPct",
  "serverCpuPct",
  "clientSysPct",
  "serverSysPct",
  "clientPeakRssMiB",
  "serverPeakRssMiB",
  "boxCpuPct",
  "otherCpuPct",
  "clientCpuUsPerReq",
  "serverCpuUsPerReq",
  "drainSeconds",
  "driverLoopDelayP99Ms",
  "probeMs"
] as const

const mediansOf = (runs: Record<string, Array<Run>>, reps: number) => {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [k, rs] of Object.entries(runs)) {
    const p = pick(rs, reps)
    out[k] = { basis: p.basis, ...medianOf(p.runs as any, RUN_FIELDS as any) }
  }
  return out as Record<string, Record<string, number> & { basis: string }>
}


const writeResult = (name: string, body: Record<string, unknown>) => {
  mkdirSync(RESULTS, { recursive: true })
  const base = quick ? `${name}-quick` : name
  const text = JSON.stringify(body, null, 2) + "\n"
  const file = path.join(RESULTS, `${base}-${stamp()}.json`)
  writeFileSync(file, text)
  writeFileSync(path.join(RESULTS, `${base}-latest.json`), text)
  log(`  -> ${path.relative(ROOT, file)}`)
}

const printTargets = (targets: ReadonlyArray<Target>) => {
  for (const t of targets) {
    const goal = t.op === "within" ? `within [${(t.target as readonly number[]).join(", ")}]` : `${t.op} ${t.target}`
    log(`  ${t.pass ? "PASS" : "MISS"} ${t.id}: ${t.description} = ${t.value} (${goal})${t.note ? ` — ${t.note}` : ""}`)
  }
}

const header = (name: string, settings: Record<string, unknown>) => ({
  benchmark: name,
  quick,
  startedAt: new Date().toISOString(),
  command: `node --import tsx bench/run.ts ${argv.join(" ") || "all"}`.trim(),
  machine: machine(),
  loadavgBefore: loadavg(),
  settings: {
    driver: { tsx: "node --import tsx src/bin.ts", dist: "node dist/bin.js", build: "node <tmp build of src>/bin.js" }[driver.kind],
    ...(driver.note !== undefined ? { driverNote: driver.note } : {}),
    plainContenders: "plain node, no loader: bench/plain/*.mjs",
    ...settings
  }
})

/**
 * A short closed-loop benchmark (a, b): one mock, contenders interleaved against it, then the
 * ratios and targets computed from their runs and written to `<name>-….json`.
 */
const shortBench = async (spec: {
  readonly name: string
  readonly title: string
  readonly stream: boolean
  readonly budgetS: number
  readonly contenders: (mock: Awaited<ReturnType<typeof startMock>>, shape: LoadShape) => Parameters<typeof interleave>[0]
  readonly ratios: (runs: Record<string, Array<Run>>) => Array<ReturnType<typeof compare>>
  readonly targets: (ratios: Array<ReturnType<typeof compare>>) => Array<Target>
}) => {
  log(`\n(${spec.name}) ${spec.title}, -c ${CONCURRENCY}, warmup ${SHORT.warmupS} s, window ${SHORT.durationS} s, ${SHORT.reps} reps`)
  const head = header(spec.name, { ...SHORT, concurrency: CONCURRENCY, mock: { tokens: FAST_TOKENS, tokMs: 0, ttftMs: 0 }, stream: spec.stream })
  const mock = await startMock(FAST_TOKENS, 0)
  try {
    const shape: LoadShape = { stream: spec.stream, concurrency: CONCURRENCY, warmupS: SHORT.warmupS, durationS: SHORT.durationS }
    const runs = await interleave(spec.contenders(mock, shape), planShort(spec.budgetS))
    const ratios = spec.ratios(runs)
    const targets = spec.targets(ratios)
    const errs = Object.values(runs).flat().reduce((n, r) => n + r.errors, 0)
    printTargets(targets)
    writeResult(spec.name, {
      ...head,
      loadavgAfter: loadavg(),
      medians: mediansOf(runs, SHORT.reps),
      ratios,
      targets,
      allPass: targets.every((t) => t.pass) && errs === 0,
      errorsTotal: errs,
      runs
    })
  } finally {
    await mock.stop()
  }
}

// ── (a) non-streaming req/s: driver vs autocannon vs plain undici loop ───────────────────────
const benchA = () =>
  shortBench({
    name: "a",
    title: "non-streaming req/s",
    stream: false,
    budgetS: 170,
    contenders: (mock, shape) => [
      { key: "driver", run: (rep) => runDriver(mock, shape, rep) },
      { key: "autocannon", run: (rep) => runAutocannon(mock, shape, rep) },
      { key: "plain", run: (rep) => runPlain(mock, shape, rep) }
    ],
    ratios: (runs) => [
      compare("driver / plain undici loop", "req/s", "rps", runs.driver!, runs.plain!, SHORT.reps),
      compare("driver / autocannon", "req/s", "rps", runs.driver!, runs.autocannon!, SHORT.reps),
      compare("driver / plain undici loop", "client CPU µs per request", "clientCpuUsPerReq", runs.driver!, runs.plain!, SHORT.reps),
      compare("driver / autocannon", "client CPU µs per request", "clientCpuUsPerReq", runs.driver!, runs.autocannon!, SHORT.reps)
    ],
    targets: (ratios) => [
      atLeast("a.plain", "driver req/s ÷ plain undici loop req/s (ratio of medians)", ratios[0]!.ratioOfMedians, 0.8),
      atLeast("a.autocannon", "driver req/s ÷ autocannon req/s (ratio of medians)", ratios[1]!.ratioOfMedians, 0.9)
    ]
  })

// ── (b) streaming: driver vs plain undici streaming loop ──────────────────────────────────────
const benchB = () =>
  shortBench({
    name: "b",
    title: `streaming ${FAST_TOKENS} tokens, tok-ms 0`,
    stream: true,
    budgetS: 110,
    contenders: (mock, shape) => [
      { key: "driver", run: (rep) => runDriver(mock, shape, rep) },
      { key: "plain", run: (rep) => runPlain(mock, shape, rep) }
    ],
    ratios: (runs) => [
      compare("driver / plain undici streaming loop", "streams/s", "rps", runs.driver!, runs.plain!, SHORT.reps),
      compare("driver / plain undici streaming loop", "tokens/s", "tokensPerSecond", runs.driver!, runs.plain!, SHORT.reps),
      compare("driver / plain undici streaming loop", "client CPU µs per stream", "clientCpuUsPerReq", runs.driver!, runs.plain!, SHORT.reps)
    ],
    targets: (ratios) => [
      atLeast("b.streams", "driver streams/s ÷ plain streaming loop streams/s", ratios[0]!.ratioOfMedians, 0.7),
      atLeast("b.tokens", "driver tokens/s ÷ plain streaming loop tokens/s", ratios[1]!.ratioOfMedians, 0.7)
    ]
  })

// ── (c) our mock vs a plain node:http server with the same bytes, same client ─────────────────
const benchC = async () => {
  log(`\n(c) mock vs plain node:http server (same bytes), plain undici client, -c ${CONCURRENCY}, ${SHORT.reps} reps per shape`)
  const head = header("c", {
    ...SHORT,
    concurrency: CONCURRENCY,
    client: "bench/plain/client.mjs (plain undici loop)",
    mock: { tokens: FAST_TOKENS, tokMs: 0, ttftMs: 0 },
    shapes: ["buffered (stream:false)", "streamed NDJSON (stream:true, tok-ms 0: one write)"]
  })
  const mock = await startMock(FAST_TOKENS, 0)
  const servers: Array<Server> = [mock]
  try {
    const bufFile = await record(mock, specFor(false), `mock-buffered-${FAST_TOKENS}.json`)
    const strFile = await record(mock, specFor(true), `mock-stream-${FAST_TOKENS}.ndjson`)
    const plainBuf = await startPlainServer("buffered", bufFile, 0)
    servers.push(plainBuf)
    const plainStr = await startPlainServer("stream", strFile, 0)
    servers.push(plainStr)
    const shapes: Record<string, Record<string, Array<Run>>> = {}
    for (const [shapeName, stream, plain] of [
      ["buffered", false, plainBuf],
      ["stream", true, plainStr]
    ] as const) {
      log(` shape ${shapeName}`)
      const shape: LoadShape = { stream, concurrency: CONCURRENCY, warmupS: SHORT.warmupS, durationS: SHORT.durationS }
      shapes[shapeName] = await interleave(
        [
          { key: "mock", run: (rep) => runPlain(mock, shape, rep) },
          { key: "plainServer", run: (rep) => runPlain(plain, shape, rep) }
        ],
        planShort(100)
      )
    }
    const ratios = Object.entries(shapes).map(([name, runs]) =>
      compare(`mock / plain server (${name})`, "req/s", "rps", runs.mock!, runs.plainServer!, SHORT.reps)
    )
    const cpuRatios = Object.entries(shapes).map(([name, runs]) =>
      compare(`mock / plain server (${name})`, "server CPU µs per request", "serverCpuUsPerReq", runs.mock!, runs.plainServer!, SHORT.reps)
    )
    const targets = ratios.map((r, i) =>
      atLeast(`c.${Object.keys(shapes)[i]}`, `${r.name}: req/s ratio of medians`, r.ratioOfMedians, 0.8)
    )
    const errs = Object.values(shapes)
      .flatMap((s) => Object.values(s).flat())
      .reduce((n, r) => n + r.errors, 0)
    printTargets(targets)
    writeResult("c", {
      ...head,
      loadavgAfter: loadavg(),
      fixtures: { buffered: path.relative(ROOT, bufFile), stream: path.relative(ROOT, strFile) },
      medians: Object.fromEntries(Object.entries(shapes).map(([k, v]) => [k, mediansOf(v, SHORT.reps)])),
      ratios: [...ratios, ...cpuRatios],
      targets,
      allPass: targets.every((t) => t.pass) && errs === 0,
      errorsTotal: errs,
      runs: shapes
    })
  } finally {
    for (const s of servers) await s.stop()
  }
}

// ── (d) slow-stream capacity ──────────────────────────────────────────────────────────────────
/**
 * Which resource bounds a pair, from the CPU each process used in the window (100 = one core)
 * and what the whole box was busy with (others included).
 */
const verdict = (clientCpu: number, serverCpu: number, boxCpu: number, kernelCpu: number, cores: number): string => {
  const total = clientCpu + serverCpu
  const capacity = cores * 100
  const other = Math.max(0, boxCpu - total)
  const kernel = total > 0 ? ` (${round((kernelCpu / total) * 100, 0)}% of the pair's CPU is kernel time: loopback TCP, one write per token)` : ""
  if (boxCpu >= 0.9 * capacity || total >= 0.85 * capacity) {
    const others =
      other > NOISE
        ? `; other processes took ${round(other, 0)}% of it, so this under-states what the pair gets on a quiet box`
        : ""
    return `box-bound: client ${round(clientCpu, 0)}% + server ${round(serverCpu, 0)}% (box ${round(boxCpu, 0)}% of ${capacity}%) — both cores are busy, so the machine, not either program alone, sets the ceiling${kernel}${others}`
  }
  if (serverCpu >= 90) return `server-bound: the server's single JS thread is at ${round(serverCpu, 0)}% of a core (client ${round(clientCpu, 0)}%); the box still has headroom`
  if (clientCpu >= 90) return `client-bound: the client's single JS thread is at ${round(clientCpu, 0)}% of a core (server ${round(serverCpu, 0)}%); the box still has headroom`
  return `not CPU-bound: client ${round(clientCpu, 0)}% + server ${round(serverCpu, 0)}% of ${capacity}% — the pair keeps up with the offered load`
}

const benchD = async () => {
  const streamMs = SLOW.tokens * SLOW.tokMs
  log(
    `\n(d) slow streams: ${SLOW.tokens} tokens at ${SLOW.tokMs} ms (${1000 / SLOW.tokMs} tok/s), levels ${SLOW.levels.join(", ")},` +
      ` warmup ${SLOW.warmupS} s (clients staggered over the first half), window ${SLOW.durationS} s, ${SLOW.reps} reps`
  )
  const limit = openFilesLimit()
  const head = header("d", {
    warmupS: SLOW.warmupS,
    durationS: SLOW.durationS,
    reps: SLOW.reps,
    levels: SLOW.levels,
    mock: { tokens: SLOW.tokens, tokMs: SLOW.tokMs, ttftMs: 0 },
    plainPair: "bench/plain/server.mjs (one setTimeout chain per stream, one write per token line) + bench/plain/client.mjs",
    idealTokensPerSecondPerStream: 1000 / SLOW.tokMs,
    streamSeconds: streamMs / 1000
  })
  const cores = os.cpus().length
  const levels: Array<Record<string, unknown>> = []
  const targets: Array<Target> = []
  for (const level of SLOW.levels) {
    if (Number.isFinite(limit) && limit < level + 256) {
      log(`  level ${level}: skipped, open-files limit ${limit} < ${level + 256}; run 'ulimit -n 65536' first`)
      levels.push({ level, skipped: `open-files limit ${limit}` })
      continue
    }
    log(` level ${level} streams`)
    const mock = await startMock(SLOW.tokens, SLOW.tokMs)
    const servers: Array<Server> = [mock]
    try {
      const file = await record(mock, specFor(true), `mock-stream-${SLOW.tokens}x${SLOW.tokMs}ms.ndjson`)
      const plain = await startPlainServer("stream", file, SLOW.tokMs)
      servers.push(plain)
      const shape: LoadShape = { stream: true, concurrency: level, warmupS: SLOW.warmupS, durationS: SLOW.durationS }
      const runs = await interleave(
        [
          { key: "ours", run: (rep) => runDriver(mock, shape, rep) },
          { key: "plainPair", run: (rep) => runPlain(plain, shape, rep) }
        ],
        { reps: SLOW.reps, maxRounds: SLOW.reps + SLOW.extraRounds, budgetS: 0, quietMaxS: quick ? 3 : 10 }
      )
      const med = mediansOf(runs, SLOW.reps)
      // Ideal: every stream delivers `tokens` tokens in tokens × tokMs (the done line a tok later).
      const ideal = (level * SLOW.tokens) / (streamMs / 1000)
      const describe = (m: Record<string, number> & { basis: string }) => ({
        basis: m.basis,
        tokensPerSecond: m.tokensPerSecond,
        ofIdeal: round((m.tokensPerSecond ?? NaN) / ideal, 3),
        gapP50Ms: m.itlP50,
        gapP99Ms: m.itlP99,
        gapMeanMs: m.itlMean,
        ttftP50Ms: m.ttftP50,
        ttftP99Ms: m.ttftP99,
        clientRssMiB: m.clientPeakRssMiB,
        serverRssMiB: m.serverPeakRssMiB,
        clientPlusServerRssMiB: round((m.clientPeakRssMiB ?? NaN) + (m.serverPeakRssMiB ?? NaN), 1),
        clientCpuPct: m.clientCpuPct,
        serverCpuPct: m.serverCpuPct,
        clientKernelPct: m.clientSysPct,
        serverKernelPct: m.serverSysPct,
        tokensPerClientCpuSecond: round((m.tokensPerSecond ?? NaN) / ((m.clientCpuPct ?? NaN) / 100), 0),
        tokensPerServerCpuSecond: round((m.tokensPerSecond ?? NaN) / ((m.serverCpuPct ?? NaN) / 100), 0),
        boxCpuPct: m.boxCpuPct,
        otherCpuPct: m.otherCpuPct,
        limit: verdict(m.clientCpuPct ?? 0, m.serverCpuPct ?? 0, m.boxCpuPct ?? 0, (m.clientSysPct ?? 0) + (m.serverSysPct ?? 0), cores)
      })
      const ours = describe(med.ours!)
      const plainPair = describe(med.plainPair!)
      const tokRatio = compare(`driver+mock / plain pair at ${level}`, "tokens/s", "tokensPerSecond", runs.ours!, runs.plainPair!, SLOW.reps)
      const errs = Object.values(runs).flat().reduce((n, r) => n + r.errors, 0)
      const entry = {
        level,
        idealTokensPerSecond: ideal,
        ours,
        plainPair,
        tokensRatio: tokRatio,
        efficiency: {
          mockVsPlainServerTokensPerCpuSecond: round(ours.tokensPerServerCpuSecond / plainPair.tokensPerServerCpuSecond, 3),
          driverVsPlainClientTokensPerCpuSecond: round(ours.tokensPerClientCpuSecond / plainPair.tokensPerClientCpuSecond, 3)
        },
        errorsTotal: errs,
        medians: med,
        runs
      }
      levels.push(entry)
      log(`  ours:       ${JSON.stringify(ours)}`)
      log(`  plain pair: ${JSON.stringify(plainPair)}`)
      const isLow = level === SLOW.levels[0]
      const isHigh = level === SLOW.levels[SLOW.levels.length - 1]
      if (isLow) {
        targets.push(
          within(
            `d.${level}.gap`,
            `driver+mock inter-token gap p50 at ${level} streams (ms; 25 ± 10%)`,
            ours.gapP50Ms ?? NaN,
            SLOW.tokMs * 0.9,
            SLOW.tokMs * 1.1,
            `plain pair: ${plainPair.gapP50Ms} ms; errors ${errs}`
          )
        )
      }
      if (isHigh) {
        targets.push(
          atLeast(`d.${level}.tokens`, `driver+mock tokens/s ÷ plain pair tokens/s at ${level} streams`, tokRatio.ratioOfMedians, 0.9,
            `ours ${ours.tokensPerSecond}, plain ${plainPair.tokensPerSecond}, ideal ${ideal}`),
          atMost(`d.${level}.rss`, `driver + mock peak RSS at ${level} streams (MiB)`, ours.clientPlusServerRssMiB, 1024,
            `driver ${ours.clientRssMiB} + mock ${ours.serverRssMiB}; plain pair ${plainPair.clientPlusServerRssMiB}`)
        )
      }
    } finally {
      for (const s of servers) await s.stop()
    }
  }
  printTargets(targets)
  const errs = levels.reduce((n, l) => n + ((l.errorsTotal as number) ?? 0), 0)
  const saturation = levels
    .filter((l) => l.ours !== undefined)
    .map((l: any) =>
      `At ${l.level} streams: driver+mock ${l.ours.tokensPerSecond} tok/s (${round(l.ours.ofIdeal * 100, 0)}% of ideal ${l.idealTokensPerSecond}), ${l.ours.limit}; ` +
      `plain pair ${l.plainPair.tokensPerSecond} tok/s (${round(l.plainPair.ofIdeal * 100, 0)}%), ${l.plainPair.limit}. ` +
      `Per CPU-second the mock delivers ${round(l.efficiency.mockVsPlainServerTokensPerCpuSecond * 100, 0)}% of the plain server's tokens ` +
      `and the driver reads ${round(l.efficiency.driverVsPlainClientTokensPerCpuSecond * 100, 0)}% of the plain client's` +
      (l.efficiency.mockVsPlainServerTokensPerCpuSecond >= 0.9 && l.efficiency.driverVsPlainClientTokensPerCpuSecond >= 0.9
        ? `: our code costs about what plain Node costs, so where both pairs saturate the box, the box is the limit.`
        : `: where this is well under 100%, our code, not only the box, costs throughput.`)
    )
  for (const s of saturation) log(`  ${s}`)
  writeResult("d", {
    ...head,
    loadavgAfter: loadavg(),
    saturation,
    targets,
    allPass: targets.every((t) => t.pass) && errs === 0,
    errorsTotal: errs,
    levels
  })
}

// ── main ──────────────────────────────────────────────────────────────────────────────────────
const benches: Record<string, () => Promise<void>> = { a: benchA, b: benchB, c: benchC, d: benchD }
const t0 = Date.now()
driver = prepareDriver()
boxSampler = new BoxSampler()
// Warm the probe up (JIT) so its first readings are comparable with later ones.
for (let i = 0; i < 10; i++) probe()
log(`nomyo-load benchmarks: ${which}${quick ? " (quick)" : ""}; ${os.cpus().length} CPUs, node ${process.version}, loadavg ${loadavg().join(" ")}`)
for (const name of which === "all" ? ["a", "b", "c", "d"] : [which]) {
  await benches[name]!()
}
log(`\ndone in ${round((Date.now() - t0) / 1000, 0)} s; medians per contender in the JSON, see docs/benchmarks.md`)
