import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
// The package entry, as an Effect app or a CI job imports it.
import { LoadOptions, MockBackend, MockOptions, RampOptions, runRamp, runStage, type StageResult } from "../../src/index.ts"

describe("library API", () => {
  it.scopedLive("runs a ramp against the in-process mock without the CLI", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 5, tokens: 8, tokMs: 1 }))
      const ended: Array<StageResult> = []
      const load = LoadOptions.make({ url: mock.url, requests: 40, warmupSeconds: 0, expectTokens: 8 })
      const stages = yield* runRamp(RampOptions.make({ load, levels: [2, 4] }), { onStageEnd: (s) => void ended.push(s) })
      assert.strictEqual(stages.length, 2)
      assert.deepStrictEqual(
        stages.map((s) => s.concurrency),
        [2, 4]
      )
      for (const s of stages) {
        assert.strictEqual(s.requests, 40)
        assert.strictEqual(s.ok, 40)
        assert.strictEqual(s.errors, 0)
        assert.strictEqual(s.reportedTokens, 40 * 8)
        assert.isAtLeast(s.ttft.p50, 5)
        assert.isAbove(s.rps, 0)
      }
      assert.strictEqual(ended.length, 2, "onStageEnd once per stage")
    })
  )

  it.scopedLive("openai API, buffered, through the same entry points", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 4, tokMs: 0, models: ["alpha", "beta"] }))
      const s = yield* runStage(
        LoadOptions.make({ url: mock.url, api: "openai", stream: false, model: "beta", concurrency: 3, requests: 30, warmupSeconds: 0 })
      )
      assert.strictEqual(s.ok, 30)
      assert.strictEqual(s.ttft.count, 0, "no TTFT for buffered responses")
      assert.strictEqual(s.reportedTokens, 30 * 4)
    })
  )

  it.scopedLive("an unknown model is counted as http_404, not thrown", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 2, tokMs: 0 }))
      const s = yield* runStage(LoadOptions.make({ url: mock.url, model: "nope", concurrency: 2, requests: 10, warmupSeconds: 0 }))
      assert.strictEqual(s.ok, 0)
      assert.deepStrictEqual(s.errorsByClass, { http_404: 10 })
    })
  )
})
