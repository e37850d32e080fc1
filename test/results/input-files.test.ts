/**
 * Every command that reads results files (report, merge, compare) decodes them through the
 * results schema, histograms included: a bad file is one line naming the file (and the
 * field), exit 2, never a stack trace; nothing is written.
 */
import * as Command from "@effect/cli/Command"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Exit, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { compareCommand, mergeCommand } from "../../src/cli/AnalysisCommands.ts"
import { reportCommand } from "../../src/cli/ReportCommand.ts"
import { encodeRunResult } from "../../src/domain/Results.ts"
import { makeRun, ramp, runAnalysisCli } from "../analysis/Synthetic.ts"
import { runCli } from "../support/Cli.ts"

const root = Command.make("nomyo-load").pipe(Command.withSubcommands([mergeCommand, compareCommand, reportCommand]))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nomyo-input-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const write = (name: string, text: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

const good = encodeRunResult(makeRun(ramp([[8, 100, 400], [16, 180, 700]]))) as any
const goodText = JSON.stringify(good, null, 2)
const goodFile = write("good.json", goodText)

/** A valid file whose stage-1 latency histogram has damaged characters in its deflate stream. */
const corruptHdr = () => {
  const run = structuredClone(good)
  const hdr: string = run.stages[1].latency.hdr
  const mid = hdr.length >> 1
  run.stages[1].latency.hdr = hdr.slice(0, mid) + "AAAAAAAA" + hdr.slice(mid + 8)
  return write("corrupt-hdr.json", JSON.stringify(run))
}
/** A valid histogram that holds fewer samples than its summary's count. */
const countMismatch = () => {
  const run = structuredClone(good)
  run.stages[0].ttft.hdr = run.stages[1].ttft.count === run.stages[0].ttft.count ? run.stages[0].latency.hdr : run.stages[1].ttft.hdr
  run.stages[0].ttft.count = run.stages[0].ttft.count + 7
  return write("count-mismatch.json", JSON.stringify(run))
}

const bad: ReadonlyArray<readonly [name: string, file: () => string, detail: RegExp]> = [
  ["corrupt histogram", corruptHdr, /: not a nomyo-load results file \(at stages\.1\.latency\.hdr: the encoded HDR histogram is corrupt \(/],
  ["histogram/count mismatch", countMismatch, /at stages\.0\.ttft\.hdr: the HDR histogram holds \d+ samples but count is \d+/],
  ["truncated JSON", () => write("truncated.json", goodText.slice(0, goodText.length >> 1)), /: not JSON \(/],
  ["wrong schemaVersion", () => write("v2.json", JSON.stringify({ ...good, schemaVersion: 2 })), /: schemaVersion 2 is not supported/],
  ["not JSON (a multi-line text)", () => write("notes.txt", "hello\nworld\n"), /: not JSON \(/],
  ["missing file", () => path.join(dir, "missing.json"), /: no such file$/],
  ["a directory", () => fs.mkdtempSync(path.join(dir, "folder-")), /: is a folder, not a results file$/]
]

const failureMessage = (exit: Exit.Exit<unknown, unknown>): string => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  assert.isTrue(Option.isSome(failure), "a failure, not a defect")
  return String((Option.getOrThrow(failure) as Error).message)
}

describe("bad input files: one line naming the file, exit 2", () => {
  const out = path.join(dir, "out.html")
  const merged = path.join(dir, "merged.json")
  for (const [name, make, detail] of bad) {
    for (const command of ["report", "merge", "compare"] as const) {
      it(`${command}: ${name}`, async () => {
        const file = make()
        const argv =
          command === "report"
            ? ["report", file, "--html", out]
            : command === "merge"
              ? ["merge", goodFile, file, "--json", merged]
              : ["compare", goodFile, file]
        const r = await runAnalysisCli(argv, root)
        assert.strictEqual(r.code, 2)
        const message = failureMessage(r.exit)
        assert.isTrue(message.startsWith(`results file ${file}: `), message)
        assert.match(message, detail)
        assert.notInclude(message, "\n")
        assert.isFalse(fs.existsSync(out), "no report written")
        assert.isFalse(fs.existsSync(merged), "no merged file written")
      })
    }
  }

  it("a good file still reads, reports, merges and compares", async () => {
    assert.strictEqual((await runAnalysisCli(["report", goodFile, "--html", out], root)).code, 0)
    assert.strictEqual((await runAnalysisCli(["merge", goodFile, goodFile, "--json", merged], root)).code, 0)
    assert.strictEqual((await runAnalysisCli(["compare", goodFile, goodFile], root)).code, 0)
    fs.rmSync(out)
    fs.rmSync(merged)
  })

  it("an output path that is a folder is refused before any input is read (exit 2, naming the flag)", async () => {
    const folder = fs.mkdtempSync(path.join(dir, "out-"))
    const html = await runAnalysisCli(["report", goodFile, "--html", folder], root)
    assert.strictEqual(html.code, 2)
    assert.strictEqual(failureMessage(html.exit), `--html ${folder}: is a folder; give a file path`)
    const json = await runAnalysisCli(["merge", goodFile, path.join(dir, "missing.json"), "--json", folder], root)
    assert.strictEqual(json.code, 2)
    assert.strictEqual(failureMessage(json.exit), `--json ${folder}: is a folder; give a file path`)
    assert.deepStrictEqual(fs.readdirSync(folder), [])
  })

  it("the CLI prints exactly one line for a corrupt histogram (no hdr-histogram-js stack)", async () => {
    const file = corruptHdr()
    const r = await runCli(["report", file, "--html", path.join(dir, "cli.html")], { timeoutMs: 60_000 })
    assert.strictEqual(r.code, 2, r.stderr)
    const lines = r.stderr.trimEnd().split("\n")
    assert.lengthOf(lines, 1, r.stderr)
    assert.match(lines[0]!, /^nomyo-load: results file .*corrupt-hdr\.json: not a nomyo-load results file \(at stages\.1\.latency\.hdr: /)
  }, 90_000)
})
