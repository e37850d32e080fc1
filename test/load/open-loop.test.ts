import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { constantArrivals, poissonArrivals } from "../../src/load/Arrivals.ts"
import { LoadOptions, RampOptions } from "../../src/load/LoadOptions.ts"
import { runRamp, runStage } from "../../src/load/Stage.ts"
import * as MockBackend from "../../src/mock/MockBackend.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import { decodeHistogram } from "../../src/stats/Histogram.ts"

/** A buffered Ollama server that answers at once, except while it is "stalled". */
const stallingServer = Effect.acquireRelease(
  Effect.async<{ url: string; stallNext: (ms: number) => void; server: http.Server }>((resume) => {
    let stallMs = 0
    const server = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        const delay = stallMs
        stallMs = 0
        const answer = () => {
          res.setHeader("content-type", "application/json")
          res.end('{"model":"mock","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"x"},"done":true,"eval_count":1}\n')
        }
        if (delay > 0) setTimeout(answer, delay)
        else answer()
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(
        Effect.succeed({
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          stallNext: (ms: number) => void (stallMs = ms),
          server
        })
      )
    )
  }),
  ({ server }) => Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })
)

/** Requests of a stage slower than `ms`, from its latency HDR histogram. */
const slowerThan = (hdr: string, ms: number): number => {
  const h = decodeHistogram(hdr)
  if (h.maxValue <= ms * 1000) return 0
  // Bisect for the lowest percentile whose value exceeds `ms`.
  let lo = 0
  let hi = 100
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (h.getValueAtPercentile(mid) > ms * 1000) hi = mid
    else lo = mid
  }
  return Math.round((h.totalCount * (100 - hi)) / 100)
}

describe("arrival schedules", () => {
  it("constant gaps are 1000/rate ms", () => {
    const a = constantArrivals(40)
    assert.strictEqual(a.nextGapMs(), 25)
  })
  it("Poisson gaps have mean 1000/rate and the same seed gives the same schedule", () => {
    const a = poissonArrivals(100, 7)
    const b = poissonArrivals(100, 7)
    const c = poissonArrivals(100, 8)
    const xs = Array.from({ length: 20000 }, () => a.nextGapMs())
    const ys = Array.from({ length: 20000 }, () => b.nextGapMs())
    assert.deepStrictEqual(xs, ys)
    assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c.nextGapMs()))
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length
    assert.approximately(mean, 10, 0.3)
    // exponential: about e^-1 of the gaps exceed the mean
    assert.approximately(xs.filter((x) => x > 10).length / xs.length, Math.exp(-1), 0.02)
  })
})

describe("open loop", () => {
  it.scopedLive("sends rate × duration requests on schedule and counts them per window", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 2, tokens: 4, tokMs: 1 }))
      const s = yield* runStage(LoadOptions.make({ url: mock.url, rate: 50, durationSeconds: 2, warmupSeconds: 0.3, expectTokens: 4 }))
      assert.strictEqual(s.loadModel, "open")
      assert.strictEqual(s.rate, 50)
      // Constant arrivals: exactly one per 20 ms inside a 2 s window (±1 for the edge).
      assert.approximately(s.requests, 100, 1)
      assert.strictEqual(s.ok, s.requests)
      assert.strictEqual(s.lateStarts, 0)
      assert.approximately(s.achievedRate!, 50, 1)
      assert.isTrue(s.selfHealth!.ok, s.selfHealth!.warnings.join("; "))
      assert.isBelow(s.dispatchDelay!.p50, 5)
    })
  )

  it.scopedLive("--requests N in open loop sends exactly N measured requests", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 1, tokens: 2, tokMs: 0 }))
      const s = yield* runStage(LoadOptions.make({ url: mock.url, rate: 200, requests: 37, warmupSeconds: 0, arrival: "poisson", seed: 3 }))
      assert.strictEqual(s.requests, 37)
      assert.strictEqual(s.ok, 37)
    })
  )

  it.scopedLive("a ramp of rates runs one stage per rate", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 1, tokens: 2, tokMs: 0 }))
      const stages = yield* runRamp(
        RampOptions.make({ load: LoadOptions.make({ url: mock.url, durationSeconds: 1, warmupSeconds: 0.2 }), levels: [20, 60], vary: "rate" })
      )
      assert.deepStrictEqual(
        stages.map((s) => s.rate),
        [20, 60]
      )
      assert.approximately(stages[0]!.requests, 20, 1)
      assert.approximately(stages[1]!.requests, 60, 1)
    })
  )

  it.scopedLive("coordinated omission: a stall shows as latency of every request scheduled during it", () =>
    Effect.gen(function* () {
      const srv = yield* stallingServer
      const common = { url: srv.url, stream: false, durationSeconds: 2, warmupSeconds: 0.2, timeoutSeconds: 10 }
      // Closed loop, one client: the stall delays the client, which then sends nothing
      // during it, so only the one stalled request is slow.
      const closed = yield* Effect.gen(function* () {
        yield* Effect.fork(Effect.sleep("600 millis").pipe(Effect.zipRight(Effect.sync(() => srv.stallNext(600)))))
        return yield* runStage(LoadOptions.make({ ...common, concurrency: 1 }))
      })
      // Open loop at 50 req/s with one slot: every arrival during the 600 ms stall waits and
      // its latency runs from its scheduled time.
      const open = yield* Effect.gen(function* () {
        yield* Effect.fork(Effect.sleep("600 millis").pipe(Effect.zipRight(Effect.sync(() => srv.stallNext(600)))))
        return yield* runStage(LoadOptions.make({ ...common, rate: 50, maxInFlight: 1 }))
      })
      assert.strictEqual(slowerThan(closed.latency.hdr, 300), 1, "closed loop hides the stall behind one request")
      assert.isAtLeast(slowerThan(open.latency.hdr, 300), 10, "open loop shows it for every request scheduled during it")
      assert.isAtLeast(open.lateStarts, 20)
      assert.isAtLeast(open.latency.max, 550)
      // Waiting for the single slot is the target's slowness, not the driver's.
      assert.isTrue(open.selfHealth!.ok, open.selfHealth!.warnings.join("; "))
    })
  )

  it.scopedLive("self-health flags a driver whose event loop is blocked", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 1, tokens: 2, tokMs: 0 }))
      let blocker: ReturnType<typeof setInterval> | undefined
      const s = yield* runStage(LoadOptions.make({ url: mock.url, rate: 40, durationSeconds: 1.5, warmupSeconds: 0.2 }), {
        hooks: {
          // Simulates a driver that cannot keep up: 60 ms of busy work every 100 ms.
          onStageStart: () => {
            blocker = setInterval(() => {
              const until = performance.now() + 60
              while (performance.now() < until) {
                // busy
              }
            }, 100)
          },
          onStageEnd: () => clearInterval(blocker)
        }
      })
      clearInterval(blocker)
      assert.isFalse(s.selfHealth!.ok)
      assert.isAbove(s.selfHealth!.loopDelayP99Ms, 25)
      assert.match(s.selfHealth!.warnings.join(";"), /event-loop delay/)
    })
  )
})
