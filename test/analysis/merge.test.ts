import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { MergeFailed, mergeRuns, mergeRunsEither, mergeSummaries } from "../../src/analysis/Merge.ts"
import { decodeRunResult, encodeRunResult, SelfHealth, StageResult, Summary } from "../../src/domain/Results.ts"
import { decodeHistogram, makeHistogram, recordMs, summarize } from "../../src/stats/Histogram.ts"
import { Effect } from "effect"
import { makeRun, makeStage, prng, ramp, summaryOf } from "./Synthetic.ts"

/** Latency-like samples (ms): a long-tailed spread plus a few far outliers. */
const samples = (n: number, seed: number): Array<number> => {
  const rnd = prng(seed)
  const out: Array<number> = []
  for (let i = 0; i < n; i++) out.push(3 + rnd() ** 3 * 4000 + rnd() * 0.999)
  out.push(123456.789, 0.0004, 77777.7777)
  return out
}

const stats = (s: Summary) => ({ count: s.count, min: s.min, mean: s.mean, p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max })

describe("merge", () => {
  it("two halves merged equal the summary and histogram of one run that recorded everything", () => {
    const all = samples(20_000, 11)
    const a = all.filter((_, i) => i % 3 === 0)
    const b = all.filter((_, i) => i % 3 !== 0)
    const one = summaryOf(all)
    const merged = mergeSummaries([summaryOf(a), summaryOf(b)])
    assert.deepStrictEqual(stats(merged), stats(one))
    // The merged histogram itself: same total and same value at every percentile.
    const hm = decodeHistogram(merged.hdr)
    const h1 = decodeHistogram(one.hdr)
    assert.strictEqual(hm.totalCount, h1.totalCount)
    for (const p of [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]) {
      assert.strictEqual(hm.getValueAtPercentile(p), h1.getValueAtPercentile(p), `p${p}`)
    }
  })

  it("merges whole runs: counts, classes, rates, windows and every distribution", () => {
    const all = samples(4000, 5)
    const ttftAll = samples(4000, 6).map((x) => x / 10)
    const half = (xs: Array<number>, k: number) => xs.filter((_, i) => i % 2 === k)
    const stageOf = (k: 0 | 1) =>
      StageResult.make({
        ...makeStage({ conc: 16, okRps: 100 + k, latency: summaryOf(half(all, k)), ttft: summaryOf(half(ttftAll, k)), errors: 3 + k }),
        errorsByClass: k === 0 ? { http_503: 3 } : { http_503: 2, timeout: 2 },
        errorSamples: k === 0 ? { http_503: "queue full" } : { http_503: "other text", timeout: "timed out" },
        windowSeconds: 10 + k,
        interrupted: k === 1,
        dispatchDelay: summaryOf(half(all, k).map((x) => x / 1000)),
        goodput: 90 + k,
        goodRequests: 900 + k,
        selfHealth: SelfHealth.make({ ok: k === 0, warnings: k === 0 ? [] : ["loop lag"], loopDelayP99Ms: 2 + k, loopDelayMaxMs: 9 - k })
      })
    const runA = makeRun([stageOf(0)], "host-a")
    const runB = makeRun([stageOf(1)], "host-b", { error: "interrupted", interrupted: true })
    const merged = mergeRuns([runA, runB], ["a.json", "b.json"])
    const s = merged.stages[0]!
    const [sa, sb] = [runA.stages[0]!, runB.stages[0]!]
    assert.strictEqual(s.requests, sa.requests + sb.requests)
    assert.strictEqual(s.ok, sa.ok + sb.ok)
    assert.strictEqual(s.errors, 7)
    assert.deepStrictEqual(s.errorsByClass, { http_503: 5, timeout: 2 })
    assert.deepStrictEqual(s.errorSamples, { http_503: "queue full", timeout: "timed out" })
    assert.strictEqual(s.okRps, 201)
    assert.strictEqual(s.rps, Math.round((sa.rps + sb.rps) * 100) / 100)
    assert.strictEqual(s.outputTokensPerSecond, Math.round((sa.outputTokensPerSecond + sb.outputTokensPerSecond) * 100) / 100)
    assert.strictEqual(s.goodput, 181)
    assert.strictEqual(s.goodRequests, 1801)
    assert.strictEqual(s.concurrency, 32)
    assert.strictEqual(s.windowSeconds, 11)
    assert.isTrue(s.interrupted)
    assert.isTrue(merged.interrupted)
    assert.strictEqual(merged.error, "b.json: interrupted")
    assert.deepStrictEqual(stats(s.latency), stats(summaryOf(all)))
    assert.deepStrictEqual(stats(s.ttft), stats(summaryOf(ttftAll)))
    assert.deepStrictEqual(stats(s.dispatchDelay!), stats(summaryOf(all.map((x) => x / 1000))))
    assert.deepStrictEqual(s.selfHealth, SelfHealth.make({ ok: false, warnings: ["b.json: loop lag"], loopDelayP99Ms: 3, loopDelayMaxMs: 9 }))
    assert.deepStrictEqual(merged.settings["mergedFrom"], [
      { hostname: "host-a", startedAt: "2025-01-01T00:00:00.000Z", file: "a.json" },
      { hostname: "host-b", startedAt: "2025-01-01T00:00:00.000Z", file: "b.json" }
    ])
    assert.strictEqual(merged.knee, undefined, "a single stage has no knee")
    // What merge writes reads back.
    const back = Effect.runSync(decodeRunResult(JSON.parse(JSON.stringify(encodeRunResult(merged)))))
    assert.deepStrictEqual(stats(back.stages[0]!.latency), stats(s.latency))
  })

  it("sums open-loop rates and recomputes the knee and the SLO of a merged ramp", () => {
    const points = [
      [10, 10, 100],
      [20, 20, 110],
      [40, 21, 400]
    ] as const
    const a = makeRun(ramp(points, true), "a", { slo: { expression: "p99<300", bestIndex: 1, bestLevel: 20, perStage: [] } })
    const b = makeRun(ramp(points, true), "b")
    const merged = mergeRuns([a, b])
    assert.deepStrictEqual(
      merged.stages.map((s) => [s.rate, s.achievedRate, s.okRps]),
      [
        [20, 20, 20],
        [40, 40, 40],
        [80, 80, 42]
      ]
    )
    assert.strictEqual(merged.knee?.level, 40)
    assert.strictEqual(merged.slo?.bestLevel, 40)
    assert.deepStrictEqual(
      merged.slo?.perStage.map((p) => p.met),
      [true, true, false]
    )
  })

  it("fails clearly when the runs are not the same ramp", () => {
    const two = makeRun(ramp([
      [8, 10, 10],
      [16, 20, 11]
    ]))
    const one = makeRun(ramp([[8, 10, 10]]))
    const count = mergeRunsEither([two, one], ["a.json", "b.json"])
    assert.isTrue(Either.isLeft(count))
    const e = Either.getLeft(count).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
    assert.instanceOf(e, MergeFailed)
    assert.strictEqual(e.message, "cannot merge: the runs have different numbers of stages (a.json: 2, b.json: 1); merge runs of the same ramp")

    const other = makeRun(ramp([
      [8, 10, 10],
      [32, 20, 11]
    ]))
    assert.throws(() => mergeRuns([two, other], ["a.json", "b.json"]), /stage 1 of b\.json is conc 32, a\.json conc 16/)
    const open = makeRun(ramp([
      [8, 10, 10],
      [16, 20, 11]
    ], true))
    assert.throws(() => mergeRuns([two, open], ["a.json", "b.json"]), /stage 0 of b\.json is open loop/)
    assert.throws(() => mergeRuns([]), /no results files/)
  })

  it("fails clearly on a corrupt histogram", () => {
    const good = makeStage({ latency: summaryOf([1, 2, 3]) })
    // Only a run built with validation off can hold one: the Summary schema decodes every histogram.
    assert.throws(() => Summary.make({ ...good.latency, hdr: "not-a-histogram" }), /hdr[\s\S]*the encoded HDR histogram is corrupt \(not base64\)/)
    const bad = StageResult.make({ ...good, latency: Summary.make({ ...good.latency, hdr: "not-a-histogram" }, { disableValidation: true }) })
    assert.throws(() => mergeRuns([makeRun([good]), makeRun([bad])], ["a.json", "b.json"]), /stage 0 \(conc 8\) latency: the encoded HDR histogram is corrupt/)
  })

  it("summarize after add is exact for any split (property over seeds)", () => {
    for (let seed = 1; seed < 30; seed++) {
      const rnd = prng(seed)
      const h1 = makeHistogram()
      const parts = [makeHistogram(), makeHistogram(), makeHistogram()]
      for (let i = 0; i < 500; i++) {
        const v = rnd() * 10 ** (1 + rnd() * 5)
        recordMs(h1, v)
        recordMs(parts[Math.floor(rnd() * 3)]!, v)
      }
      assert.deepStrictEqual(stats(mergeSummaries(parts.map(summarize))), stats(summarize(h1)), `seed ${seed}`)
    }
  })
})
