import { spawn } from "node:child_process"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { mulberry32 } from "../../src/load/Arrivals.ts"
import { fakeRouterCmd, isTsxCache, linkTsxCache, makeSandbox, ORCHESTRATE_MAIN, limiter, ROOT, spawnWatched, waitUntil } from "./helpers.ts"

/**
 * SIGINT / SIGTERM to nomyo-load at random moments (seeded, so a failure can be replayed): during
 * process start, while the router starts, during warmup, mid-stage. After every trial no process
 * of the router's group may be alive and the trial's TMPDIR must be empty.
 */

type Phase = "boot" | "router-start" | "warmup" | "stage"
interface Trial {
  readonly n: number
  readonly phase: Phase
  readonly signal: NodeJS.Signals
  readonly delayMs: number
  readonly cli: boolean
}

// mulberry32: a tiny seeded PRNG.
const SEED = Number(process.env["NOMYO_TRIAL_SEED"] ?? 20261128)
const rng = mulberry32(SEED)

const phases: ReadonlyArray<Phase> = ["boot", "router-start", "warmup", "stage"]
const delayFor = (phase: Phase): number => {
  const r = rng()
  switch (phase) {
    case "boot":
      return Math.round(200 + r * 2800) // from spawn: before runMain installs its handlers, or while mock and router start
    case "router-start":
      return Math.round(r * 600) // after the router's pid appears; it binds after 1 s
    case "warmup":
      return Math.round(r * 250) // after "router ready"; warmup is 0.3 s
    case "stage":
      return Math.round(300 + r * 600) // after stage-start: past the 0.3 s warmup, inside the 1 s window
  }
}

const ORCH_TRIALS = 24
const trials: Array<Trial> = Array.from({ length: ORCH_TRIALS }, (_, n) => {
  const phase = phases[n % phases.length]!
  // Alternate the signal within each phase too.
  const signal: NodeJS.Signals = (n + Math.floor(n / phases.length)) % 2 === 0 ? "SIGINT" : "SIGTERM"
  return { n, phase, signal, delayMs: delayFor(phase), cli: false }
})

// A few through the CLI (src/bin.ts) as well.
const CLI_TRIALS = 4
const cliTrials: Array<Trial> = Array.from({ length: CLI_TRIALS }, (_, i) => {
  const phase: Phase = i % 2 === 0 ? "router-start" : "stage"
  return { n: ORCH_TRIALS + i, phase, signal: i % 2 === 0 ? "SIGTERM" : "SIGINT", delayMs: delayFor(phase), cli: true }
})

const limit = limiter(3)

interface Outcome {
  readonly trial: Trial
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Whether the phase's trigger was seen (else the signal went out at the bound). */
  readonly triggered: boolean
  /** ms from our signal to the process's exit (undefined if it ended before the signal). */
  readonly stopMs: number | undefined
  readonly routerPids: Array<number>
  readonly alive: Array<number>
  readonly leftovers: Array<string>
}
const outcomes: Array<Outcome> = []

const runTrial = (t: Trial): Promise<Outcome> =>
  limit(async () => {
    const sb = makeSandbox({ setTmpdir: false })
    linkTsxCache(sb)
    try {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        NO_COLOR: "1",
        TMPDIR: sb.tmp,
        FAKE_ROUTER_PID_FILE: sb.pidFile,
        ...(t.phase === "router-start" ? { FAKE_ROUTER_STARTUP_DELAY_MS: "1000" } : {})
      }
      const args = t.cli
        ? [
            "--import", "tsx", path.join(ROOT, "src/bin.ts"),
            "--mock-backend", "--router-cmd", fakeRouterCmd, "--router-workers", "2",
            "--concurrency", "4", "--duration", "1", "--warmup", "0.3", "--mock-ttft-ms", "5", "--mock-tokens", "8", "--mock-tok-ms", "2"
          ]
        : ["--import", "tsx", ORCHESTRATE_MAIN, "--levels", "3", "--duration", "1", "--warmup", "0.3", "--workers", "2"]
      const w = spawnWatched(args, env)
      const { child, running } = w

      // Wait for the trigger (bounded), then the random delay.
      const trigger: () => boolean =
        t.phase === "boot"
          ? () => true
          : t.phase === "router-start"
            ? () => sb.pids().length > 0
            : t.phase === "warmup"
              ? () => /router ready/.test(w.stdout()) || (t.cli && sb.pids().length > 0)
              : () => /stage-start 0/.test(w.stdout()) || (t.cli && sb.pids().length > 0 && /router|mock/i.test(w.stdout() + w.stderr()))
      // Bounded generously (a busy 2-core box starts slowly); a trigger never reached fails the trial.
      const triggered = await waitUntil(() => trigger() || !running(), 60_000, 10)
      await new Promise((r) => setTimeout(r, t.delayMs))
      let sentAt: number | undefined
      if (running()) {
        sentAt = Date.now()
        child.kill(t.signal)
      }
      const hardStop = setTimeout(() => child.kill("SIGKILL"), 20_000)
      const [code, signal] = await w.exited
      clearTimeout(hardStop)
      const { alive, leftovers } = sb.leaks()
      return {
        trial: t,
        code,
        signal,
        stdout: w.stdout(),
        stderr: w.stderr(),
        stopMs: sentAt !== undefined ? w.exitedAt() - sentAt : undefined,
        triggered,
        routerPids: sb.pids(),
        alive,
        leftovers: leftovers.filter((f) => !isTsxCache(f))
      }
    } finally {
      sb.dispose()
    }
  })

const describeOutcome = (o: Outcome) =>
  `trial ${o.trial.n} (${o.trial.cli ? "cli" : "runWithRouter"}, ${o.trial.phase} +${o.trial.delayMs} ms, ${o.trial.signal}, seed ${SEED}): ` +
  `code ${o.code} signal ${o.signal} stop ${o.stopMs} ms pids [${o.routerPids}]\nstdout:\n${o.stdout}\nstderr:\n${o.stderr}`

const check = (o: Outcome) => {
  const what = describeOutcome(o)
  assert.isTrue(o.triggered, `the trial's phase was never reached; ${what}`)
  assert.deepStrictEqual(o.alive, [], `router processes left alive; ${what}`)
  assert.deepStrictEqual(o.leftovers, [], `temp files left behind; ${what}`)
  assert.isDefined(o.stopMs, `the run ended before the signal; ${what}`)
  assert.isBelow(o.stopMs!, 8000, `slow stop; ${what}`)
  if (o.trial.phase === "boot") {
    // Before runMain installs its handlers the default action kills Node; nothing was spawned yet then.
    assert.isTrue(o.code === 130 || o.signal === o.trial.signal, what)
    if (o.signal !== null) assert.deepStrictEqual(o.routerPids, [], what)
  } else {
    assert.strictEqual(o.code, 130, what)
    assert.isAtLeast(o.routerPids.length, 1, `the router had started; ${what}`)
  }
  // The signal landed in the phase the trial was meant for (not merely: the table lists every phase).
  if (o.trial.phase === "router-start") assert.notMatch(o.stdout + o.stderr, /router ready/, `signalled before the router was ready; ${what}`)
  if ((o.trial.phase === "warmup" || o.trial.phase === "stage") && !o.trial.cli) {
    assert.match(o.stdout, /router ready/, what)
    assert.match(o.stdout, /stage-end 0 interrupted=true/, `the first stage was interrupted; ${what}`)
  }
}

describe.concurrent("signals at random moments leave nothing behind", () => {
  afterAll(() => {
    const stops = outcomes.filter((o) => o.stopMs !== undefined).map((o) => o.stopMs!)
    if (stops.length > 0 && process.env["NOMYO_TRIAL_SUMMARY"]) {
      stops.sort((a, b) => a - b)
      console.log(`signal trials: ${outcomes.length}, stop ms min ${stops[0]} median ${stops[Math.floor(stops.length / 2)]} max ${stops[stops.length - 1]}`)
      for (const o of outcomes) console.log(`  #${o.trial.n} ${o.trial.cli ? "cli" : "lib"} ${o.trial.phase} +${o.trial.delayMs} ${o.trial.signal} -> code ${o.code} sig ${o.signal} stop ${o.stopMs} ms, ${o.routerPids.length} router pids`)
    }
  })

  for (const t of trials) {
    it(`#${t.n} ${t.signal} during ${t.phase} (+${t.delayMs} ms)`, async () => {
      const o = await runTrial(t)
      outcomes.push(o)
      check(o)
    }, 120_000)
  }

  for (const t of cliTrials) {
    it(`#${t.n} CLI --mock-backend: ${t.signal} during ${t.phase} (+${t.delayMs} ms)`, async () => {
      const o = await runTrial(t)
      outcomes.push(o)
      check(o)
    }, 120_000)
  }

  it("a second signal during a slow teardown SIGKILLs the router at once", async () => {
    const sb = makeSandbox({ setTmpdir: false })
    linkTsxCache(sb)
    try {
      const env = { ...process.env, TMPDIR: sb.tmp, FAKE_ROUTER_PID_FILE: sb.pidFile, FAKE_ROUTER_IGNORE_SIGTERM: "1" }
      const child = spawn(process.execPath, ["--import", "tsx", ORCHESTRATE_MAIN, "--levels", "2", "--duration", "5", "--grace", "20"], {
        cwd: ROOT,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d) => (stdout += d))
      child.stderr.on("data", (d) => (stderr += d))
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("exit", (code, signal) => resolve([code, signal])))
      assert.isTrue(await waitUntil(() => /stage-start 0/.test(stdout), 60_000), stdout)
      child.kill("SIGINT")
      // The router ignores SIGTERM and the grace is 20 s: the first signal alone would wait it out.
      await new Promise((r) => setTimeout(r, 500))
      const t0 = Date.now()
      child.kill("SIGINT")
      const hardStop = setTimeout(() => child.kill("SIGKILL"), 20_000)
      const [code, signal] = await exited
      clearTimeout(hardStop)
      const stopMs = Date.now() - t0
      assert.strictEqual(code, 130, `exit signal ${signal}; stdout: ${stdout}; stderr: ${stderr}`)
      assert.isBelow(stopMs, 3000, `stopped ${stopMs} ms after the second signal`)
      const { alive, leftovers } = sb.leaks()
      assert.deepStrictEqual(alive, [])
      assert.deepStrictEqual(leftovers.filter((f) => !isTsxCache(f)), [])
    } finally {
      sb.dispose()
    }
  }, 120_000)

})
