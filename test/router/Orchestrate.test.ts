import { existsSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as YAML from "yaml"
import { LoadOptions, RampOptions } from "../../src/load/LoadOptions.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import type { StageResult } from "../../src/domain/Results.ts"
import { peakConcurrency, runWithRouter } from "../../src/router/Orchestrate.ts"
import type { RouterExited } from "../../src/router/RouterErrors.ts"
import { RouterOptions } from "../../src/router/RouterOptions.ts"
import { groupAlive } from "../../src/router/RouterProcess.ts"
import { runCli } from "../support/Cli.ts"
import { fakeRouterCmd, isTsxCache, makeSandbox, type Sandbox } from "./helpers.ts"

const withSandbox = <A, E>(f: (sb: Sandbox) => Effect.Effect<A, E, any>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => makeSandbox()),
    f,
    (sb) => Effect.sync(() => sb.dispose())
  ).pipe(Effect.provide(NodeContext.layer)) as Effect.Effect<A, E, never>

const mock = MockOptions.make({ ttftMs: 5, tokens: 8, tokMs: 2 })
const ramp = (levels: readonly [number, ...Array<number>], load: Partial<ConstructorParameters<typeof LoadOptions>[0]> = {}) =>
  RampOptions.make({ load: LoadOptions.make({ durationSeconds: 0.8, warmupSeconds: 0.3, timeoutSeconds: 10, ...load }), levels })

const assertNoLeaks = (sb: Sandbox) => {
  const { alive, leftovers } = sb.leaks()
  assert.deepStrictEqual(alive, [], "router processes still alive")
  assert.deepStrictEqual(leftovers, [], "temp files left behind")
}

describe("peakConcurrency", () => {
  it("is the largest level, or the in-flight cap for rates", () => {
    assert.strictEqual(peakConcurrency(ramp([8, 32, 16])), 32)
    assert.strictEqual(peakConcurrency(RampOptions.make({ load: LoadOptions.make({ maxInFlight: 200 }), levels: [10, 50], vary: "rate" })), 200)
  })
})

describe("runWithRouter", () => {
  it.live("drives load through the router to the mock and tears everything down", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const info: Array<string> = []
        const r = yield* runWithRouter({
          mock,
          router: RouterOptions.make({ cmd: fakeRouterCmd, workers: 2, env: sb.env }),
          ramp: ramp([2, 4]),
          onInfo: (m) => info.push(m)
        })
        assert.strictEqual(r.stages.length, 2)
        for (const s of r.stages) {
          assert.isAbove(s.ok, 0)
          // The fake router answers by itself only when the mock is unreachable, with 4 tokens
          // instead of 8: no errors (no token_mismatch) proves every request went through the mock.
          assert.strictEqual(s.errors, 0, JSON.stringify(s.errorsByClass))
          assert.isTrue(s.url.startsWith(r.router.url))
        }
        assert.isAtLeast(r.mock.stats.requests, r.stages[0]!.ok + r.stages[1]!.ok)
        assert.strictEqual(r.router.maxConcurrentConnections, 4)
        assert.isFalse(r.router.kept)
        assert.match(info.join("\n"), /router ready at http:\/\/127\.0\.0\.1:\d+ \(pid \d+, 2 worker\(s\), max_concurrent_connections 4/)
        assert.strictEqual(sb.info().config.max_concurrent_connections, 4)
        assert.strictEqual(sb.pids().length, 3)
        assert.isFalse(groupAlive(r.router.pid))
        assertNoLeaks(sb)
      })
    )
  )

  it.live("several mock backends: all in the config's endpoints, and each stage shows how the router spread the load", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const ended: Array<StageResult> = []
        // One worker: the fake router's round robin is exact. No warmup: every answered request is counted.
        const r = yield* runWithRouter(
          {
            mock,
            mockBackends: 3,
            router: RouterOptions.make({ cmd: fakeRouterCmd, workers: 1, env: sb.env }),
            ramp: ramp([3, 6], { requests: 60, warmupSeconds: 0 })
          },
          { onStageEnd: (st) => ended.push(st) }
        )
        const urls = r.mocks.map((m) => m.url)
        assert.strictEqual(new Set(urls).size, 3)
        assert.deepStrictEqual(sb.info().config.endpoints, urls)
        assert.strictEqual(r.mock.url, urls[0])
        assert.deepStrictEqual(ended, [...r.stages], "the hooks see the same results, backends included")
        for (const st of r.stages) {
          assert.strictEqual(st.errors, 0, JSON.stringify(st.errorsByClass))
          assert.strictEqual(st.ok, 60)
          const b = st.backends!
          assert.deepStrictEqual(b.map((x) => x.url), urls)
          assert.deepStrictEqual(b.map((x) => x.requests), [20, 20, 20])
          assert.deepStrictEqual(b.map((x) => x.tokens), [160, 160, 160])
          for (const x of b) {
            assert.closeTo(x.share, 1 / 3, 1e-9)
            assert.isAtLeast(x.peakActive, 1)
            assert.isAtMost(x.peakActive, st.concurrency)
          }
        }
        const totals = r.mocks.map((m) => m.stats.requests)
        assert.deepStrictEqual(totals, [40, 40, 40])
        assertNoLeaks(sb)
      })
    )
  )

  it.live("--router-max-conc 2 is written to the config; the run still measures (the router never rejects)", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const r = yield* runWithRouter({
          mock,
          router: RouterOptions.make({ cmd: fakeRouterCmd, maxConc: 2, keepConfig: true, env: sb.env }),
          ramp: ramp([6], { api: "openai", stream: false })
        })
        assert.isTrue(r.router.kept)
        const written = YAML.parse(readFileSync(r.router.configPath, "utf8"))
        assert.strictEqual(written.max_concurrent_connections, 2)
        assert.strictEqual(r.router.maxConcurrentConnections, 2)
        assert.strictEqual(r.stages[0]!.errors, 0)
        assert.isAbove(r.stages[0]!.ok, 0)
        assert.isTrue(existsSync(r.router.tempDir))
        rmSync(r.router.tempDir, { recursive: true })
        assertNoLeaks(sb)
      })
    )
  )

  it.live("a router that dies mid-run fails the run at once with RouterExited; the partial stage is reported", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const ended: Array<StageResult> = []
        // Timed from the stage's start: the router's startup (slow on a busy box) is not what is bounded.
        let stageStart = 0
        const e = yield* runWithRouter(
          {
            mock,
            router: RouterOptions.make({ cmd: fakeRouterCmd, workers: 2, env: { ...sb.env, FAKE_ROUTER_CRASH_AFTER: "60" } }),
            ramp: ramp([4], { durationSeconds: 20, warmupSeconds: 0.2 })
          },
          { onStageStart: () => void (stageStart = Date.now()), onStageEnd: (s) => ended.push(s) }
        ).pipe(Effect.flip)
        const elapsed = Date.now() - stageStart
        assert.strictEqual(e._tag, "RouterExited")
        const x = e as RouterExited
        assert.strictEqual(x.phase, "run")
        assert.strictEqual(x.code, 3)
        assert.include(x.message, "simulated crash after 60 requests")
        assert.isBelow(elapsed, 8000, `ended ${elapsed} ms after the stage began, not after its 20 s window`)
        assert.strictEqual(ended.length, 1)
        assert.isTrue(ended[0]!.interrupted)
        assert.isAbove(ended[0]!.ok, 0)
        assertNoLeaks(sb)
      })
    )
  )

  it.live("a router that fails to start: the error carries its output, the mock and temp folder are gone", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const e = yield* runWithRouter({
          mock,
          router: RouterOptions.make({ cmd: fakeRouterCmd, env: { ...sb.env, FAKE_ROUTER_ACCEPTED_KEYS: "endpoints,max_concurrent_connections,cache_enabled,db_path" } }),
          ramp: ramp([2])
        }).pipe(Effect.flip)
        assert.strictEqual(e._tag, "RouterExited")
        assert.include(e.message, "conversation_affinity")
        assert.include(e.message, "Extra inputs are not permitted")
        assertNoLeaks(sb)
      })
    )
  )
})

/** As assertNoLeaks, for a CLI child run under tsx, whose compile cache lands in TMPDIR (tsx-N). */
const assertNoCliLeaks = (sb: Sandbox) => {
  const { alive, leftovers } = sb.leaks()
  assert.deepStrictEqual(alive, [], "router processes still alive")
  assert.deepStrictEqual(leftovers.filter((f) => !isTsxCache(f)), [], "temp files left behind")
}

describe("--mock-backends through the CLI", () => {
  it.live("prints the spread per stage, writes it to --json, and refuses bad combinations", () =>
    withSandbox((sb) =>
      Effect.promise(async () => {
        const json = path.join(sb.root, "run.json")
        const env = { ...sb.env, TMPDIR: sb.tmp }
        const r = await runCli(
          [
            "--mock-backend", "--mock-backends", "2", "--router-cmd", fakeRouterCmd,
            "--ramp", "2,4", "--requests", "24", "--warmup", "0",
            "--mock-ttft-ms", "5", "--mock-tokens", "8", "--mock-tok-ms", "2", "--json", json
          ],
          { env, timeoutMs: 60_000 }
        )
        assert.strictEqual(r.code, 0, r.stderr)
        assert.match(r.stdout, /requests per mock backend/)
        // One line per level: 12 requests (50.0%) on each of the two mocks (the fake router round-robins).
        assert.strictEqual(r.stdout.match(/12 \(50\.0%\) peak \d+\s+12 \(50\.0%\) peak \d+\s+1\.00\s+1\.000/g)?.length, 2, r.stdout)
        const run = JSON.parse(readFileSync(json, "utf8"))
        assert.strictEqual(run.settings.mockBackends, 2)
        for (const st of run.stages) {
          assert.deepStrictEqual(st.backends.map((b: { requests: number }) => b.requests), [12, 12])
          assert.deepStrictEqual(st.backends.map((b: { url: string }) => b.url), sb.info().config.endpoints)
        }
        assertNoCliLeaks(sb)

        for (const args of [
          ["--mock-backend", "--mock-backends", "2", "--compare-direct", "--router-cmd", fakeRouterCmd],
          ["--mock-direct", "--mock-backends", "2"]
        ]) {
          const bad = await runCli(args, { env })
          assert.strictEqual(bad.code, 2, bad.stderr)
          assert.match(bad.stderr, /--(compare-direct|mock-backends)/)
          assert.notMatch(bad.stderr, /\n\s+at /, "no stack trace")
        }
        assertNoCliLeaks(sb)
      })
    )
  )
})
