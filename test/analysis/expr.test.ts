import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { evaluateExpr, parseExpr, parseExprSync } from "../../src/analysis/Expr.ts"
import { metricNames, metricValue } from "../../src/analysis/Metrics.ts"
import { makeStage } from "./Synthetic.ts"

const errorOf = (text: string): string => {
  const r = parseExpr(text)
  assert.isTrue(Either.isLeft(r), `expected "${text}" to be rejected`)
  return Either.isLeft(r) ? r.left.message : ""
}

describe("parseExpr", () => {
  it("parses every operator, trims spaces, normalizes == and is case-insensitive on names", () => {
    const e = parseExprSync(" p99 < 800 , err=0,rps>=50, ttftp99<=300,TOKPS>1.5,errRate!=2%,p50==3 ")
    assert.deepStrictEqual(
      e.checks.map((c) => [c.term, c.metric, c.op, c.bound]),
      [
        ["p99 < 800", "p99", "<", 800],
        ["err=0", "err", "=", 0],
        ["rps>=50", "rps", ">=", 50],
        ["ttftp99<=300", "ttftP99", "<=", 300],
        ["TOKPS>1.5", "tokps", ">", 1.5],
        ["errRate!=2%", "errRate", "!=", 2],
        ["p50==3", "p50", "=", 3]
      ]
    )
  })

  it("knows the whole documented vocabulary", () => {
    assert.deepStrictEqual(metricNames, [
      "p50", "p90", "p99", "p999", "max", "mean",
      "ttftP50", "ttftP90", "ttftP99", "ttftMax",
      "ttfbP50", "ttfbP99", "itlP50", "itlP99", "tpotP50", "tpotP99",
      "rps", "okRps", "err", "errRate", "tokps", "goodput"
    ])
    for (const name of metricNames) assert.isTrue(Either.isRight(parseExpr(`${name}>=0`)), name)
  })

  it("rejects bad input with one line naming the offending term", () => {
    const cases: ReadonlyArray<[string, string]> = [
      ["p95<800", `"p95<800": unknown metric "p95"; choose from p50, p90,`],
      ["p99<800,p99 800", `"p99 800": expected METRIC OP NUMBER, e.g. p99<800`],
      ["p99<800ms", `"p99<800ms": "800ms" is not a plain number (p99 is in ms, write no unit)`],
      ["p99<5%", `"p99<5%": % is only allowed on errRate`],
      ["p99<-1", `"p99<-1": "-1" is not a plain number`],
      ["p99<", `"p99<": "" is not a plain number`],
      ["p99<800,,err=0", `empty check 2 in "p99<800,,err=0"`],
      ["p99<800,", `empty check 2 in "p99<800,"`],
      ["", "empty expression"],
      ["<800", `"<800": expected METRIC OP NUMBER`],
      ["p99=>800", `"p99=>800": ">800" is not a plain number`]
    ]
    for (const [text, expected] of cases) {
      const message = errorOf(text)
      assert.include(message, expected, text)
      assert.notInclude(message, "\n")
    }
  })
})

describe("evaluateExpr", () => {
  const stage = makeStage({ conc: 32, okRps: 50, p99: 412.3, p50: 100, ttftP99: 25, ok: 500, errors: 5 })

  it("gives each check its value and verdict", () => {
    const results = evaluateExpr(stage, parseExprSync("p99<800,err=0,rps>=50,ttftP99<300,errRate<=1%,p50!=100,okRps>50"))
    assert.deepStrictEqual(
      results.map((r) => [r.metric, r.value, r.pass]),
      [
        ["p99", 412.3, true],
        ["err", 5, false],
        ["rps", 50.5, true],
        ["ttftP99", 25, true],
        ["errRate", (5 / 505) * 100, true],
        ["p50", 100, false],
        ["okRps", 50, false]
      ]
    )
  })

  it("a metric without data fails (TTFT of an unstreamed run, goodput not recorded, latency with no ok request)", () => {
    const unstreamed = makeStage({ stream: false })
    assert.strictEqual(metricValue(unstreamed, "ttftP99"), undefined)
    const [ttft, goodput] = evaluateExpr(unstreamed, parseExprSync("ttftP99<300,goodput>=0"))
    assert.deepStrictEqual([ttft!.value, ttft!.pass, goodput!.value, goodput!.pass], [undefined, false, undefined, false])
    const failed = makeStage({ ok: 0, errors: 10, okRps: 0 })
    assert.deepStrictEqual(
      evaluateExpr(failed, parseExprSync("p99<800,errRate<1")).map((r) => [r.value, r.pass]),
      [
        [undefined, false],
        [100, false]
      ]
    )
  })
})
