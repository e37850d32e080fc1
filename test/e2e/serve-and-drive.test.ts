import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { RunResult } from "../../src/domain/Results.ts"
import { collect, runCli, spawnCli, waitForLine } from "../support/Cli.ts"

describe("end to end: --serve-mock in one process, drive mode in another", () => {
  it("drives the served mock, prints the table and writes schema-valid JSON", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nomyo-load-e2e-"))
    const server = spawnCli(["--serve-mock", "--mock-ttft-ms", "5", "--mock-tokens", "6", "--mock-tok-ms", "1", "--mock-models", "m1,m2"])
    const serverDone = collect(server, 60_000)
    try {
      const [, url] = await waitForLine(server, /listening on (http:\/\/127\.0\.0\.1:\d+)/)
      const json = path.join(dir, "out.json")
      const r = await runCli(["--url", url!, "--model", "m2", "--ramp", "2,4", "--requests", "30", "--warmup", "0.2", "--json", json])
      assert.strictEqual(r.code, 0, r.stderr)
      const lines = r.stdout.trim().split("\n")
      assert.match(lines[0]!, /conc\s+req\s+ok\s+err\s+req\/s\s+p50ms\s+p90ms\s+p99ms\s+maxms\s+ttftP50\s+ttftP99/)
      assert.match(lines[1]!, /^\s*2\s+30\s+30\s+0\s/)
      assert.match(lines[2]!, /^\s*4\s+30\s+30\s+0\s/)
      const parsed = await Effect.runPromise(Schema.decodeUnknown(RunResult)(JSON.parse(readFileSync(json, "utf8"))))
      assert.strictEqual(parsed.schemaVersion, 1)
      assert.strictEqual(parsed.stages.length, 2)
      assert.strictEqual(parsed.stages[1]!.reportedTokens, 30 * 6)
      assert.strictEqual(parsed.environment.tool, "nomyo-load")
      assert.isAbove(parsed.environment.cpus, 0)
    } finally {
      server.kill("SIGINT")
      const s = await serverDone
      rmSync(dir, { recursive: true, force: true })
      assert.strictEqual(s.code, 130, `serve-mock exits 130 on Ctrl-C; stderr: ${s.stderr}`)
    }
  })

  it("--mock-direct runs the main job on the built-in mock", async () => {
    const r = await runCli(["--mock-direct", "--ramp", "1,4", "--duration", "0.5", "--warmup", "0.2", "--api", "openai"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^\s*4\s+\d+\s+\d+\s+0\s/m)
  })

  it("Ctrl-C mid-stage prints what was measured, still writes --json, exits 130", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "nomyo-load-int-"))
    const json = path.join(dir, "partial.json")
    const child = spawnCli(["--mock-direct", "--ramp", "2,4", "--duration", "30", "--warmup", "0", "--json", json])
    const done = collect(child, 30_000)
    await waitForStderr(child, /mock backend \(in-process\) on/)
    // Let some requests complete inside the first window before interrupting.
    await new Promise((r) => setTimeout(r, 1000))
    child.kill("SIGINT")
    const r = await done
    try {
      assert.strictEqual(r.code, 130, r.stderr)
      assert.match(r.stdout, /^\s*2\*\s+\d+/m, "the cut stage is marked with *")
      const parsed = JSON.parse(readFileSync(json, "utf8"))
      assert.strictEqual(parsed.interrupted, true)
      assert.strictEqual(parsed.stages.length, 1)
      assert.strictEqual(parsed.stages[0].interrupted, true)
      assert.isAbove(parsed.stages[0].ok, 0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("an unreachable --url fails fast with a clear message and exit 1", async () => {
    const started = Date.now()
    const r = await runCli(["--url", "http://127.0.0.1:9", "--duration", "30", "--warmup", "0.5", "--timeout", "60"])
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "http://127.0.0.1:9")
    assert.include(r.stderr, "is the router running")
    assert.isBelow(Date.now() - started, 15_000)
  })
})

const waitForStderr = (child: ReturnType<typeof spawnCli>, re: RegExp) =>
  new Promise<void>((resolve, reject) => {
    let buf = ""
    const on = (d: Buffer) => {
      buf += d.toString()
      if (re.test(buf)) {
        child.stderr?.off("data", on)
        resolve()
      }
    }
    child.stderr?.on("data", on)
    child.once("exit", () => reject(new Error(`exited before ${re}: ${buf}`)))
  })
