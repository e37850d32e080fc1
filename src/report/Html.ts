import * as hdr from "hdr-histogram-js"
import type { RunResult, StageResult, Summary } from "../domain/Results.ts"
import type { TimelinePoint } from "../domain/Timeline.ts"
import { decodeHistogram } from "../stats/Histogram.ts"
import { levelLabel, levelOf } from "../analysis/Metrics.ts"

/**
 * The HTML report (`--report PATH.html`, `nomyo-load report`): one self-contained file with
 * hand-written SVG charts, no script and no network fetch (a CSP forbids any). Every chart is
 * an `<svg data-chart="...">` whose marks carry their data (`data-x`, `data-y`, `data-count`,
 * ...), so a test can read back what was drawn.
 */

// ── text ──────────────────────────────────────────────────────────────────────────────────

const ESC: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }

/** Escapes text for HTML and SVG content and attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => ESC[ch]!)

const esc = (x: unknown): string => escapeHtml(String(x))

/** Display form of a number: about three significant digits. */
const num = (x: number): string =>
  !Number.isFinite(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)

const ms = (s: Summary): string => (s.count === 0 ? "-" : num(s.p50))
const pctOf = (s: Summary, key: "p50" | "p90" | "p99" | "max"): string => (s.count === 0 ? "-" : num(s[key]))

/** SVG coordinates, rounded to 0.1 px to keep the file small. */
const px = (x: number): string => String(Math.round(x * 10) / 10)

// ── levels ────────────────────────────────────────────────────────────────────────────────

const isOpen = (stages: ReadonlyArray<StageResult>) => stages.some((s) => s.loadModel === "open")

// ── scales ────────────────────────────────────────────────────────────────────────────────

/** 0, step, 2·step, … up to at least `max`, with a step of 1, 2, 2.5 or 5 × 10^k. */
export const niceTicks = (max: number, count = 5): ReadonlyArray<number> => {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1]
  const raw = max / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!
  const ticks: Array<number> = []
  for (let i = 0; ; i++) {
    const t = Math.round(i * step * 1e9) / 1e9
    ticks.push(t)
    if (t >= max) break
  }
  return ticks
}

const tickLabel = (t: number): string => (t >= 1000 ? `${Math.round(t / 100) / 10}k`.replace(".0k", "k") : String(t))

const W = 560
const H = 300
const M = { left: 56, right: 16, top: 30, bottom: 46 }
const PW = W - M.left - M.right
const PH = H - M.top - M.bottom

const yAxis = (ticks: ReadonlyArray<number>, unit: string): string => {
  const top = ticks[ticks.length - 1]!
  const y = (v: number) => M.top + PH - (v / top) * PH
  const lines = ticks
    .map((t) => `<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${px(y(t))}" y2="${px(y(t))}"/>` +
      `<text class="tick" x="${M.left - 6}" y="${px(y(t) + 4)}" text-anchor="end">${esc(tickLabel(t))}</text>`)
    .join("")
  return `${lines}<text class="unit" x="${M.left - 6}" y="${M.top - 14}" text-anchor="end">${esc(unit)}</text>`
}

/** Evenly spaced categories (ramp levels are usually 1, 2, 4, 8 …: a linear axis would squash them). */
const bandX = (i: number, n: number): number => M.left + ((i + 0.5) * PW) / n

const xCategories = (labels: ReadonlyArray<string>, title: string): string =>
  labels
    .map((l, i) => `<text class="tick" x="${px(bandX(i, labels.length))}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(l)}</text>`)
    .join("") +
  `<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${M.top + PH}" y2="${M.top + PH}"/>` +
  `<text class="axis-title" x="${M.left + PW / 2}" y="${H - 8}" text-anchor="middle">${esc(title)}</text>`

// ── charts ────────────────────────────────────────────────────────────────────────────────

interface Point {
  readonly stage: number
  readonly x: number
  readonly y: number
}

interface Series {
  readonly key: string
  readonly label: string
  readonly points: ReadonlyArray<Point | undefined>
  readonly dashed?: boolean
}

interface Mark {
  readonly index: number
  readonly label: string
}

const legend = (series: ReadonlyArray<{ readonly key: string; readonly label: string; readonly dashed?: boolean }>, offset = 0): string =>
  `<div class="legend">${series
    .map((s, i) => `<span class="key"><i class="swatch c${(i + offset) % 8}${s.dashed ? " dashed" : ""}"></i>${esc(s.label)}</span>`)
    .join("")}</div>`

const figure = (title: string, note: string, body: string): string =>
  `<figure class="card"><figcaption>${esc(title)}</figcaption>${body}${note ? `<p class="note">${esc(note)}</p>` : ""}</figure>`

/** A line chart over the ramp's levels: one polyline and one point per series and stage. */
const lineChart = (o: {
  readonly chart: string
  readonly title: string
  readonly unit: string
  readonly xTitle: string
  readonly labels: ReadonlyArray<string>
  readonly series: ReadonlyArray<Series>
  readonly marks?: ReadonlyArray<Mark>
  readonly note?: string
}): string => {
  const n = o.labels.length
  const max = Math.max(0, ...o.series.flatMap((s) => s.points.map((p) => (p === undefined ? 0 : p.y))))
  const ticks = niceTicks(max)
  const top = ticks[ticks.length - 1]!
  const y = (v: number) => M.top + PH - (v / top) * PH
  const marks = (o.marks ?? [])
    .map((m) => {
      const x = px(bandX(m.index, n))
      return `<g class="mark" data-mark="${esc(m.label)}" data-index="${m.index}"><line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + PH}"/>` +
        `<text x="${x}" y="${M.top - 6}" text-anchor="middle">${esc(m.label)}</text></g>`
    })
    .join("")
  const series = o.series
    .map((s, si) => {
      const pts = s.points.map((p, i) => (p === undefined ? undefined : { ...p, cx: bandX(i, n), cy: y(p.y) }))
      const defined = pts.filter((p): p is NonNullable<typeof p> => p !== undefined)
      const line = defined.length > 1
        ? `<polyline class="line${s.dashed ? " dashed" : ""}" points="${defined.map((p) => `${px(p.cx)},${px(p.cy)}`).join(" ")}"/>`
        : ""
      const dots = defined
        .map((p) =>
          `<circle class="point" r="${s.dashed ? 2.5 : 3.5}" cx="${px(p.cx)}" cy="${px(p.cy)}" data-series="${esc(s.key)}" data-stage="${p.stage}" data-x="${p.x}" data-y="${p.y}">` +
          `<title>${esc(`${o.labels[p.stage] ?? p.x}: ${s.label} ${num(p.y)} ${o.unit}`)}</title></circle>`
        )
        .join("")
      const label = defined.length === 1
        ? `<text class="value" x="${px(defined[0]!.cx + 8)}" y="${px(defined[0]!.cy - 6)}">${esc(num(defined[0]!.y))}</text>`
        : ""
      return `<g class="series c${si % 8}" data-series="${esc(s.key)}">${line}${dots}${label}</g>`
    })
    .join("")
  const svg = `<svg class="chart" data-chart="${esc(o.chart)}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">` +
    yAxis(ticks, o.unit) + xCategories(o.labels, o.xTitle) + marks + series + `</svg>`
  return figure(o.title, o.note ?? "", legend(o.series) + svg)
}

/** Stacked bars per stage, one segment per key. */
const stackedBars = (o: {
  readonly chart: string
  readonly title: string
  readonly unit: string
  readonly xTitle: string
  readonly labels: ReadonlyArray<string>
  readonly keys: ReadonlyArray<string>
  readonly values: ReadonlyArray<Readonly<Record<string, number>>>
  readonly attr: string
  readonly note?: string
}): string => {
  const n = o.labels.length
  const totals = o.values.map((v) => o.keys.reduce((sum, k) => sum + (v[k] ?? 0), 0))
  const ticks = niceTicks(Math.max(0, ...totals))
  const top = ticks[ticks.length - 1]!
  const barW = Math.min(48, (PW / n) * 0.6)
  const bars = o.values
    .map((v, i) => {
      let acc = 0
      const segs = o.keys
        .map((k, ki) => {
          const count = v[k] ?? 0
          if (count === 0) return ""
          const y0 = M.top + PH - ((acc + count) / top) * PH
          const h = (count / top) * PH
          acc += count
          return `<rect class="bar c${ki % 8}" x="${px(bandX(i, n) - barW / 2)}" y="${px(y0)}" width="${px(barW)}" height="${px(h)}" ` +
            `data-stage="${i}" data-${o.attr}="${esc(k)}" data-count="${count}"><title>${esc(`${o.labels[i]}: ${k} ${count}`)}</title></rect>`
        })
        .join("")
      return `<g data-stage="${i}" data-total="${totals[i]}">${segs}</g>`
    })
    .join("")
  const svg = `<svg class="chart" data-chart="${esc(o.chart)}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">` +
    yAxis(ticks, o.unit) + xCategories(o.labels, o.xTitle) + bars + `</svg>`
  return figure(o.title, o.note ?? "", legend(o.keys.map((k) => ({ key: k, label: k }))) + svg)
}

// ── over time (each stage's timeline) ─────────────────────────────────────────────────────

interface TimeSeries {
  readonly key: string
  readonly label: string
  readonly value: (p: TimelinePoint) => number | undefined
}

/** Linear time axis: ticks and labels in seconds since the first stage's window opened. */
const xTime = (ticks: ReadonlyArray<number>): string => {
  const end = ticks[ticks.length - 1]!
  const x = (t: number) => M.left + (t / end) * PW
  return ticks
    .map((t) => `<text class="tick" x="${px(x(t))}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(tickLabel(t))}</text>`)
    .join("") +
    `<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${M.top + PH}" y2="${M.top + PH}"/>` +
    `<text class="axis-title" x="${M.left + PW / 2}" y="${H - 8}" text-anchor="middle">time (s, stages back to back)</text>`
}

/**
 * A chart over time, k6 / Locust style: the stages' timelines back to back on one time axis
 * (each stage's window starts where the previous one's drain ended), one line per series and
 * stage, each point at the middle of its interval, a dashed mark where each stage starts. Every point carries `data-stage`, `data-t`
 * (seconds into its stage) and `data-y`.
 */
const timeChart = (o: {
  readonly chart: string
  readonly title: string
  readonly unit: string
  readonly stages: ReadonlyArray<StageResult>
  readonly series: ReadonlyArray<TimeSeries>
  readonly note?: string
}): string => {
  const offsets: Array<number> = []
  let total = 0
  for (const s of o.stages) {
    offsets.push(total)
    const tl = s.timeline ?? []
    total += tl.length > 0 ? tl[tl.length - 1]!.t : 0
  }
  const xTicks = niceTicks(total, 6)
  const xEnd = xTicks[xTicks.length - 1]!
  const x = (t: number) => M.left + (t / xEnd) * PW
  const values = o.stages.flatMap((s) => (s.timeline ?? []).flatMap((p) => o.series.map((se) => se.value(p) ?? 0)))
  const ticks = niceTicks(Math.max(0, ...values))
  const top = ticks[ticks.length - 1]!
  const y = (v: number) => M.top + PH - (v / top) * PH
  const marks = o.stages
    .map((s, si) => {
      const mx = px(x(offsets[si]!))
      return `<g class="mark" data-mark="stage" data-stage="${si}"><line x1="${mx}" x2="${mx}" y1="${M.top}" y2="${M.top + PH}"/>` +
        `<text x="${mx}" y="${M.top - 6}" text-anchor="start">${esc(levelLabel(s))}</text></g>`
    })
    .join("")
  const lines = o.series
    .map((se, ki) => {
      const perStage = o.stages
        .map((s, si) => {
          const pts = (s.timeline ?? []).flatMap((p) => {
            const v = se.value(p)
            // Drawn at the middle of its interval: a rate or percentile over that second.
            return v === undefined ? [] : [{ p, v, cx: x(offsets[si]! + p.t - p.seconds / 2), cy: y(v) }]
          })
          const line = pts.length > 1 ? `<polyline class="line" points="${pts.map((q) => `${px(q.cx)},${px(q.cy)}`).join(" ")}"/>` : ""
          const dots = pts
            .map((q) =>
              `<circle class="point" r="2" cx="${px(q.cx)}" cy="${px(q.cy)}" data-series="${esc(se.key)}" data-stage="${si}" data-t="${q.p.t}" data-phase="${q.p.phase}" data-y="${q.v}">` +
              `<title>${esc(`${levelLabel(s)}, ${num(q.p.t)} s (${q.p.phase}): ${se.label} ${num(q.v)} ${o.unit}`)}</title></circle>`
            )
            .join("")
          return line + dots
        })
        .join("")
      return `<g class="series c${ki % 8}" data-series="${esc(se.key)}">${perStage}</g>`
    })
    .join("")
  const svg = `<svg class="chart" data-chart="${esc(o.chart)}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">` +
    yAxis(ticks, o.unit) + xTime(xTicks) + marks + lines + `</svg>`
  return figure(o.title, o.note ?? "", legend(o.series) + svg)
}

/** The "Over time" section: req/s, latency, in flight and errors per second of every stage. */
const overTime = (stages: ReadonlyArray<StageResult>): string => {
  if (!stages.some((s) => (s.timeline ?? []).length > 0)) return ""
  const perSecond = (n: number, p: TimelinePoint) => (p.seconds > 0 ? Math.round((n / p.seconds) * 100) / 100 : 0)
  const charts = [
    timeChart({
      chart: "timeline-rps",
      title: "Throughput over time",
      unit: "req/s",
      stages,
      series: [
        { key: "rps", label: "req/s (ended)", value: (p) => p.rps },
        { key: "sent", label: "sent/s", value: (p) => perSecond(p.sent, p) }
      ]
    }),
    timeChart({
      chart: "timeline-latency",
      title: "Latency over time (ok requests that ended in each second)",
      unit: "ms",
      stages,
      series: [
        { key: "p50", label: "p50", value: (p) => p.p50 },
        { key: "p99", label: "p99", value: (p) => p.p99 }
      ]
    }),
    timeChart({
      chart: "timeline-inflight",
      title: "In flight over time",
      unit: "requests",
      stages,
      series: [{ key: "inFlight", label: "in flight", value: (p) => p.inFlight }]
    }),
    timeChart({
      chart: "timeline-errors",
      title: "Errors over time",
      unit: "errors/s",
      stages,
      series: [{ key: "errors", label: "errors/s", value: (p) => perSecond(p.errors, p) }]
    })
  ]
  return `<section><h2>Over time</h2><p class="note">Each stage second by second: its measured window, then the drain of the requests still in flight when it closed.</p>` +
    `<div class="grid">${charts.join("")}</div></section>`
}

// ── latency histograms ────────────────────────────────────────────────────────────────────

/** Counts of a µs histogram's recorded values in log-spaced bins between `loUs` and `hiUs`. */
export const binHistogram = (h: hdr.Histogram, loUs: number, hiUs: number, bins: number): ReadonlyArray<number> => {
  const counts = new Array<number>(bins).fill(0)
  if (!(h instanceof hdr.JsHistogram) || h.totalCount === 0) return counts
  const span = Math.log(hiUs / loUs)
  const it = h.recordedValuesIterator
  it.reset()
  while (it.hasNext()) {
    const v = it.next()
    // HDR reports a bucket's highest equivalent value; never above the exact max.
    const value = Math.min(v.valueIteratedTo, h.maxValue)
    const i = span > 0 ? Math.floor((Math.log(value / loUs) / span) * bins) : 0
    counts[Math.max(0, Math.min(bins - 1, i))]! += v.countAtValueIteratedTo
  }
  return counts
}

const HIST_W = 360
const HIST_H = 180
const HM = { left: 44, right: 10, top: 14, bottom: 34 }

const logTicksMs = (loMs: number, hiMs: number): ReadonlyArray<number> => {
  const out: Array<number> = []
  for (let e = Math.floor(Math.log10(loMs)) - 1; e <= Math.ceil(Math.log10(hiMs)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e
      if (t >= loMs && t <= hiMs) out.push(Number(t.toPrecision(3)))
    }
  }
  return out
}

const histograms = (stages: ReadonlyArray<StageResult>): string => {
  const decoded = stages.map((s) => (s.latency.count > 0 ? decodeHistogram(s.latency.hdr) : undefined))
  const present = decoded.filter((h): h is hdr.Histogram => h !== undefined && h.totalCount > 0)
  if (present.length === 0) return ""
  let lo = Math.min(...present.map((h) => h.minNonZeroValue))
  let hi = Math.max(...present.map((h) => h.maxValue))
  if (hi / lo < 1.5) {
    lo = Math.max(1, lo / 1.25)
    hi = hi * 1.25
  }
  const bins = 32
  const edgesUs = Array.from({ length: bins + 1 }, (_, i) => lo * (hi / lo) ** (i / bins))
  const pw = HIST_W - HM.left - HM.right
  const ph = HIST_H - HM.top - HM.bottom
  const xOfUs = (us: number) => HM.left + (Math.log(us / lo) / Math.log(hi / lo)) * pw
  const xTicks = logTicksMs(lo / 1000, hi / 1000)
  const cards = stages
    .map((s, si) => {
      const h = decoded[si]
      if (h === undefined || h.totalCount === 0) {
        return figure(`${levelLabel(s)}: latency histogram`, "no ok requests", `<svg class="chart hist" data-chart="histogram" data-stage="${si}" data-total="0" viewBox="0 0 ${HIST_W} ${HIST_H}"></svg>`)
      }
      const counts = binHistogram(h, lo, hi, bins)
      const total = counts.reduce((a, b) => a + b, 0)
      const maxShare = Math.max(...counts) / total
      const ticks = niceTicks(maxShare * 100, 3)
      const top = ticks[ticks.length - 1]!
      const yOf = (pct: number) => HM.top + ph - (pct / top) * ph
      const grid = ticks
        .map((t) => `<line class="grid" x1="${HM.left}" x2="${HIST_W - HM.right}" y1="${px(yOf(t))}" y2="${px(yOf(t))}"/>` +
          `<text class="tick" x="${HM.left - 4}" y="${px(yOf(t) + 4)}" text-anchor="end">${t}%</text>`)
        .join("")
      const xAxis = xTicks
        .map((t) => `<text class="tick" x="${px(xOfUs(t * 1000))}" y="${HIST_H - HM.bottom + 14}" text-anchor="middle">${esc(t)}</text>`)
        .join("") +
        `<line class="axis" x1="${HM.left}" x2="${HIST_W - HM.right}" y1="${HM.top + ph}" y2="${HM.top + ph}"/>` +
        `<text class="axis-title" x="${HM.left + pw / 2}" y="${HIST_H - 4}" text-anchor="middle">latency (ms, log scale)</text>`
      const bars = counts
        .map((count, i) => {
          if (count === 0) return ""
          const x0 = xOfUs(edgesUs[i]!)
          const x1 = xOfUs(edgesUs[i + 1]!)
          const pct = (count / total) * 100
          const loMs = edgesUs[i]! / 1000
          const hiMs = edgesUs[i + 1]! / 1000
          return `<rect class="bin" x="${px(x0)}" y="${px(yOf(pct))}" width="${px(Math.max(0.5, x1 - x0 - 0.5))}" height="${px(ph - (yOf(pct) - HM.top))}" ` +
            `data-lo-ms="${Math.round(loMs * 1000) / 1000}" data-hi-ms="${Math.round(hiMs * 1000) / 1000}" data-count="${count}">` +
            `<title>${esc(`${num(loMs)}–${num(hiMs)} ms: ${count} (${pct.toFixed(1)}%)`)}</title></rect>`
        })
        .join("")
      const pMarks = (["p50", "p99"] as const)
        .map((k) => {
          const x = px(xOfUs(Math.max(lo, Math.min(hi, s.latency[k] * 1000))))
          return `<g class="mark" data-mark="${k}" data-ms="${s.latency[k]}"><line x1="${x}" x2="${x}" y1="${HM.top}" y2="${HM.top + ph}"/>` +
            `<text x="${x}" y="${HM.top - 3}" text-anchor="middle">${k}</text></g>`
        })
        .join("")
      const svg = `<svg class="chart hist" data-chart="histogram" data-stage="${si}" data-total="${total}" viewBox="0 0 ${HIST_W} ${HIST_H}" role="img" aria-label="${esc(`latency histogram at ${levelLabel(s)}`)}">` +
        grid + xAxis + `<g class="bins">${bars}</g>` + pMarks + `</svg>`
      return figure(`${levelLabel(s)}: latency histogram`, `${total} ok requests; p50 ${num(s.latency.p50)} ms, p99 ${num(s.latency.p99)} ms`, svg)
    })
    .join("")
  return `<section><h2>Latency distribution per stage</h2><p class="note">Share of ok requests per log-spaced latency bin (same bins in every stage).</p><div class="grid small">${cards}</div></section>`
}

// ── per-backend share (rendered when a stage carries one) ─────────────────────────────────

/** A stage's requests per mock backend (`--mock-backend`), keyed by URL. */
const backendsOf = (s: StageResult): Readonly<Record<string, number>> | undefined =>
  s.backends === undefined || s.backends.length === 0 ? undefined : Object.fromEntries(s.backends.map((b) => [b.url, b.requests]))

const backendShare = (stages: ReadonlyArray<StageResult>): string => {
  const per = stages.map(backendsOf)
  if (per.every((b) => b === undefined)) return ""
  const keys = [...new Set(per.flatMap((b) => (b === undefined ? [] : Object.keys(b))))].sort()
  const rowH = 26
  const left = 90
  const width = W - left - M.right
  const height = M.top + stages.length * rowH + 8
  const rows = stages
    .map((s, i) => {
      const b = per[i]
      const total = b === undefined ? 0 : keys.reduce((sum, k) => sum + (b[k] ?? 0), 0)
      let acc = 0
      const segs = b === undefined || total === 0
        ? ""
        : keys
            .map((k, ki) => {
              const count = b[k] ?? 0
              if (count === 0) return ""
              const x = left + (acc / total) * width
              acc += count
              const share = (count / total) * 100
              return `<rect class="bar c${ki % 8}" x="${px(x)}" y="${M.top + i * rowH}" width="${px((count / total) * width)}" height="${rowH - 6}" ` +
                `data-stage="${i}" data-backend="${esc(k)}" data-count="${count}" data-share="${Math.round(share * 10) / 10}">` +
                `<title>${esc(`${levelLabel(s)}: ${k} ${count} (${share.toFixed(1)}%)`)}</title></rect>`
            })
            .join("")
      return `<text class="tick" x="${left - 6}" y="${M.top + i * rowH + 14}" text-anchor="end">${esc(levelLabel(s))}</text>${segs}`
    })
    .join("")
  const svg = `<svg class="chart" data-chart="backends" viewBox="0 0 ${W} ${height}" role="img" aria-label="requests per backend">${rows}</svg>`
  return figure("Share of requests per backend", "", legend(keys.map((k) => ({ key: k, label: k }))) + svg)
}

// ── tables ────────────────────────────────────────────────────────────────────────────────

const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, cls = ""): string =>
  `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>` +
  `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`

const stageTable = (run: RunResult): string => {
  const stages = run.stages
  const open = isOpen(stages)
  const streaming = stages.some((s) => s.stream)
  const head = [
    ...(open ? ["rate", "sent/s"] : ["conc"]),
    "req", "ok", "err", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
    ...(streaming ? ["TTFT p50", "TTFT p99"] : []),
    "tok/s"
  ]
  const rows = stages.map((s) => {
    const flags = (s.interrupted ? " *" : "") + (s.selfHealth !== undefined && !s.selfHealth.ok ? " !" : "") +
      (run.knee?.index === s.index ? " (knee)" : "")
    return [
      ...(open ? [esc(`${s.rate ?? "-"}${flags}`), esc(s.achievedRate === undefined ? "-" : num(s.achievedRate))] : [esc(`${s.concurrency}${flags}`)]),
      esc(s.requests), esc(s.ok), s.errors > 0 ? `<span class="bad">${esc(s.errors)}</span>` : "0", esc(num(s.rps)),
      esc(ms(s.latency)), esc(pctOf(s.latency, "p90")), esc(pctOf(s.latency, "p99")), esc(pctOf(s.latency, "max")),
      ...(streaming ? [esc(ms(s.ttft)), esc(pctOf(s.ttft, "p99"))] : []),
      esc(num(s.outputTokensPerSecond))
    ]
  })
  const notes: Array<string> = []
  if (stages.some((s) => s.interrupted)) notes.push("* stage cut short: counts cover the requests that completed")
  for (const s of stages) {
    if (s.selfHealth !== undefined && !s.selfHealth.ok) {
      notes.push(`! ${levelLabel(s)}: the load generator was the bottleneck (${s.selfHealth.warnings.join("; ")}); do not read its latency as the router's`)
    }
    if (s.lateStarts > 0) notes.push(`${levelLabel(s)}: ${s.lateStarts} requests waited for a free slot (--max-inflight reached)`)
  }
  return table(head, rows, "num") + notes.map((n) => `<p class="note">${esc(n)}</p>`).join("")
}

const verdicts = (run: RunResult): string => {
  const out: Array<string> = []
  if (run.knee !== undefined) out.push(`knee: ${run.knee.reason}`)
  if (run.slo !== undefined) {
    const best = run.slo.bestIndex === null ? undefined : run.stages[run.slo.bestIndex]
    out.push(`SLO ${run.slo.expression}: ${best === undefined ? "no level met it" : `best level ${levelLabel(best)}`}`)
  }
  return out.length === 0 ? "" : `<ul class="verdicts">${out.map((l) => `<li>${esc(l)}</li>`).join("")}</ul>`
}

const overheadTable = (run: RunResult): string => {
  if (run.overhead === undefined || run.overhead.length === 0) return ""
  const sign = (x: number) => (x >= 0 ? "+" : "") + num(x)
  const rows = run.overhead.map((o) => [
    esc(o.level), esc(sign(o.p50DeltaMs)), esc(sign(o.p99DeltaMs)), esc(sign(o.ttftP50DeltaMs)), esc(sign(o.ttftP99DeltaMs)), esc(o.rpsRatio.toFixed(3))
  ])
  return `<section><h2>Router overhead</h2><p class="note">Through the router minus directly to the mock, per stage.</p>` +
    table(["level", "Δp50 ms", "Δp99 ms", "ΔTTFT p50", "ΔTTFT p99", "req/s ratio"], rows, "num") + `</section>`
}

const errorSection = (stages: ReadonlyArray<StageResult>, labels: ReadonlyArray<string>, xTitle: string): string => {
  const totals: Record<string, number> = {}
  for (const s of stages) for (const [k, v] of Object.entries(s.errorsByClass)) totals[k] = (totals[k] ?? 0) + v
  const classes = Object.keys(totals).sort((a, b) => totals[b]! - totals[a]! || a.localeCompare(b))
  if (classes.length === 0) {
    return `<section><h2>Errors</h2><p class="ok-note" data-errors="0">No errors in any stage.</p></section>`
  }
  const chart = stackedBars({
    chart: "errors",
    title: "Errors per stage, by class",
    unit: "errors",
    xTitle,
    labels,
    keys: classes,
    values: stages.map((s) => s.errorsByClass),
    attr: "class"
  })
  const rows = stages.flatMap((s) =>
    Object.entries(s.errorsByClass).map(([k, v]) => [
      esc(levelLabel(s)),
      esc(k),
      esc(v),
      esc(`${s.requests > 0 ? ((v / s.requests) * 100).toFixed(1) : "0"}%`),
      `<code>${esc(s.errorSamples[k] ?? "")}</code>`
    ])
  )
  return `<section><h2>Errors</h2><div class="grid">${chart}</div>` +
    table(["stage", "class", "count", "of requests", "first message"], rows, "errors") + `</section>`
}

const flatten = (value: unknown, prefix: string, out: Array<[string, string]>): void => {
  if (value === undefined) return
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>)
    if (entries.length === 0) out.push([prefix, "{}"])
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out)
    return
  }
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) {
    out.push([prefix, value.map(String).join(", ")])
    return
  }
  out.push([prefix, typeof value === "string" ? value : JSON.stringify(value)])
}

const keyValueTable = (value: unknown, chart: string): string => {
  const rows: Array<[string, string]> = []
  flatten(value, "", rows)
  return `<table class="kv" data-table="${chart}"><tbody>${rows
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join("")}</tbody></table>`
}

// ── page ──────────────────────────────────────────────────────────────────────────────────

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#656d76;--card:#f6f8fa;--line:#d0d7de;--grid:#e8ebef;--bad:#cf222e;
--c0:#2f6fde;--c1:#d97706;--c2:#cf222e;--c3:#1a7f37;--c4:#8250df;--c5:#bf3989;--c6:#0e8a9e;--c7:#7d6a00}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#161b22;--line:#30363d;--grid:#21262d;--bad:#f85149;
--c0:#4c8dff;--c1:#f0a030;--c2:#ff6b6b;--c3:#3fb950;--c4:#a371f7;--c5:#f778ba;--c6:#39c5cf;--c7:#d4b93c}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:24px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.sub,.note{color:var(--muted)}.note{font-size:12.5px;margin:6px 0}
.banner{border:1px solid var(--bad);color:var(--bad);border-radius:6px;padding:8px 12px;margin:12px 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:16px}
.grid.small{grid-template-columns:repeat(auto-fill,minmax(300px,1fr))}
.card{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{display:block;width:100%;height:auto;overflow:visible}
svg text{fill:var(--muted);font-size:11px}
svg .axis-title{font-size:11.5px}svg .unit{font-size:11px}
svg .grid{stroke:var(--grid);stroke-width:1}svg .axis{stroke:var(--line);stroke-width:1}
svg .line{fill:none;stroke-width:2}svg .dashed{stroke-dasharray:5 4}
svg .point{stroke:var(--card);stroke-width:1.5}
svg .value{fill:var(--fg);font-weight:600}
svg .mark line{stroke:var(--muted);stroke-dasharray:3 3}svg .mark text{font-size:10px}
svg .bin{fill:var(--c0);opacity:.85}
${[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `.c${i}{color:var(--c${i})}svg .c${i} .line{stroke:var(--c${i})}svg .c${i} .point,svg rect.c${i}{fill:var(--c${i})}.swatch.c${i}{background:var(--c${i})}`).join("\n")}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);margin:2px 0 6px}
.key{display:inline-flex;align-items:center;gap:5px}.swatch{display:inline-block;width:14px;height:4px;border-radius:2px}
.swatch.dashed{background:repeating-linear-gradient(90deg,currentColor 0 5px,transparent 5px 8px)!important}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
table.num td{text-align:right;font-variant-numeric:tabular-nums}table.num th{text-align:right}
table.kv th{font-weight:500;color:var(--muted);white-space:nowrap}table.kv td{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px;word-break:break-all}
table.errors code{font-size:12px;word-break:break-all}
.bad{color:var(--bad);font-weight:600}.ok-note{color:var(--c3)}
.verdicts{margin:8px 0;padding-left:20px}
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px}
footer{margin-top:32px;color:var(--muted);font-size:12px}
`

/**
 * The whole report as one HTML document: the stage table, req/s, latency and TTFT against the
 * ramp's level, a latency histogram per stage, errors by class, the share per backend (when
 * the stages carry one), and the settings and environment. All text is escaped.
 */
export const renderHtml = (run: RunResult): string => {
  const stages = run.stages
  const open = isOpen(stages)
  const xTitle = open ? "arrival rate (req/s)" : "concurrency (virtual clients)"
  const labels = stages.map((s) => String(levelOf(s)))
  const point = (s: StageResult, i: number, y: number | undefined): Point | undefined =>
    y === undefined ? undefined : { stage: i, x: levelOf(s), y }
  const direct = run.directStages !== undefined && run.directStages.length === stages.length ? run.directStages : undefined
  const marks: Array<Mark> = []
  if (run.knee?.index !== null && run.knee?.index !== undefined && stages.length > 1) marks.push({ index: run.knee.index, label: "knee" })
  if (run.slo?.bestIndex !== null && run.slo?.bestIndex !== undefined && stages.length > 1) marks.push({ index: run.slo.bestIndex, label: "SLO best" })

  const charts: Array<string> = []
  if (stages.length > 0) {
    charts.push(lineChart({
      chart: "rps",
      title: "Throughput",
      unit: "req/s",
      xTitle,
      labels,
      marks,
      series: [
        { key: "rps", label: "req/s", points: stages.map((s, i) => point(s, i, s.rps)) },
        ...(stages.some((s) => s.errors > 0) ? [{ key: "okRps", label: "ok req/s", points: stages.map((s, i) => point(s, i, s.okRps)), dashed: true }] : []),
        ...(stages.some((s) => s.goodput !== undefined) ? [{ key: "goodput", label: "goodput", points: stages.map((s, i) => point(s, i, s.goodput)) }] : []),
        ...(open ? [{ key: "sent", label: "sent/s", points: stages.map((s, i) => point(s, i, s.achievedRate)), dashed: true }] : []),
        ...(direct !== undefined ? [{ key: "directRps", label: "req/s direct to mock", points: direct.map((s, i) => point(s, i, s.rps)), dashed: true }] : [])
      ]
    }))
    const latencyPoint = (s: StageResult, i: number, key: "p50" | "p90" | "p99") => point(s, i, s.latency.count > 0 ? s.latency[key] : undefined)
    charts.push(lineChart({
      chart: "latency",
      title: "Latency (ok requests, scheduled start to last byte)",
      unit: "ms",
      xTitle,
      labels,
      marks,
      series: [
        { key: "p50", label: "p50", points: stages.map((s, i) => latencyPoint(s, i, "p50")) },
        { key: "p90", label: "p90", points: stages.map((s, i) => latencyPoint(s, i, "p90")) },
        { key: "p99", label: "p99", points: stages.map((s, i) => latencyPoint(s, i, "p99")) },
        ...(direct !== undefined
          ? [
              { key: "directP50", label: "p50 direct", points: direct.map((s, i) => latencyPoint(s, i, "p50")), dashed: true },
              { key: "directP99", label: "p99 direct", points: direct.map((s, i) => latencyPoint(s, i, "p99")), dashed: true }
            ]
          : [])
      ]
    }))
    if (stages.some((s) => s.stream && s.ttft.count > 0)) {
      const ttftPoint = (s: StageResult, i: number, key: "p50" | "p99") => point(s, i, s.ttft.count > 0 ? s.ttft[key] : undefined)
      charts.push(lineChart({
        chart: "ttft",
        title: "Time to first token",
        unit: "ms",
        xTitle,
        labels,
        marks,
        series: [
          { key: "p50", label: "TTFT p50", points: stages.map((s, i) => ttftPoint(s, i, "p50")) },
          { key: "p99", label: "TTFT p99", points: stages.map((s, i) => ttftPoint(s, i, "p99")) }
        ]
      }))
    }
    const backends = backendShare(stages)
    if (backends) charts.push(backends)
  }

  const first = stages[0]
  const title = `nomyo-load report: ${run.mode}${first !== undefined ? ` ${first.api}${first.stream ? " stream" : ""} → ${first.url}` : ""}`
  const banner = [
    run.interrupted ? "This run was cut short; the stages show what was measured." : "",
    run.error !== undefined ? `Run ended early: ${run.error}` : ""
  ].filter((x) => x !== "")

  const body = [
    `<header><h1>${esc(title)}</h1><p class="sub">${esc(`${run.environment.tool} ${run.environment.toolVersion} · started ${run.environment.startedAt} · ${stages.length} stage${stages.length === 1 ? "" : "s"}`)}</p></header>`,
    banner.map((b) => `<p class="banner">${esc(b)}</p>`).join(""),
    stages.length === 0
      ? `<p class="banner">No stage was measured.</p>`
      : `<section><h2>Stages</h2>${stageTable(run)}${verdicts(run)}</section>`,
    charts.length > 0 ? `<section><h2>Charts</h2><div class="grid">${charts.join("")}</div></section>` : "",
    overTime(stages),
    histograms(stages),
    stages.length > 0 ? errorSection(stages, labels, xTitle) : "",
    overheadTable(run),
    `<section><h2>Settings and environment</h2><div class="two"><div><h3>Settings</h3>${keyValueTable(run.settings, "settings")}</div>` +
      `<div><h3>Environment</h3>${keyValueTable(run.environment, "environment")}</div></div></section>`,
    `<footer>${esc(`Generated by ${run.environment.tool} ${run.environment.toolVersion} from results schema v${run.schemaVersion}.`)}</footer>`
  ].join("\n")

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
</body>
</html>
`
}
