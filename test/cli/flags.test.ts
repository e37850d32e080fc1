import { describe, it } from "@effect/vitest"
import { assert } from "@effect/vitest"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { VERSION } from "../../src/Version.ts"
import { ROOT, runCli } from "../support/Cli.ts"

const badFlags: ReadonlyArray<[ReadonlyArray<string>, string]> = [
  [["--concurrency", "0"], "--concurrency"],
  [["--concurrency", "-3"], "--concurrency"],
  [["--concurrency", "abc"], "--concurrency"],
  [["--ramp", "8,,x"], "--ramp"],
  [["--ramp", "8,0"], "--ramp"],
  [["--api", "grpc"], "--api"],
  [["--duration", "0"], "--duration"],
  [["--duration", "-1"], "--duration"],
  [["--timeout", "soon"], "--timeout"],
  [["--requests", "1.5"], "--requests"],
  [["--warmup", "-2"], "--warmup"],
  [["--url", "ftp://x"], "--url"],
  [["--mock-port", "70000"], "--mock-port"],
  [["--mock-tokens", "0"], "--mock-tokens"],
  [["--mock-slots", "-1"], "--mock-slots"],
  [["--mock-slots", "1.5"], "--mock-slots"],
  [["--serve-mock", "--mock-direct"], "--serve-mock"],
  [["--mock-direct", "--url", "http://127.0.0.1:1"], "--url"]
]

describe.concurrent("CLI input validation", () => {
  for (const [args, flag] of badFlags) {
    it(`rejects ${args.join(" ")} with exit 2 and a one-line message naming ${flag}`, async () => {
      const r = await runCli(args)
      assert.strictEqual(r.code, 2, `exit code; stderr: ${r.stderr}`)
      const text = (r.stdout + r.stderr).trim()
      assert.include(text, flag)
      assert.notInclude(text, "    at ", "no stack trace")
      assert.isAtMost(text.split("\n").filter((l) => l.trim().length > 0).length, 2)
    })
  }

  it("prints help listing every flag group and exits 0", async () => {
    const r = await runCli(["--help"])
    assert.strictEqual(r.code, 0)
    for (const flag of ["--url", "--api", "--no-stream", "--concurrency", "--duration", "--requests", "--warmup", "--timeout", "--model", "--prompt", "--ramp", "--json", "--serve-mock", "--mock-direct", "--mock-backend", "--mock-ttft-ms", "--mock-tokens", "--mock-tok-ms", "--mock-models", "--mock-port", "--mock-slots", "--mock-backends"]) {
      assert.include(r.stdout, flag)
    }
    // @effect/cli's generic line under every text flag is dropped; our descriptions remain.
    assert.notInclude(r.stdout, "A user-defined piece of text")
    assert.include(r.stdout, "[load] Router base URL to drive")
  })

  it("--version prints the package version", async () => {
    const r = await runCli(["--version"])
    assert.strictEqual(r.code, 0)
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"))
    assert.strictEqual(pkg.version, VERSION)
    assert.include(r.stdout, VERSION)
  })

  it("refuses a --json path whose folder does not exist before running anything", async () => {
    const r = await runCli(["--url", "http://127.0.0.1:9", "--json", "/nonexistent-dir/x/out.json", "--duration", "30"], { timeoutMs: 15_000 })
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "/nonexistent-dir/x/out.json")
    assert.include(r.stderr, "does not exist")
  })
})
