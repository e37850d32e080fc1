/**
 * The HTML report in a real browser: a real ramp against the in-process mock, rendered to a
 * file, opened in headless Debian Chromium through playwright-core (never a downloaded
 * browser). No console errors, no request beyond the file itself, and every chart drawn with
 * the run's own numbers. The screenshot goes to artifacts/report-screenshot.png (README).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { chromium } from "playwright-core"
import { findKnee } from "../../src/analysis/Knee.ts"
import { writeHtmlReport } from "../../src/cli/ReportCommand.ts"
import { LoadOptions, RampOptions } from "../../src/load/LoadOptions.ts"
import { runRamp } from "../../src/load/Stage.ts"
import * as MockBackend from "../../src/mock/MockBackend.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import { currentEnvironment } from "../../src/results/Environment.ts"
import { BackendLoad, RunResult, StageResult } from "../../src/domain/Results.ts"
import { ROOT } from "../support/Cli.ts"

// The few DOM names used inside page.evaluate (module-scoped: tsconfig has no DOM lib).
interface DomRect {
  readonly top: number
  readonly width: number
  readonly height: number
}
interface Element {
  getAttribute(name: string): string | null
  getBoundingClientRect(): DomRect
  querySelectorAll(selector: string): ArrayLike<Element> & Iterable<Element>
}
declare const document: Element & { readonly body: { readonly scrollWidth: number } }
declare const getComputedStyle: (el: Element) => { readonly fill: string }

const CHROMIUM = "/usr/bin/chromium"
const hasChromium = fs.existsSync(CHROMIUM)
export const SCREENSHOT = path.join(ROOT, "artifacts", "report-screenshot.png")

// Flags for this machine's closed network (see README "Tests"): no background fetches, no QUIC.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

const LEVELS = [1, 4, 8] as const
const TOKENS = 12

/** A real three-level ramp against the mock; then one stage gets error classes and every stage a backend split (rendering only). */
const realRun = Effect.gen(function* () {
  const startedAt = new Date()
  const mockOptions = MockOptions.make({ ttftMs: 8, tokens: TOKENS, tokMs: 1 })
  const mock = yield* MockBackend.make(mockOptions)
  const load = LoadOptions.make({ url: mock.url, durationSeconds: 1.2, warmupSeconds: 0.2, expectTokens: TOKENS })
  const measured = yield* runRamp(RampOptions.make({ load, levels: LEVELS }))
  // The mock never fails, so the error classes and the per-backend split are added here.
  const stages = measured.map((s, i) => {
    const withErrors =
      i === 2
        ? StageResult.make({
            ...s,
            requests: s.requests + 7,
            errors: 7,
            errorsByClass: { http_503: 5, timeout: 2 },
            errorSamples: { http_503: `HTTP 503: {"error":"<queue full>"}`, timeout: "no response within 120 s" }
          })
        : s
    const a = Math.ceil(s.ok * 0.6)
    const b = Math.floor(s.ok * 0.4)
    return StageResult.make({
      ...withErrors,
      backends: [
        BackendLoad.make({ url: "http://gpu-a:11434", requests: a, tokens: a * 32, share: a / (a + b), peakActive: 3 }),
        BackendLoad.make({ url: "http://gpu-b:11434", requests: b, tokens: b * 32, share: b / (a + b), peakActive: 2 })
      ]
    })
  })
  return RunResult.make({
    schemaVersion: 1,
    mode: "mock-direct",
    settings: { ...load, levels: [...LEVELS], vary: "concurrency", mock: { ...mockOptions } },
    environment: currentEnvironment(startedAt),
    stages,
    knee: findKnee(stages),
    interrupted: false
  })
}).pipe(Effect.scoped)

interface Drawn {
  readonly charts: ReadonlyArray<string>
  readonly series: Record<string, ReadonlyArray<{ x: number; y: number; t: number; stage: number; cy: number; w: number; fill: string }>>
  readonly histograms: ReadonlyArray<{ total: number; sum: number; bins: number; h: number }>
  readonly errors: ReadonlyArray<{ cls: string; count: number; h: number }>
  readonly backends: ReadonlyArray<{ backend: string; share: number; w: number }>
  readonly settingsRows: number
  readonly bodyWidth: number
}

describe("HTML report in headless Chromium", () => {
  it.skipIf(!hasChromium)(
    hasChromium ? "renders every chart with the run's data, no console errors, no fetches" : `skipped: ${CHROMIUM} is missing (apt-get install chromium)`,
    { timeout: 45_000 },
    async () => {
      const run = await Effect.runPromise(realRun)
      assert.deepStrictEqual(run.stages.map((s) => s.concurrency), [...LEVELS])
      for (const s of run.stages) assert.isAbove(s.ok, 0)

      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nomyo-report-"))
      const file = path.join(dir, "report.html")
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
      try {
        await Effect.runPromise(writeHtmlReport(file, run).pipe(Effect.provide(NodeContext.layer)))
        const url = pathToFileURL(file).href
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
        const problems: Array<string> = []
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`)
        })
        page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
        page.on("request", (r) => {
          if (r.url() !== url) problems.push(`request: ${r.url()}`)
        })
        page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`))
        await page.goto(url, { waitUntil: "load" })

        const drawn: Drawn = await page.evaluate(() => {
          const num = (el: Element, a: string) => Number(el.getAttribute(a))
          const series: Record<string, Array<Drawn["series"][string][number]>> = {}
          for (const svg of document.querySelectorAll("svg[data-chart]")) {
            const chart = svg.getAttribute("data-chart")!
            for (const c of svg.querySelectorAll("circle[data-series]")) {
              const key = `${chart}/${c.getAttribute("data-series")}`
              const box = c.getBoundingClientRect()
              ;(series[key] ??= []).push({
                x: num(c, "data-x"),
                y: num(c, "data-y"),
                t: num(c, "data-t"),
                stage: num(c, "data-stage"),
                cy: box.top + box.height / 2,
                w: box.width,
                fill: getComputedStyle(c).fill
              })
            }
          }
          return {
            charts: [...document.querySelectorAll("svg[data-chart]")].map((s) => s.getAttribute("data-chart")!),
            series,
            histograms: [...document.querySelectorAll('svg[data-chart="histogram"]')].map((s) => ({
              total: num(s, "data-total"),
              sum: [...s.querySelectorAll("rect[data-count]")].reduce((a, r) => a + num(r, "data-count"), 0),
              bins: s.querySelectorAll("rect[data-count]").length,
              h: Math.max(...[...s.querySelectorAll("rect[data-count]")].map((r) => r.getBoundingClientRect().height))
            })),
            errors: [...document.querySelectorAll('svg[data-chart="errors"] rect[data-class]')].map((r) => ({
              cls: r.getAttribute("data-class")!,
              count: num(r, "data-count"),
              h: r.getBoundingClientRect().height
            })),
            backends: [...document.querySelectorAll('svg[data-chart="backends"] rect[data-backend]')].map((r) => ({
              backend: r.getAttribute("data-backend")!,
              share: num(r, "data-share"),
              w: r.getBoundingClientRect().width
            })),
            settingsRows: document.querySelectorAll('table[data-table="settings"] tr').length,
            bodyWidth: document.body.scrollWidth
          }
        })

        await fs.promises.mkdir(path.dirname(SCREENSHOT), { recursive: true })
        await page.screenshot({ path: SCREENSHOT, fullPage: true })
        await page.emulateMedia({ colorScheme: "dark" })
        await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, "-dark.png"), fullPage: true })

        assert.deepStrictEqual(problems, [])
        assert.deepStrictEqual(
          [...new Set(drawn.charts)],
          ["rps", "latency", "ttft", "backends", "timeline-rps", "timeline-latency", "timeline-inflight", "timeline-errors", "histogram", "errors"]
        )
        // Over time: one point per second of each stage's timeline, with the timeline's values.
        for (const s of run.stages) assert.isAtLeast(s.timeline?.length ?? 0, 2, "a 1.2 s window gives at least two points")
        const timeline = run.stages.flatMap((s, si) => (s.timeline ?? []).map((p) => ({ si, p })))
        const overTime = {
          "timeline-rps/rps": timeline.map(({ p }) => p.rps),
          "timeline-inflight/inFlight": timeline.map(({ p }) => p.inFlight),
          "timeline-latency/p99": timeline.flatMap(({ p }) => (p.p99 === undefined ? [] : [p.p99]))
        }
        for (const [key, ys] of Object.entries(overTime)) {
          const pts = drawn.series[key]
          assert.isDefined(pts, key)
          assert.deepStrictEqual(pts!.map((p) => p.y), ys, key)
          for (const p of pts!) assert.isAbove(p.w, 0, `${key} point drawn`)
        }
        assert.deepStrictEqual(
          drawn.series["timeline-rps/rps"]!.map((p) => [p.stage, p.t]),
          timeline.map(({ si, p }) => [si, p.t])
        )
        // One point per stage, at the stage's level, with the stage's value; drawn (non-zero size, coloured by the CSS).
        const expect = {
          "rps/rps": run.stages.map((s) => s.rps),
          "rps/okRps": run.stages.map((s) => s.okRps),
          "latency/p50": run.stages.map((s) => s.latency.p50),
          "latency/p90": run.stages.map((s) => s.latency.p90),
          "latency/p99": run.stages.map((s) => s.latency.p99),
          "ttft/p50": run.stages.map((s) => s.ttft.p50),
          "ttft/p99": run.stages.map((s) => s.ttft.p99)
        }
        for (const [key, ys] of Object.entries(expect)) {
          const pts = drawn.series[key]
          assert.isDefined(pts, key)
          assert.deepStrictEqual(pts!.map((p) => p.x), [...LEVELS], key)
          assert.deepStrictEqual(pts!.map((p) => p.y), ys, key)
          for (const p of pts!) {
            assert.isAbove(p.w, 0, `${key} point drawn`)
            assert.notStrictEqual(p.fill, "rgb(0, 0, 0)", `${key} point coloured by the stylesheet`)
          }
          // Higher values sit higher on the page.
          for (let i = 0; i < pts!.length; i++) {
            for (let j = 0; j < pts!.length; j++) {
              if (pts![i]!.y > pts![j]!.y) assert.isBelow(pts![i]!.cy, pts![j]!.cy + 0.01, `${key}: ${i} above ${j}`)
            }
          }
        }
        // Latency percentiles are ordered on screen too: p99 never below p50.
        drawn.series["latency/p99"]!.forEach((p, i) => assert.isAtMost(p.cy, drawn.series["latency/p50"]![i]!.cy + 0.01))

        assert.lengthOf(drawn.histograms, LEVELS.length)
        drawn.histograms.forEach((h, i) => {
          assert.strictEqual(h.sum, run.stages[i]!.latency.count, `histogram ${i} holds every ok request`)
          assert.strictEqual(h.total, h.sum)
          assert.isAbove(h.bins, 0)
          assert.isAbove(h.h, 0)
        })
        assert.deepStrictEqual(drawn.errors.map((e) => [e.cls, e.count]), [["http_503", 5], ["timeout", 2]])
        for (const e of drawn.errors) assert.isAbove(e.h, 0)
        assert.strictEqual(drawn.backends.length, 2 * LEVELS.length)
        for (const b of drawn.backends) assert.isAbove(b.w, 0)
        assert.isAbove(drawn.settingsRows, 10)
        assert.isAtMost(drawn.bodyWidth, 1280, "no horizontal overflow at 1280 px")
        assert.isTrue(fs.statSync(SCREENSHOT).size > 10_000, "screenshot saved")
      } finally {
        await browser.close()
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  )
})
