import { assert, describe, it } from "@effect/vitest"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { spawn } from "node:child_process"
import { collect, ROOT } from "../support/Cli.ts"

const DENO = path.join(ROOT, "node_modules/.bin/deno")
const PERMS = ["--allow-net", "--allow-read", "--allow-write", "--allow-run", "--allow-env", "--allow-sys"]

const deno = (args: ReadonlyArray<string>) =>
  collect(spawn(DENO, ["run", ...PERMS, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] }), 60_000)

/** `deno task NAME …` as the README says to run it. The task runs a second deno process, so it
 * gets its own process group and the group is killed afterwards: a hang cannot leave it behind. */
const denoTask = async (args: ReadonlyArray<string>) => {
  const child = spawn(DENO, ["task", ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  try {
    return await collect(child, 60_000)
  } finally {
    try {
      process.kill(-child.pid!, "SIGKILL")
    } catch {
      // the group has already exited
    }
  }
}

describe.skipIf(!existsSync(DENO))("Deno 2", () => {
  it("the CLI drives the in-process mock", async () => {
    const r = await deno(["src/bin.ts", "--mock-direct", "--ramp", "2,4", "--requests", "20", "--warmup", "0"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^\s*2\s+20\s+20\s+0\s/m)
    assert.match(r.stdout, /^\s*4\s+20\s+20\s+0\s/m)
  })

  it("the library API runs a ramp", async () => {
    const r = await deno(["test/fixtures/deno-library.ts"])
    assert.strictEqual(r.code, 0, r.stderr)
    const stages = JSON.parse(r.stdout.trim().split("\n").pop()!)
    assert.deepStrictEqual(stages, [
      { concurrency: 1, ok: 25, errors: 0, tokens: 125 },
      { concurrency: 3, ok: 25, errors: 0, tokens: 125 }
    ])
  })

  // Inside a task a bare `deno` resolves to node_modules/.bin/deno and is run as a script
  // (denoland/deno#27114): these fail with "SyntaxError … node_modules/deno/deno:1:1" then.
  it("deno task smoke runs the CLI on the in-process mock", async () => {
    const r = await denoTask(["smoke"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^\s*4\s+20\s+20\s+0\s/m)
  })

  it("deno task nomyo-load passes its arguments to the CLI", async () => {
    const r = await denoTask(["nomyo-load", "--help"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "--mock-direct")
    const bad = await denoTask(["nomyo-load", "--concurrency", "0"])
    assert.strictEqual(bad.code, 2, bad.stderr)
    assert.include(bad.stdout + bad.stderr, "--concurrency")
  })

  it("bad flags exit 2 under Deno too", async () => {
    const r = await deno(["src/bin.ts", "--concurrency", "0"])
    assert.strictEqual(r.code, 2)
    assert.include(r.stdout + r.stderr, "--concurrency")
  })
})
