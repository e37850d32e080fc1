import { existsSync, readFileSync, rmSync } from "node:fs"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as YAML from "yaml"
import { LoadOptions, RampOptions } from "../../src/load/LoadOptions.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import type { StageResult } from "../../src/results/Results.ts"
import { peakConcurrency, runWithRouter } from "../../src/router/Orchestrate.ts"
import type { RouterExited } from "../../src/router/RouterErrors.ts"
import { RouterOptions } from "../../src/router/RouterOptions.ts"
import { groupAlive } from "../../src/router/RouterProcess.ts"
import { fakeRouterCmd, makeSandbox, mockImplemented, NEEDS_MOCK, type Sandbox } from "./helpers.ts"

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

describe.skipIf(!mockImplemented)(`runWithRouter ${mockImplemented ? "" : NEEDS_MOCK}`, () => {
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
        const t0 = Date.now()
        const e = yield* runWithRouter(
          {
            mock,
            router: RouterOptions.make({ cmd: fakeRouterCmd, workers: 2, env: { ...sb.env, FAKE_ROUTER_CRASH_AFTER: "60" } }),
            ramp: ramp([4], { durationSeconds: 20, warmupSeconds: 0.2 })
          },
          { onStageEnd: (s) => ended.push(s) }
        ).pipe(Effect.flip)
        const elapsed = Date.now() - t0
        assert.strictEqual(e._tag, "RouterExited")
        const x = e as RouterExited
        assert.strictEqual(x.phase, "run")
        assert.strictEqual(x.code, 3)
        assert.include(x.message, "simulated crash after 60 requests")
        assert.isBelow(elapsed, 8000, "ended at once, not after the 20 s window")
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
