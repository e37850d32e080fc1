import { assert, describe, it } from "@effect/vitest"
import { parseExprSync } from "../../src/analysis/Expr.ts"
import { evaluateSlo, goodputSloOf, sloForResult } from "../../src/analysis/Slo.ts"
import { RunResult } from "../../src/domain/Results.ts"
import { makeRun, makeStage, ramp } from "./Synthetic.ts"

describe("evaluateSlo", () => {
  const curve = ramp([
    [8, 100, 400],
    [16, 200, 900],
    [32, 380, 1800],
    [64, 400, 3600]
  ])

  it("linear then plateau: the highest level that meets every term", () => {
    const e = evaluateSlo(curve, parseExprSync("p99<2000,ttftP99<500"))
    assert.strictEqual(e.bestIndex, 2)
    assert.strictEqual(e.bestLevel, 32)
    assert.deepStrictEqual(
      e.perStage.map((p) => [p.label, p.met, p.failed]),
      [
        ["conc 8", true, []],
        ["conc 16", true, []],
        ["conc 32", true, []],
        ["conc 64", false, ["p99<2000 (3600)"]]
      ]
    )
    assert.strictEqual(e.reason, "conc 32 is the highest level that met p99<2000,ttftP99<500")
  })

  it("no level meets it", () => {
    const e = evaluateSlo(curve, parseExprSync("p99<100"))
    assert.strictEqual(e.bestIndex, null)
    assert.strictEqual(e.bestLevel, null)
    assert.strictEqual(e.reason, "no level met p99<100")
    assert.deepStrictEqual(evaluateSlo([], parseExprSync("p99<100")).reason, "no stages were measured")
  })

  it("noisy: the highest passing level wins and the reason flags the failing level below it", () => {
    const noisy = ramp([
      [8, 100, 400],
      [16, 190, 2100],
      [32, 380, 1900]
    ])
    const e = evaluateSlo(noisy, parseExprSync("p99<2000"))
    assert.strictEqual(e.bestLevel, 32)
    assert.match(e.reason, /but conc 16 below it did not/)
  })

  it("single stage, open loop, throughput terms and error terms", () => {
    const single = [makeStage({ rate: 50, okRps: 49, p99: 300, ok: 490, errors: 10 })]
    assert.strictEqual(evaluateSlo(single, parseExprSync("p99<500,okRps>=45")).bestLevel, 50)
    const e = evaluateSlo(single, parseExprSync("p99<500,errRate<1"))
    assert.strictEqual(e.bestIndex, null)
    assert.deepStrictEqual(e.perStage[0]!.failed, ["errRate<1 (2%)"])
  })

  it("reports recorded goodput per stage and never invents it", () => {
    const recorded = makeStage({ okRps: 100, ok: 1000, errors: 0, goodput: 80, goodRequests: 800 })
    const notRecorded = makeStage({ okRps: 100, ok: 1000 })
    const [a, b] = evaluateSlo([recorded, notRecorded], parseExprSync("p99<2000")).perStage
    assert.deepStrictEqual([a!.goodput, a!.goodRequests, a!.goodFraction], [80, 800, 0.8])
    assert.deepStrictEqual([b!.goodput, b!.goodRequests, b!.goodFraction], [undefined, undefined, undefined])
  })

  it("fits the results schema", () => {
    const slo = sloForResult(evaluateSlo(curve, parseExprSync("p99<2000")))
    const run = RunResult.make({ ...makeRun(curve), slo })
    assert.deepStrictEqual(run.slo?.perStage.map((p) => p.met), [true, true, true, false])
  })
})

describe("goodputSloOf", () => {
  it("turns latency-percentile bounds into per-request thresholds, tightest first", () => {
    assert.deepStrictEqual(goodputSloOf(parseExprSync("p99<2000,ttftP99<500,p50<=800,tpotP99<50,ttfbP50<100")), {
      latencyMs: 800,
      ttftMs: 500,
      tpotMs: 50,
      ttfbMs: 100
    })
  })

  it("ignores rates, errors, means, inter-chunk latency and lower bounds", () => {
    assert.strictEqual(goodputSloOf(parseExprSync("rps>=50,err=0,mean<100,itlP99<20,p99>5")), undefined)
  })
})
