import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Schema } from "effect"
import { compareCommand, mergeCommand } from "../../src/cli/AnalysisCommands.ts"
import { reportCommand, writeHtmlReport } from "../../src/cli/ReportCommand.ts"
import { escapeHtml, niceTicks, renderHtml } from "../../src/report/Html.ts"
import { BackendLoad, encodeRunResult, RunResult, StageResult } from "../../src/domain/Results.ts"
import { TimelinePoint } from "../../src/domain/Timeline.ts"
import { writeResults } from "../../src/results/WriteResults.ts"
import { makeRun, makeStage, ramp, runAnalysisCli } from "../analysis/Synthetic.ts"

/** The markup of the first `<svg data-chart="name" …>…</svg>` (or of every one, with `all`). */
const svgs = (html: string, chart: string): ReadonlyArray<string> =>
  [...html.matchAll(new RegExp(`<svg[^>]*data-chart="${chart}"[^>]*>[\\s\\S]*?</svg>`, "g"))].map((m) => m[0])
const svg = (html: string, chart: string): string => {
  const found = svgs(html, chart)
  assert.isAtLeast(found.length, 1, `no <svg data-chart="${chart}">`)
  return found[0]!
}
/** The data attributes of every element with `data-series="key"` of type `tag`. */
const points = (markup: string, series: string) =>
  [...markup.matchAll(new RegExp(`<circle[^>]*data-series="${series}"[^>]*>`, "g"))].map((m) => ({
    x: Number(/data-x="([^"]*)"/.exec(m[0])![1]),
    y: Number(/data-y="([^"]*)"/.exec(m[0])![1])
  }))
const attrs = (markup: string, tag: string, attr: string): ReadonlyArray<string> =>
  [...markup.matchAll(new RegExp(`<${tag}[^>]*\\b${attr}="([^"]*)"[^>]*>`, "g"))].map((m) => m[1]!)

const rampRun = () =>
  makeRun(ramp([[1, 40, 30], [4, 150, 45], [16, 380, 120, 12], [64, 390, 900, 40]]), "driver-0", {
    settings: { levels: [1, 4, 16, 64], vary: "concurrency", mock: { ttftMs: 20, tokens: 32 } },
    knee: { index: 2, level: 16, reason: "req/s gains < 10% past conc 16 while p99 rose 7.5×" }
  })

/** A second of a stage: `ok` requests, `errors` of class http_503, latency p50/p99 (none when `ok` is 0). */
const second = (t: number, ok: number, errors: number, inFlight: number, p50: number, phase: "measure" | "drain" = "measure") =>
  TimelinePoint.make({
    t,
    seconds: 1,
    phase,
    sent: ok + errors,
    ok,
    errors,
    errorsByClass: errors > 0 ? { http_503: errors } : {},
    inFlight,
    rps: ok + errors,
    tokensPerSecond: ok * 32,
    ...(ok > 0 ? { p50, p99: p50 * 3 } : {})
  })

describe("renderHtml", () => {
  it("over time: each stage's timeline back to back, one point per second with its values, a mark per stage", () => {
    const [a, b] = ramp([[1, 40, 30], [4, 150, 45]])
    const stages = [
      StageResult.make({ ...a!, timeline: [second(1, 40, 0, 1, 20), second(2, 38, 2, 1, 22), second(2.4, 0, 0, 0, 0, "drain")] }),
      StageResult.make({ ...b!, timeline: [second(1, 150, 0, 4, 25), second(2, 120, 30, 4, 90)] })
    ]
    const html = renderHtml(makeRun(stages, "driver-0"))
    const rps = svg(html, "timeline-rps")
    const circles = (markup: string, series: string) =>
      [...markup.matchAll(new RegExp(`<circle[^>]*data-series="${series}"[^>]*>`, "g"))].map((m) => ({
        stage: Number(/data-stage="([^"]*)"/.exec(m[0])![1]),
        t: Number(/data-t="([^"]*)"/.exec(m[0])![1]),
        y: Number(/data-y="([^"]*)"/.exec(m[0])![1])
      }))
    assert.deepStrictEqual(circles(rps, "rps"), [
      { stage: 0, t: 1, y: 40 }, { stage: 0, t: 2, y: 40 }, { stage: 0, t: 2.4, y: 0 },
      { stage: 1, t: 1, y: 150 }, { stage: 1, t: 2, y: 150 }
    ])
    // The second stage starts where the first one's timeline ended (2.4 s): its mark is there.
    assert.deepStrictEqual(attrs(rps, "g", "data-mark"), ["stage", "stage"])
    // Latency only for seconds with ok requests; errors per second; in flight.
    assert.deepStrictEqual(circles(svg(html, "timeline-latency"), "p99").map((p) => p.y), [60, 66, 75, 270])
    assert.deepStrictEqual(circles(svg(html, "timeline-errors"), "errors").map((p) => p.y), [0, 2, 0, 0, 30])
    assert.deepStrictEqual(circles(svg(html, "timeline-inflight"), "inFlight").map((p) => p.y), [1, 1, 0, 4, 4])
    // Stages without a timeline (older results files): no such section.
    assert.notInclude(renderHtml(makeRun([a!, b!], "driver-0")), "timeline-rps")
  })

  it("req/s and p50/p90/p99 against concurrency: one point per stage, carrying the stage's values", () => {
    const run = rampRun()
    const html = renderHtml(run)
    const rps = svg(html, "rps")
    assert.deepStrictEqual(points(rps, "rps"), run.stages.map((s) => ({ x: s.concurrency, y: s.rps })))
    // Errors in the run: ok req/s is drawn too.
    assert.deepStrictEqual(points(rps, "okRps").map((p) => p.y), run.stages.map((s) => s.okRps))
    const latency = svg(html, "latency")
    for (const key of ["p50", "p90", "p99"] as const) {
      assert.deepStrictEqual(points(latency, key).map((p) => p.y), run.stages.map((s) => s.latency[key]), key)
    }
    assert.include(rps, `data-mark="knee" data-index="2"`)
    // Streaming run: TTFT p50/p99.
    const ttft = svg(html, "ttft")
    assert.deepStrictEqual(points(ttft, "p99").map((p) => p.y), run.stages.map((s) => s.ttft.p99))
    assert.match(html, /concurrency \(virtual clients\)/)
  })

  it("a latency histogram per stage whose bins hold every ok request", () => {
    const run = rampRun()
    const html = renderHtml(run)
    const hists = svgs(html, "histogram")
    assert.strictEqual(hists.length, run.stages.length)
    hists.forEach((h, i) => {
      const counts = attrs(h, "rect", "data-count").map(Number)
      const sum = counts.reduce((a, b) => a + b, 0)
      assert.strictEqual(sum, run.stages[i]!.latency.count, `stage ${i}`)
      assert.include(h, `data-total="${sum}"`)
      assert.include(h, `data-mark="p99" data-ms="${run.stages[i]!.latency.p99}"`)
      // Log-spaced bins, the same in every stage, in increasing order.
      const lo = attrs(h, "rect", "data-lo-ms").map(Number)
      for (let k = 1; k < lo.length; k++) assert.isAbove(lo[k]!, lo[k - 1]!)
    })
  })

  it("errors by class, stacked per stage, and their first messages", () => {
    const run = rampRun()
    const html = renderHtml(run)
    const errors = svg(html, "errors")
    assert.deepStrictEqual(attrs(errors, "rect", "data-count").map(Number), [12, 40])
    assert.deepStrictEqual(attrs(errors, "rect", "data-class"), ["http_503", "http_503"])
    assert.include(html, "<code>queue full</code>")

    const clean = renderHtml(makeRun(ramp([[1, 40, 30], [4, 150, 45]])))
    assert.lengthOf(svgs(clean, "errors"), 0)
    assert.include(clean, `data-errors="0"`)
  })

  it("one stage: a single point with its value; no TTFT chart for a buffered run", () => {
    const run = makeRun([makeStage({ conc: 8, okRps: 123.4, stream: false })])
    const html = renderHtml(run)
    const rps = svg(html, "rps")
    assert.deepStrictEqual(points(rps, "rps"), [{ x: 8, y: run.stages[0]!.rps }])
    assert.include(rps, `class="value"`)
    assert.notInclude(rps, "<polyline")
    assert.lengthOf(svgs(html, "ttft"), 0)
    assert.lengthOf(svgs(html, "histogram"), 1)
  })

  it("open loop: the x axis is the arrival rate, with achieved sent/s", () => {
    const html = renderHtml(makeRun(ramp([[5, 5, 30], [10, 10, 40], [20, 19, 300]], true)))
    const rps = svg(html, "rps")
    assert.deepStrictEqual(points(rps, "rps").map((p) => p.x), [5, 10, 20])
    assert.deepStrictEqual(points(rps, "sent").map((p) => p.y), [5, 10, 20])
    assert.match(html, /arrival rate \(req\/s\)/)
  })

  it("per-backend share only when a stage carries one", () => {
    const plain = ramp([[1, 40, 30], [4, 150, 45]])
    assert.lengthOf(svgs(renderHtml(makeRun(plain)), "backends"), 0)
    const load = (url: string, requests: number, share: number) => BackendLoad.make({ url, requests, tokens: requests * 32, share, peakActive: 2 })
    const stages = [
      StageResult.make({ ...plain[0]!, backends: [load("gpu-a", 300, 0.75), load("gpu-b", 100, 0.25)] }),
      StageResult.make({ ...plain[1]!, backends: [load("gpu-a", 750, 0.5), load("gpu-b", 750, 0.5)] })
    ]
    // Through the JSON file and back, as `nomyo-load report` reads it.
    const decoded = Schema.decodeUnknownSync(RunResult)(JSON.parse(JSON.stringify(encodeRunResult(makeRun(stages)))))
    const b = svg(renderHtml(decoded), "backends")
    assert.deepStrictEqual(attrs(b, "rect", "data-backend"), ["gpu-a", "gpu-b", "gpu-a", "gpu-b"])
    assert.deepStrictEqual(attrs(b, "rect", "data-share").map(Number), [75, 25, 50, 50])
  })

  it("settings and environment as tables; every text is escaped; nothing is fetched", () => {
    const evil = `<script>alert("x")</script>&'`
    const stage = StageResult.make({
      ...makeStage({ errors: 2 }),
      url: `http://h/${evil}`,
      errorsByClass: { [evil]: 2 },
      errorSamples: { [evil]: `<img src=x onerror=alert(1)>` }
    })
    const run = makeRun([stage], `host${evil}`, { settings: { prompt: evil, nested: { list: [1, 2], deep: { k: evil } } }, error: evil })
    const html = renderHtml(run)
    assert.notInclude(html, "<script")
    assert.notInclude(html, "<img")
    assert.include(html, escapeHtml(evil))
    assert.include(html, "&lt;img src=x onerror=alert(1)&gt;")
    assert.match(html, /<th>nested\.list<\/th><td>1, 2<\/td>/)
    assert.include(html, `<th>nested.deep.k</th><td>${escapeHtml(evil)}</td>`)
    assert.include(html, `<th>hostname</th><td>host${escapeHtml(evil)}</td>`)
    // Self-contained: no external resource of any kind, and a CSP that forbids one.
    assert.notMatch(html, /<[a-z][^<>]*\s(src|href)=/i)
    assert.notMatch(html, /@import|url\(/i)
    assert.include(html, `content="default-src 'none'; style-src 'unsafe-inline'"`)
  })

  it("an empty or cut-short run still renders", () => {
    const html = renderHtml(makeRun([], "h", { interrupted: true, error: "interrupted" }))
    assert.include(html, "No stage was measured.")
    assert.include(html, "cut short")
    const withEmptyStage = renderHtml(makeRun([makeStage({ conc: 1 }), makeStage({ index: 1, conc: 2, ok: 0, errors: 5 })]))
    assert.include(withEmptyStage, `data-chart="histogram" data-stage="1" data-total="0"`)
    assert.notInclude(renderHtml(makeRun([makeStage({ ok: 0, errors: 5 })])), `data-chart="histogram"`)
  })

  it("niceTicks: round steps that cover the maximum", () => {
    assert.deepStrictEqual(niceTicks(0), [0, 1])
    assert.deepStrictEqual(niceTicks(9), [0, 2, 4, 6, 8, 10])
    assert.deepStrictEqual(niceTicks(380), [0, 100, 200, 300, 400])
    assert.deepStrictEqual(niceTicks(0.9), [0, 0.2, 0.4, 0.6, 0.8, 1])
  })
})

describe("report subcommand and writeHtmlReport", () => {
  const root = Command.make("nomyo-load").pipe(Command.withSubcommands([mergeCommand, compareCommand, reportCommand]))
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "nomyo-report-"))

  it("renders a saved results file to HTML", async () => {
    const dir = tmp()
    try {
      const run = rampRun()
      const json = path.join(dir, "results.json")
      const out = path.join(dir, "out.html")
      await Effect.runPromise(writeResults(json, run).pipe(Effect.provide(NodeContext.layer)))
      const r = await runAnalysisCli(["report", json, "--html", out], root)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stderr, `report written to ${out}`)
      const html = fs.readFileSync(out, "utf8")
      // The same page as rendering the run directly, after the JSON round trip.
      assert.strictEqual(html, renderHtml(run))
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["out.html", "results.json"], "no temp file left behind")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a missing, non-JSON or non-results file fails with one line naming it; --html is required", async () => {
    const dir = tmp()
    try {
      const out = path.join(dir, "out.html")
      const notJson = path.join(dir, "bad.json")
      fs.writeFileSync(notJson, "{ nope")
      const wrong = path.join(dir, "wrong.json")
      fs.writeFileSync(wrong, JSON.stringify({ schemaVersion: 1, stages: "no" }))
      for (const [file, detail] of [[path.join(dir, "missing.json"), "no such file"], [notJson, "not JSON"], [wrong, "not a nomyo-load results file"]] as const) {
        const r = await runAnalysisCli(["report", file, "--html", out], root)
        assert.strictEqual(r.code, 2)
        const failure = Exit.isFailure(r.exit) ? Cause.failureOption(r.exit.cause) : Option.none()
        const message = Option.isSome(failure) ? String((failure.value as Error).message) : ""
        assert.include(message, `results file ${file}: ${detail}`)
        assert.notInclude(message, "\n")
      }
      assert.isFalse(fs.existsSync(out))
      const noHtml = await runAnalysisCli(["report", wrong], root)
      assert.strictEqual(noHtml.code, 2)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it.effect("writeHtmlReport fails with a readable error when the folder is missing", () =>
    Effect.gen(function* () {
      const target = path.join(os.tmpdir(), "nomyo-no-such-dir", "r.html")
      const error = yield* writeHtmlReport(target, makeRun([makeStage({})])).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ReportWriteFailed")
      assert.match(error.message, /^cannot write the HTML report to .*r\.html: /)
    }).pipe(Effect.provide(NodeContext.layer))
  )
})
