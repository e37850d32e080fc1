import * as Command from "@effect/cli/Command"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Console, Effect, Exit, Option } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { parseExprSync } from "../../src/analysis/Expr.ts"
import { assertOption, checkAssertions, sloOption } from "../../src/cli/AnalysisCommands.ts"
import { exitCode } from "../../src/cli/Exit.ts"
import { encodeRunResult, type StageResult } from "../../src/domain/Results.ts"
import { makeRun, makeStage, ramp, runAnalysisCli, summaryOf } from "./Synthetic.ts"

const stages = ramp([
  [8, 100, 412.3],
  [32, 300, 900]
])

/** Runs checkAssertions with Console.log captured. */
const check = (s: ReadonlyArray<StageResult>, text: string) => {
  const lines: Array<string> = []
  const exit = Effect.runSyncExit(
    Console.consoleWith((base) =>
      Effect.withConsole(checkAssertions(s, parseExprSync(text)), { ...base, log: (...args) => Effect.sync(() => void lines.push(args.join(" "))) })
    )
  )
  return { exit, lines }
}

describe("checkAssertions", () => {
  it("prints each check with its value and succeeds when all pass", () => {
    const r = check(stages, "p99<1000,err=0")
    assert.isTrue(Exit.isSuccess(r.exit))
    assert.strictEqual(exitCode(r.exit), 0)
    assert.deepStrictEqual(r.lines, [
      "PASS p99<1000 at conc 8: 412.3",
      "PASS err=0 at conc 8: 0",
      "PASS p99<1000 at conc 32: 900",
      "PASS err=0 at conc 32: 0"
    ])
  })

  it("fails with AssertionsFailed (exit 1) when one check fails, after printing every check", () => {
    const r = check(stages, "p99<800,rps>=50")
    assert.deepStrictEqual(r.lines, [
      "PASS p99<800 at conc 8: 412.3",
      "PASS rps>=50 at conc 8: 100",
      "FAIL p99<800 at conc 32: 900",
      "PASS rps>=50 at conc 32: 300"
    ])
    assert.strictEqual(exitCode(r.exit), 1)
    const failure = Exit.isFailure(r.exit) ? Cause.failureOption(r.exit.cause) : Option.none()
    assert.isTrue(Option.isSome(failure) && failure.value._tag === "AssertionsFailed")
    assert.strictEqual(Option.getOrThrow(failure).message, "--assert: 1 of 4 checks failed: p99<800 at conc 32 (900)")
  })

  it("a metric without data fails, and no stages at all fails", () => {
    const r = check([makeStage({ stream: false })], "ttftP99<300")
    assert.deepStrictEqual(r.lines, ["FAIL ttftP99<300 at conc 8: n/a (no data)"])
    assert.strictEqual(exitCode(r.exit), 1)
    assert.strictEqual(exitCode(check([], "p99<1").exit), 1)
  })
})

describe("--assert and --slo flags", () => {
  const probe = Command.make("nomyo-load", { assert: assertOption, slo: sloOption }, ({ assert: a, slo }) =>
    Console.log(`ok ${Option.isSome(a) ? a.value.checks.length : 0} ${Option.isSome(slo) ? slo.value.checks.length : 0}`)
  )

  it("parse valid expressions", async () => {
    const r = await runAnalysisCli(["--assert", "p99<800,err=0", "--slo", "p99<2000"], probe)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout, "ok 2 1")
  })

  for (const [flag, text] of [
    ["--assert", "p95<800"],
    ["--slo", "p99<2000,"],
    ["--assert", "p99 < fast"]
  ] as const) {
    it(`exits 2 naming ${flag} for ${JSON.stringify(text)}`, async () => {
      const r = await runAnalysisCli([flag, text], probe)
      assert.strictEqual(r.code, 2)
      const message = r.stderr.trim()
      assert.include(message, flag)
      assert.isAtMost(message.split("\n").filter((l) => l.trim() !== "").length, 2)
    })
  }
})

describe("merge command (in-process CLI)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "nomyo-merge-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const write = (name: string, content: string) => {
    const p = path.join(dir, name)
    writeFileSync(p, content)
    return p
  }
  const driver = (host: string, values: ReadonlyArray<number>) =>
    makeRun([makeStage({ conc: 16, okRps: 50, latency: summaryOf(values) })], host)
  const a = write("a.json", JSON.stringify(encodeRunResult(driver("a", [10, 20, 30, 40]))))
  const b = write("b.json", JSON.stringify(encodeRunResult(driver("b", [50, 60, 70, 2000]))))

  it("prints the combined table, writes --json and passes --assert", async () => {
    const out = path.join(dir, "all.json")
    const r = await runAnalysisCli(["merge", a, b, "--json", out, "--assert", "p99<=2000,rps>=100"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^\s*conc\s+req\s+ok\s+err\s+req\/s/)
    assert.match(r.stdout, /\n\s*32\s+8\s+8\s+0\s+100\.0\s/)
    assert.include(r.stdout, "PASS rps>=100 at conc 32: 100")
    assert.include(r.stderr, "merged 2 runs from a, b")
    const merged = JSON.parse(readFileSync(out, "utf8"))
    assert.strictEqual(merged.stages[0].latency.count, 8)
    assert.strictEqual(merged.stages[0].latency.max, 2000)
    assert.deepStrictEqual(
      merged.settings.mergedFrom.map((m: { hostname: string }) => m.hostname),
      ["a", "b"]
    )
  })

  it("exits 1 when the merged run fails --assert", async () => {
    const r = await runAnalysisCli(["merge", a, b, "--assert", "p99<1000"])
    assert.strictEqual(r.code, 1)
    assert.include(r.stdout, "FAIL p99<1000 at conc 32: 2000")
  })

  it("names a missing or invalid file in a one-line error (exit 2)", async () => {
    const junk = write("junk.json", "{not json")
    const wrong = write("wrong.json", JSON.stringify({ schemaVersion: 2 }))
    const notResults = write("other.json", JSON.stringify({ schemaVersion: 1, stages: "no" }))
    for (const [file, detail] of [
      [path.join(dir, "missing.json"), "no such file"],
      [junk, "not JSON"],
      [wrong, "schemaVersion 2 is not supported"],
      [notResults, "not a nomyo-load results file"]
    ] as const) {
      const r = await runAnalysisCli(["merge", a, file])
      assert.strictEqual(r.code, 2, file)
      const failure = Exit.isFailure(r.exit) ? Cause.failureOption(r.exit.cause) : Option.none()
      const message = Option.isSome(failure) ? (failure.value as Error).message : ""
      assert.include(message, `results file ${file}: ${detail}`)
      assert.notInclude(message, "\n")
    }
  })

  it("exits 1 with a clear message when the runs are different ramps", async () => {
    const c = write("c.json", JSON.stringify(encodeRunResult(makeRun(ramp([[8, 10, 10]]), "c"))))
    const r = await runAnalysisCli(["merge", a, c])
    assert.strictEqual(r.code, 1)
    const failure = Exit.isFailure(r.exit) ? Cause.failureOption(r.exit.cause) : Option.none()
    assert.match(Option.isSome(failure) ? (failure.value as Error).message : "", /^cannot merge: stage 0 of .*c\.json is conc 8, .*a\.json conc 16/)
  })
})
