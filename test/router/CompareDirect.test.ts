import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { routerOverhead } from "../../src/analysis/Overhead.ts"
import { LoadOptions, RampOptions } from "../../src/load/LoadOptions.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import type { StageResult } from "../../src/domain/Results.ts"
import { runWithRouter } from "../../src/router/Orchestrate.ts"
import { RouterOptions } from "../../src/router/RouterOptions.ts"
import { fakeRouterCmd, makeSandbox } from "./helpers.ts"

describe("--compare-direct: router overhead in one run", () => {
  it.live("runs every stage through the router and directly against the mock, aligned by index", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => makeSandbox()),
      (sb) =>
        Effect.gen(function* () {
          const ended: Array<StageResult> = []
          const r = yield* runWithRouter(
            {
              mock: MockOptions.make({ ttftMs: 5, tokens: 6, tokMs: 2 }),
              router: RouterOptions.make({ cmd: fakeRouterCmd, env: sb.env }),
              ramp: RampOptions.make({ load: LoadOptions.make({ requests: 40, warmupSeconds: 0.2 }), levels: [2, 4] }),
              compareDirect: true
            },
            { onStageEnd: (s) => void ended.push(s) }
          )
          assert.strictEqual(r.stages.length, 2)
          assert.strictEqual(r.directStages!.length, 2)
          // Hooks see only the stages through the router.
          assert.strictEqual(ended.length, 2)
          for (let i = 0; i < 2; i++) {
            const via = r.stages[i]!
            const direct = r.directStages![i]!
            assert.strictEqual(via.concurrency, direct.concurrency)
            assert.strictEqual(via.ok, 40)
            assert.strictEqual(direct.ok, 40)
            assert.isTrue(via.url.startsWith(r.router.url))
            assert.strictEqual(direct.url, r.mock.url)
          }
          const overhead = routerOverhead(r.stages, r.directStages!)
          assert.deepStrictEqual(
            overhead.map((o) => o.level),
            [2, 4]
          )
          // The fake router is a real extra hop: it cannot make requests faster on the whole.
          for (const o of overhead) {
            assert.isAbove(o.rpsRatio, 0)
            assert.approximately(o.p50DeltaMs, r.stages[o.index]!.latency.p50 - r.directStages![o.index]!.latency.p50, 0.001)
          }
          const { alive, leftovers } = sb.leaks()
          assert.deepStrictEqual(alive, [])
          assert.deepStrictEqual(leftovers, [])
        }).pipe(Effect.provide(NodeContext.layer)),
      (sb) => Effect.sync(() => sb.dispose())
    )
  )
})
