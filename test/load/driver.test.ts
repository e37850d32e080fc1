/**
 * The driver against the real mock backend (a correct server with known shaping): exact
 * counts, TTFT / inter-chunk latency that match the mock's ttftMs / tokMs, token accounting
 * for both APIs streamed and buffered, what a timed window counts, and a clean stop when the
 * stage fiber is interrupted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, SubscriptionRef } from "effect"
import { LoadOptions } from "../../src/load/LoadOptions.ts"
import { runStage, type StageSnapshot } from "../../src/load/Stage.ts"
import * as MockBackend from "../../src/mock/MockBackend.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import type { StageResult } from "../../src/domain/Results.ts"
import { eventually, latest } from "./Support.ts"

const round2 = (x: number) => Math.round(x * 100) / 100

describe("driver against the mock backend", () => {
  it.scopedLive("exact counts: 50 requests over 7 clients; TTFT, latency and tokens match the mock", () =>
    Effect.gen(function* () {
      const ttftMs = 20
      const tokens = 8
      const tokMs = 2
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs, tokens, tokMs }))
      const s = yield* runStage(LoadOptions.make({ url: mock.url, concurrency: 7, requests: 50, warmupSeconds: 0, expectTokens: tokens }))
      assert.strictEqual(s.requests, 50)
      assert.strictEqual(s.ok, 50)
      assert.strictEqual(s.errors, 0)
      assert.deepStrictEqual(s.errorsByClass, {})
      assert.strictEqual(s.concurrency, 7)
      assert.strictEqual(s.interrupted, false)
      // Every content chunk seen, every reported token summed.
      assert.strictEqual(s.outputChunks, 50 * tokens)
      assert.strictEqual(s.reportedTokens, 50 * tokens)
      assert.strictEqual(mock.stats().requests, 50, "the mock served exactly the counted requests")
      assert.strictEqual(mock.stats().tokensSent, 50 * tokens)
      // TTFT: the mock never answers early, and nothing here should add 150 ms.
      assert.strictEqual(s.ttft.count, 50)
      assert.isAtLeast(s.ttft.min, ttftMs)
      assert.isBelow(s.ttft.p50, ttftMs + 150)
      // Last byte: after TTFT, `tokens` tokens and the final line, tokMs apart.
      assert.strictEqual(s.latency.count, 50)
      assert.isAtLeast(s.latency.min, ttftMs + tokens * tokMs)
      assert.isAtLeast(s.ttfb.min, 0)
      // One gap between consecutive content chunks, per pair, per request.
      assert.strictEqual(s.itl.count, 50 * (tokens - 1))
      assert.strictEqual(s.tpot.count, 50)
      assert.isAbove(s.windowSeconds, 0)
      // windowSeconds is rounded to ms in the result, rps is computed before rounding.
      assert.approximately(s.rps, 50 / s.windowSeconds, s.rps * 0.01)
    })
  )

  for (const api of ["ollama", "openai"] as const) {
    it.scopedLive(`${api}: inter-chunk latency and TPOT follow a tokMs=10 stream`, () =>
      Effect.gen(function* () {
        const tokens = 10
        const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 5, tokens, tokMs: 10 }))
        const s = yield* runStage(
          LoadOptions.make({ url: mock.url, api, concurrency: 4, requests: 12, warmupSeconds: 0, expectTokens: tokens })
        )
        assert.strictEqual(s.ok, 12)
        assert.strictEqual(s.itl.count, 12 * (tokens - 1))
        assert.isAtLeast(s.itl.p50, 9)
        assert.isBelow(s.itl.p50, 30)
        assert.isAtLeast(s.tpot.p50, 9)
        assert.isBelow(s.tpot.p50, 30)
        assert.isAtLeast(s.ttft.min, 5)
        assert.isAtLeast(s.latency.min, 5 + tokens * 10)
      })
    )
  }

  for (const api of ["ollama", "openai"] as const) {
    for (const stream of [true, false]) {
      it.scopedLive(`${api}, ${stream ? "streamed" : "buffered"}: token accounting`, () =>
        Effect.gen(function* () {
          const tokens = 6
          const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 5, tokens, tokMs: 1 }))
          const s = yield* runStage(
            LoadOptions.make({ url: mock.url, api, stream, concurrency: 4, requests: 20, warmupSeconds: 0, expectTokens: tokens })
          )
          assert.strictEqual(s.api, api)
          assert.strictEqual(s.stream, stream)
          assert.strictEqual(s.requests, 20)
          assert.strictEqual(s.ok, 20)
          assert.deepStrictEqual(s.errorsByClass, {})
          assert.strictEqual(s.reportedTokens, 20 * tokens, "server counts: eval_count / usage.completion_tokens")
          // A buffered body is one content chunk; TTFT and gaps exist only for streams.
          assert.strictEqual(s.outputChunks, stream ? 20 * tokens : 20)
          assert.strictEqual(s.ttft.count, stream ? 20 : 0)
          assert.strictEqual(s.itl.count, stream ? 20 * (tokens - 1) : 0)
          assert.strictEqual(s.latency.count, 20)
          assert.isAtLeast(s.latency.min, 5 + tokens * 1)
          assert.strictEqual(mock.stats().requests, 20)
        })
      )
    }
  }

  it.scopedLive("a timed window counts the requests started inside it, in-flight ones included", () =>
    Effect.gen(function* () {
      // Each response takes at least ttft + tokens × tokMs + one tokMs for the final line = 110 ms.
      const minRequestMs = 110
      const concurrency = 4
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 10, tokMs: 10 }))
      const s = yield* runStage(
        LoadOptions.make({ url: mock.url, concurrency, durationSeconds: 1, warmupSeconds: 0.3, expectTokens: 10 })
      )
      assert.strictEqual(s.windowSeconds, 1)
      assert.strictEqual(s.rps, round2(s.requests / 1))
      assert.strictEqual(s.okRps, round2(s.ok / 1))
      assert.strictEqual(s.ok, s.requests)
      assert.isAbove(s.warmupRequests, 0)
      // Every request the mock served was either warmup or counted: none started after the
      // window closed, and none still in flight at the close was dropped.
      assert.strictEqual(mock.stats().requests, s.requests + s.warmupRequests)
      // A client starts at most ceil(1000 / minRequestMs) requests in 1 s of window.
      assert.isAtMost(s.requests, concurrency * Math.ceil(1000 / minRequestMs))
      assert.isAtLeast(s.requests, concurrency * 3)
      // The drain waits only for requests that were in flight at the close (< one request long, plus slack).
      assert.isAtMost(s.drainSeconds, 0.4)
    })
  )

  it.scopedLive("interrupting the stage fiber mid-window reports interrupted and leaves nothing running", () =>
    Effect.gen(function* () {
      // 2-second streams: every request is in flight when the interrupt arrives.
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 200, tokMs: 10 }))
      const ended: Array<StageResult> = []
      let snapshots: SubscriptionRef.SubscriptionRef<StageSnapshot> | undefined
      const fiber = yield* Effect.fork(
        runStage(LoadOptions.make({ url: mock.url, concurrency: 4, durationSeconds: 30, warmupSeconds: 0 }), {
          hooks: { onStageStart: (info) => void (snapshots = info.snapshots), onStageEnd: (r) => void ended.push(r) }
        })
      )
      yield* eventually("4 streams open at the mock", () => mock.stats().activeStreams === 4)
      // Snapshots come once a second: wait for one that has seen the 4 requests.
      yield* eventually("a snapshot with 4 in flight", () => latest(snapshots).inFlight === 4, 3000)
      assert.strictEqual(latest(snapshots).phase, "measure")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.strictEqual(ended.length, 1, "onStageEnd exactly once")
      const r = ended[0]!
      assert.strictEqual(r.interrupted, true)
      // Aborted requests are not results: neither ok nor errors.
      assert.strictEqual(r.requests, 0)
      assert.deepStrictEqual(r.errorsByClass, {})
      // The last snapshot: nothing in flight, done.
      assert.strictEqual(latest(snapshots).inFlight, 0)
      assert.strictEqual(latest(snapshots).phase, "done")
      // And the server sees every stream abandoned (connections closed), promptly.
      yield* eventually("the mock's streams closed", () => mock.stats().activeStreams === 0, 1000)
      assert.strictEqual(mock.stats().requests, 0)
    })
  )

  it.scopedLive("an interrupted stage reports what completed, without counting the aborted ones as errors", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 5, tokMs: 10 }))
      const ended: Array<StageResult> = []
      let snapshots: SubscriptionRef.SubscriptionRef<StageSnapshot> | undefined
      const fiber = yield* Effect.fork(
        runStage(LoadOptions.make({ url: mock.url, concurrency: 3, durationSeconds: 30, warmupSeconds: 0, expectTokens: 5 }), {
          hooks: { onStageStart: (info) => void (snapshots = info.snapshots), onStageEnd: (r) => void ended.push(r) }
        })
      )
      yield* eventually("10 requests done", () => snapshots !== undefined && latest(snapshots).ok >= 10, 5000)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(ended.length, 1)
      const r = ended[0]!
      assert.isTrue(r.interrupted)
      assert.isAtLeast(r.requests, 10)
      assert.strictEqual(r.ok, r.requests)
      assert.strictEqual(r.errors, 0)
      assert.strictEqual(r.outputChunks, r.ok * 5)
      // The window of an interrupted stage runs to its last completion, not to the 30 s asked for.
      assert.isAbove(r.windowSeconds, 0)
      assert.isBelow(r.windowSeconds, 6)
      assert.strictEqual(latest(snapshots).inFlight, 0)
      yield* eventually("the mock's streams closed", () => mock.stats().activeStreams === 0, 1000)
      // The mock may have finished a response whose end the stopped client never read.
      assert.isAtLeast(mock.stats().requests, r.requests)
    })
  )
})
