import { assert, describe, it } from "@effect/vitest"
import { findKnee, requiredGain } from "../../src/analysis/Knee.ts"
import { makeStage, ramp } from "./Synthetic.ts"

describe("findKnee", () => {
  it("linear scaling then a plateau: the last level before throughput flattens", () => {
    const knee = findKnee(ramp([
      [8, 100, 80],
      [16, 200, 82],
      [32, 390, 85],
      [64, 405, 160],
      [128, 410, 320]
    ]))
    assert.strictEqual(knee.index, 2)
    assert.strictEqual(knee.level, 32)
    assert.strictEqual(
      knee.reason,
      "conc 32 is the knee: the next level, conc 64, gained +3.8% ok req/s (needs >= +10.0%) and p99 grew ×1.88 (needs < ×1.5)"
    )
  })

  it("an immediate plateau: the lowest level", () => {
    const knee = findKnee(ramp([
      [8, 100, 80],
      [16, 104, 150],
      [32, 105, 300]
    ]))
    assert.strictEqual(knee.index, 0)
    assert.strictEqual(knee.level, 8)
    assert.match(knee.reason, /^conc 8 \(the lowest level\) is the knee: the next level, conc 16, gained \+4\.0% ok req\/s/)
  })

  it("a single stage has no knee", () => {
    const knee = findKnee(ramp([[8, 100, 80]]))
    assert.deepStrictEqual(knee, { index: null, level: null, reason: "a single level has no knee; run a ramp (--ramp or --ramp-rate)" })
    assert.strictEqual(findKnee([]).index, null)
  })

  it("noise: the walk stops at the first unhealthy step even if a later level recovers", () => {
    const knee = findKnee(ramp([
      [8, 100, 80],
      [16, 195, 84],
      [32, 200, 150],
      [64, 420, 90],
      [128, 800, 95]
    ]))
    assert.strictEqual(knee.level, 16)
  })

  it("every step healthy: the highest level, flagged as a lower bound", () => {
    const knee = findKnee(ramp([
      [8, 100, 80],
      [16, 200, 81],
      [32, 400, 82]
    ]))
    assert.strictEqual(knee.index, 2)
    assert.match(knee.reason, /highest level tested .* may lie beyond the ramp/)
  })

  it("throughput still grows but p99 blows up: latency alone ends scaling", () => {
    const knee = findKnee(ramp([
      [8, 100, 80],
      [16, 180, 100],
      [32, 300, 151]
    ]))
    assert.strictEqual(knee.level, 16)
    assert.match(knee.reason, /p99 grew ×1\.51 \(needs < ×1\.5\)$/)
  })

  it("the thresholds are strict at their bounds: +10% gain passes, ×1.5 p99 fails", () => {
    const gainAtBound = findKnee(ramp([
      [8, 100, 80],
      [16, 110, 100]
    ]))
    assert.strictEqual(gainAtBound.level, 16)
    const growthAtBound = findKnee(ramp([
      [8, 100, 80],
      [16, 200, 120]
    ]))
    assert.strictEqual(growthAtBound.level, 8)
  })

  it("a level with more than 1% errors cannot be the knee", () => {
    const knee = findKnee(ramp([
      [8, 100, 80],
      [16, 200, 82],
      [32, 400, 85, 100] // 100 errors of 4100 requests = 2.4%
    ]))
    assert.strictEqual(knee.level, 16)
    assert.match(knee.reason, /conc 32, had 2\.4% errors \(> 1%\)/)
    const fewErrors = findKnee(ramp([
      [8, 100, 80],
      [16, 200, 82, 10] // 10 of 2010 = 0.5%
    ]))
    assert.strictEqual(fewErrors.level, 16)
  })

  it("no knee when the lowest level has no ok requests or too many errors", () => {
    const stages = [makeStage({ index: 0, conc: 8, ok: 0, errors: 50, okRps: 0 }), makeStage({ index: 1, conc: 16, okRps: 20 })]
    const knee = findKnee(stages)
    assert.strictEqual(knee.index, null)
    assert.strictEqual(knee.reason, "no knee: the lowest level, conc 8, had no ok requests")
  })

  it("a fine ramp needs only half its own step in throughput gain", () => {
    assert.closeTo(requiredGain(100, 105), 0.025, 1e-12)
    assert.strictEqual(requiredGain(8, 16), 0.1)
    const knee = findKnee(ramp([
      [100, 1000, 80],
      [105, 1045, 82],
      [110, 1090, 84],
      [115, 1100, 86]
    ]))
    assert.strictEqual(knee.level, 110)
  })

  it("sorts by level and returns the position in the given array; open loop uses the rate", () => {
    const stages = ramp([
      [5, 5, 50],
      [10, 10, 52],
      [20, 11, 900]
    ], true)
    const knee = findKnee([stages[2]!, stages[0]!, stages[1]!])
    assert.strictEqual(knee.index, 2)
    assert.strictEqual(knee.level, 10)
    assert.match(knee.reason, /^rate 10 is the knee: the next level, rate 20/)
  })

  it("a stage cut short ends the walk", () => {
    const stages = ramp([
      [8, 100, 80],
      [16, 200, 82]
    ])
    const cut = makeStage({ index: 2, conc: 32, okRps: 400, p99: 84, interrupted: true })
    assert.strictEqual(findKnee([...stages, cut]).level, 16)
  })
})
