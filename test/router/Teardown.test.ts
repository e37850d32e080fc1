import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { collect, type CliRun, spawnCli } from "../support/Cli.ts"
import { fakeRouterCmd, isTsxCache, linkTsxCache, makeSandbox, ROOT, type Sandbox, stubbornRouterCmd, waitUntil } from "./helpers.ts"

/**
 * Teardown of a real `nomyo-load --mock-backend` process (the CLI under tsx, the test-double
 * router with two workers) on the paths that used to hang or leak: a router that ignores
 * SIGTERM with one Ctrl-C, a second Ctrl-C during that teardown, and SIGKILL of nomyo-load.
 */

const DENO = path.join(ROOT, "node_modules/.bin/deno")
const SLOW_MAIN = path.join(ROOT, "test/fixtures/slow-main.mjs")

const cliArgs = (routerCmd: string) => [
  "--mock-backend", "--router-cmd", routerCmd, "--router-workers", "2", "-c", "4",
  "--mock-ttft-ms", "5", "--mock-tokens", "8", "--mock-tok-ms", "2", "--warmup", "0", "--duration", "60"
]

/** Starts the CLI in a sandbox; resolves once the router is ready and all its processes run (fake router: parent + 2 workers). */
const startRun = async (sb: Sandbox, env: Record<string, string> = {}, opts: { readonly deno?: boolean; readonly routerCmd?: string } = {}) => {
  linkTsxCache(sb)
  const fullEnv = { ...process.env, NO_COLOR: "1", TMPDIR: sb.tmp, ...sb.env, ...env }
  const args = cliArgs(opts.routerCmd ?? fakeRouterCmd)
  const child: ChildProcess = opts.deno
    ? spawn(DENO, ["run", "-A", "src/bin.ts", ...args], { cwd: ROOT, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] })
    : spawnCli(args, fullEnv)
  let stderr = ""
  child.stderr!.on("data", (d) => (stderr += d))
  const done: Promise<CliRun> = collect(child, 90_000)
  const processes = opts.routerCmd === stubbornRouterCmd ? 1 : 3
  const ready = await waitUntil(() => /router ready/.test(stderr) && sb.pids().length >= processes, 60_000)
  assert.isTrue(ready, `router ready with ${processes} process(es); stderr: ${stderr}`)
  return { child, done, stderr: () => stderr }
}

const assertNothingLeft = (sb: Sandbox, what: string) => {
  const { alive, leftovers } = sb.leaks()
  assert.deepStrictEqual(alive, [], `router processes left alive; ${what}`)
  assert.deepStrictEqual(leftovers.filter((f) => !isTsxCache(f)), [], `temp files left; ${what}`)
}

/** Polls (up to 15 s) until no router process and no temp file is left; resolves with the ms it took. */
const waitClean = async (sb: Sandbox): Promise<number> => {
  const t0 = Date.now()
  const clean = await waitUntil(() => {
    const { alive, leftovers } = sb.leaks()
    return alive.length === 0 && leftovers.filter((f) => !isTsxCache(f)).length === 0
  }, 15_000)
  assert.isTrue(clean, `left after 15 s: ${JSON.stringify(sb.leaks())}`)
  return Date.now() - t0
}

/** Sends `signal` and waits for the exit: the result, the ms from the signal, and a description for messages. */
const signalAndWait = async (run: Awaited<ReturnType<typeof startRun>>, signal: NodeJS.Signals) => {
  const t0 = Date.now()
  run.child.kill(signal)
  const r = await run.done
  const ms = Date.now() - t0
  return { r, ms, what: `code ${r.code} signal ${r.signal} after ${ms} ms; stderr: ${r.stderr}` }
}

const sandboxed = (f: (sb: Sandbox) => Promise<void>) => async () => {
  const sb = makeSandbox({ setTmpdir: false })
  try {
    await f(sb)
  } finally {
    sb.dispose()
  }
}

describe("teardown reaches SIGKILL of the router's group on every path", () => {
  it(
    "one Ctrl-C, a router that ignores SIGTERM: SIGKILL after the 5 s grace, exit 130, nothing left",
    sandboxed(async (sb) => {
      // The case: `exec` makes the stubborn router the group leader itself (no sh to die of SIGTERM).
      const run = await startRun(sb, {}, { routerCmd: stubbornRouterCmd })
      const { ms, r, what } = await signalAndWait(run, "SIGINT")
      assert.strictEqual(r.code, 130, what)
      assertNothingLeft(sb, what)
      assert.isBelow(ms, 5000 + 4000, `then SIGKILL, not a hang; ${what}`)
      assert.isAtLeast(ms, 4500, `the grace was given first; ${what}`)
    }),
    120_000
  )

  it(
    "Ctrl-C again during that teardown: exit 130 at once, the group SIGKILLed, the temp folder gone",
    sandboxed(async (sb) => {
      const run = await startRun(sb, {}, { routerCmd: stubbornRouterCmd })
      run.child.kill("SIGINT")
      // The first signal's teardown is inside the 5 s grace once the stop is announced.
      assert.isTrue(await waitUntil(() => /stopping/.test(run.stderr()), 10_000), run.stderr())
      const { ms, r, what } = await signalAndWait(run, "SIGINT")
      assert.strictEqual(r.code, 130, what)
      assert.isBelow(ms, 3000, `no grace after the second signal; ${what}`)
      assert.match(r.stderr, /forced stop/, what)
      // Checked right at exit: the forced path does it synchronously, not the watchdog later.
      assertNothingLeft(sb, what)
    }),
    120_000
  )

  it(
    "SIGKILL of nomyo-load: the watchdog kills the router's group and deletes its temp folder within seconds",
    sandboxed(async (sb) => {
      const run = await startRun(sb)
      assert.strictEqual(sb.leaks().leftovers.filter((f) => f.startsWith("nomyo-load-router-")).length, 1, "the router's temp folder")
      const { r } = await signalAndWait(run, "SIGKILL")
      assert.strictEqual(r.signal, "SIGKILL")
      const ms = await waitClean(sb)
      assert.isBelow(ms, 5000, `cleaned up ${ms} ms after the SIGKILL`)
    }),
    120_000
  )

  it.skipIf(!existsSync(DENO))(
    "SIGKILL of nomyo-load under Deno: the same watchdog cleans up",
    sandboxed(async (sb) => {
      const run = await startRun(sb, {}, { deno: true })
      await signalAndWait(run, "SIGKILL")
      await waitClean(sb)
    }),
    120_000
  )
})

describe("signals while the CLI is still loading", () => {
  it(
    "a SIGINT while the modules load: 'interrupted', exit 130, nothing created",
    sandboxed(async (sb) => {
      const child = spawn(process.execPath, ["--import", "tsx", "--import", SLOW_MAIN, path.join(ROOT, "src/bin.ts"), ...cliArgs(fakeRouterCmd)], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: "1", TMPDIR: sb.tmp, ...sb.env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stderr = ""
      child.stderr.on("data", (d) => (stderr += d))
      const done = collect(child, 60_000)
      assert.isTrue(await waitUntil(() => /loading cli\/Main\.ts/.test(stderr), 60_000), stderr)
      const { r, what } = await signalAndWait({ child, done, stderr: () => stderr }, "SIGINT")
      assert.strictEqual(r.code, 130, what)
      assert.match(r.stderr, /interrupted \(SIGINT\)/, what)
      assert.deepStrictEqual(sb.pids(), [], "no router was started")
      assertNothingLeft(sb, what)
    }),
    120_000
  )
})
