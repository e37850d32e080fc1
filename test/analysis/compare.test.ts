import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { CompareMismatch, compareRuns, compareValue, formatComparison } from "../../src/analysis/Compare.ts"
import { parseMaxRegress } from "../../src/cli/AnalysisCommands.ts"
import { encodeRunResult, type RunResult } from "../../src/domain/Results.ts"
import { makeRun, makeStage, ramp, runAnalysisCli } from "./Synthetic.ts"

const base = makeRun(ramp([
  [8, 100, 400],
  [16, 200, 500]
]))

/** The base run with stage `i` changed. */
const changed = (i: number, spec: Parameters<typeof makeStage>[0]): RunResult =>
  makeRun(base.stages.map((s, j) => (j === i ? makeStage({ index: j, conc: s.concurrency, okRps: s.okRps, p99: s.latency.p99, p50: s.latency.p50, ...spec }) : s)))

describe("compareRuns", () => {
  it("identical runs: no regression", () => {
    const c = compareRuns(base, base, 10)
    assert.isFalse(c.regressed)
    assert.strictEqual(c.rows.length, 12)
    assert.isTrue(c.rows.every((r) => r.verdict === "same"))
    assert.match(formatComparison(c), /no regression beyond 10% \(12 comparisons\)$/)
  })

  it("latency: higher is worse", () => {
    const slower = compareRuns(base, changed(1, { p99: 560 }), 10)
    assert.isTrue(slower.regressed)
    assert.deepStrictEqual(
      slower.regressions.map((r) => [r.label, r.metric, Math.round(r.changePct!)]),
      [["conc 16", "p99", 12]]
    )
    const faster = compareRuns(base, changed(1, { p99: 300 }), 10)
    assert.isFalse(faster.regressed)
    assert.strictEqual(faster.rows.find((r) => r.index === 1 && r.metric === "p99")!.verdict, "better")
    assert.isFalse(compareRuns(base, changed(1, { p99: 540 }), 10).regressed, "+8% is within 10%")
  })

  it("throughput: lower is worse", () => {
    const less = compareRuns(base, changed(0, { okRps: 85 }), 10)
    assert.isTrue(less.regressed)
    assert.sameMembers(
      less.regressions.map((r) => r.metric),
      ["rps", "tokps"]
    )
    assert.isFalse(compareRuns(base, changed(0, { okRps: 150 }), 10).regressed)
    assert.isFalse(compareRuns(base, changed(0, { okRps: 85 }), 20).regressed, "within a wider bound")
  })

  it("error rate: any error where there were none is a regression; otherwise relative", () => {
    const firstErrors = compareRuns(base, changed(0, { errors: 1, ok: 1000 }), 10)
    assert.isTrue(firstErrors.regressed)
    assert.deepStrictEqual(
      firstErrors.regressions.map((r) => [r.metric, r.verdict]),
      [["errRate", "REGRESSED"]]
    )
    assert.deepStrictEqual(compareValue("lower", 2, 2.1, 10).regressed, false)
    assert.deepStrictEqual(compareValue("lower", 2, 2.3, 10).regressed, true)
    assert.deepStrictEqual(compareValue("higher", 0, 5, 10), { changePct: undefined, regressed: false, verdict: "better" })
    assert.deepStrictEqual(compareValue("lower", 3, undefined, 10), { changePct: undefined, regressed: true, verdict: "missing" })
  })

  it("refuses runs of different ramps", () => {
    assert.throws(() => compareRuns(base, makeRun(base.stages.slice(0, 1)), 10), CompareMismatch)
    const other = makeRun(ramp([
      [8, 100, 400],
      [32, 200, 500]
    ]))
    assert.throws(() => compareRuns(base, other, 10), /stage 1 is conc 16 in the base run but conc 32 in the new run/)
  })

  it("prints a diff table with the verdict of each row", () => {
    const text = formatComparison(compareRuns(base, changed(1, { p99: 600 }), 10))
    const lines = text.split("\n")
    assert.match(lines[0]!, /^level\s+metric\s+base\s+new\s+change\s+verdict$/)
    assert.isTrue(lines.some((l) => /^conc 16\s+p99\s+500\s+600\s+\+20\.0%\s+REGRESSED$/.test(l)), text)
    assert.strictEqual(lines.at(-1), "1 regression beyond 10%: conc 16 p99 +20.0%")
  })

  it("parses --max-regress", () => {
    assert.strictEqual(parseMaxRegress("10%"), 10)
    assert.strictEqual(parseMaxRegress("2.5"), 2.5)
    assert.match(String(parseMaxRegress("ten")), /--max-regress must be a percentage/)
  })
})

describe("compare command (in-process CLI)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "nomyo-compare-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, run: RunResult) => {
    const p = path.join(dir, name)
    writeFileSync(p, JSON.stringify(encodeRunResult(run)))
    return p
  }
  const b = file("base.json", base)
  const worse = file("worse.json", changed(1, { p99: 600 }))
  const better = file("better.json", changed(1, { p99: 300 }))

  it("exits 0 without a regression and prints the differences", async () => {
    const r = await runAnalysisCli(["compare", b, better])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /conc 16\s+p99\s+500\s+300\s+-40\.0%\s+better/)
  })

  it("exits 1 with RegressionFound beyond the bound", async () => {
    const r = await runAnalysisCli(["compare", b, worse, "--max-regress", "10%"])
    assert.strictEqual(r.code, 1)
    assert.include(r.stdout, "REGRESSED")
    assert.isTrue(r.exit._tag === "Failure" && JSON.stringify(r.exit.cause).includes("RegressionFound"))
    const loose = await runAnalysisCli(["compare", "--max-regress", "25", b, worse])
    assert.strictEqual(loose.code, 0)
  })

  it("exits 2 naming the flag for a bad --max-regress, or naming the file when one is missing", async () => {
    const bad = await runAnalysisCli(["compare", "--max-regress", "lots", b, worse])
    assert.strictEqual(bad.code, 2)
    assert.include(bad.stderr, "--max-regress")
    const missing = await runAnalysisCli(["compare", b, path.join(dir, "nope.json")])
    assert.strictEqual(missing.code, 2)
    assert.isTrue(missing.exit._tag === "Failure")
    assert.include(String(JSON.stringify(missing.exit)), "nope.json")
  })
})
