/**
 * The engine's shape (issue 10 item 3-5, issue 9 items 5-6): client fibers that interruption
 * cuts at once in any phase, an open loop whose backlog is O(1) at any rate, one connection
 * per virtual client (thousands start and stop promptly), sub-millisecond timeouts that never
 * starve the event loop, snapshots with a timeline that sums to the stage, hooks that may
 * return Effects, and the open-file check.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream, SubscriptionRef } from "effect"
import { LoadOptions } from "../../src/load/LoadOptions.ts"
import { openFileLimit } from "../../src/load/OpenFiles.ts"
import { combineHooks, runStage, type StagePhase, type StageSnapshot } from "../../src/load/Stage.ts"
import * as MockBackend from "../../src/mock/MockBackend.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import type { StageResult } from "../../src/domain/Results.ts"
import * as BrokenServer from "../support/BrokenServer.ts"
import { TOKENS } from "../support/BrokenServer.ts"
import { eventually, latest, timed } from "./Support.ts"

/** Runs a stage in a fiber, keeping what its hooks saw. */
const forkStage = (options: LoadOptions) =>
  Effect.gen(function* () {
    const ended: Array<StageResult> = []
    let snapshots: SubscriptionRef.SubscriptionRef<StageSnapshot> | undefined
    const fiber = yield* Effect.fork(
      runStage(options, {
        hooks: { onStageStart: (info) => void (snapshots = info.snapshots), onStageEnd: (r) => void ended.push(r) }
      })
    )
    return { fiber, ended, snapshot: () => (snapshots === undefined ? undefined : latest(snapshots)) }
  })

describe("engine", () => {
  it.scopedLive("interrupted during warmup (--warmup 20 -c 2): the stage ends at once, stagger sleep included", () =>
    Effect.gen(function* () {
      // 1 s streams; the second client sleeps 5 s (a quarter of the warmup) before its first request.
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 100, tokMs: 10 }))
      const { fiber, ended } = yield* forkStage(LoadOptions.make({ url: mock.url, concurrency: 2, warmupSeconds: 20, durationSeconds: 5 }))
      yield* eventually("the first client's stream is open", () => mock.stats().activeStreams === 1)
      const { ms } = yield* timed(Fiber.interrupt(fiber))
      // Typically ~0.1 s; the bound leaves room for a loaded box (the old driver took the 5 s stagger).
      assert.isBelow(ms, 2000, `interrupt took ${ms.toFixed(0)} ms`)
      assert.strictEqual(ended.length, 1)
      assert.isTrue(ended[0]!.interrupted)
      yield* eventually("the mock's stream closed", () => mock.stats().activeStreams === 0, 2000)
    })
  )

  it.scopedLive("open loop at an absurd rate against a slow server: bounded memory, late starts, in flight capped, prompt stop", () =>
    Effect.gen(function* () {
      const maxInFlight = 20
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 10, tokMs: 50 }))
      const heap0 = process.memoryUsage().heapUsed
      const { fiber, ended, snapshot } = yield* forkStage(
        // Past the Schema's bound (1e6 req/s) on purpose: the engine must survive what a caller
        // that skips validation hands it.
        LoadOptions.make({ url: mock.url, rate: 1e8, maxInFlight, warmupSeconds: 0, durationSeconds: 30, timeoutSeconds: 10 }, { disableValidation: true })
      )
      // Every second at 1e8 arrivals/s puts the schedule 1e8 arrivals behind: only a pointer may hold them.
      yield* eventually("a measured request ended", () => (snapshot()?.ok ?? 0) > 0, 15_000)
      const grownMiB = (process.memoryUsage().heapUsed - heap0) / 1048576
      assert.isBelow(grownMiB, 64, `heap grew ${grownMiB.toFixed(1)} MiB`)
      assert.isAtMost(mock.stats().peakActiveStreams, maxInFlight)
      const { ms } = yield* timed(Fiber.interrupt(fiber))
      assert.isBelow(ms, 2000, `interrupt took ${ms.toFixed(0)} ms`)
      const r = ended[0]!
      assert.isTrue(r.interrupted)
      assert.isAbove(r.lateStarts, 0, "arrivals waited for permits")
      assert.isAtMost(r.peakInFlight, maxInFlight)
      yield* eventually("the mock's streams closed", () => mock.stats().activeStreams === 0, 2000)
    })
  )

  it.scopedLive("2,000 concurrent clients against the in-process mock start and stop promptly", () =>
    Effect.gen(function* () {
      const clients = 2000
      // Streams that stay open without tokens: the mock shares this process (and its one core).
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 60_000, tokens: 1, tokMs: 0 }))
      const t0 = performance.now()
      const { fiber, ended } = yield* forkStage(LoadOptions.make({ url: mock.url, concurrency: clients, warmupSeconds: 0, durationSeconds: 30 }))
      yield* eventually(`${clients} streams open at the mock`, () => mock.stats().activeStreams === clients, 20_000)
      const startMs = performance.now() - t0
      const { ms } = yield* timed(Fiber.interrupt(fiber))
      // Both ends of 2,000 connections close in this one process: a bound for a loaded box.
      assert.isBelow(ms, 3000, `interrupt took ${ms.toFixed(0)} ms (start took ${startMs.toFixed(0)} ms)`)
      assert.isTrue(ended[0]!.interrupted)
      yield* eventually("every stream closed", () => mock.stats().activeStreams === 0, 5000)
    }),
    40_000
  )

  for (const timeoutSeconds of [0.001, 0.0001]) {
    it.scopedLive(`--timeout ${timeoutSeconds * 1000} ms: timers keep running, every request is a timeout, interruption is prompt`, () =>
      Effect.gen(function* () {
        const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 5, tokMs: 10 }))
        let ticks = 0
        const timer = setInterval(() => ticks++, 10)
        yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
        const { fiber, ended } = yield* forkStage(
          // 0.1 ms is below the Schema's 1 ms floor on purpose (validation skipped): the engine must not spin.
          LoadOptions.make({ url: mock.url, concurrency: 2, warmupSeconds: 0, durationSeconds: 30, timeoutSeconds }, { disableValidation: true })
        )
        // A starved event loop never runs this interval (nor the poll in `eventually`).
        yield* eventually("20 ticks of a 10 ms interval", () => ticks >= 20)
        const { ms } = yield* timed(Fiber.interrupt(fiber))
        assert.isBelow(ms, 2000, `interrupt took ${ms.toFixed(0)} ms`)
        const r = ended[0]!
        assert.isAbove(r.errors, 0)
        assert.deepStrictEqual(Object.keys(r.errorsByClass), ["timeout"])
        assert.strictEqual(r.ok, 0)
      })
    )
  }

  it.scopedLive("snapshots at each phase change; the timeline's seconds sum to the stage's counts", () =>
    Effect.gen(function* () {
      const server = yield* BrokenServer.make
      let snapshots: SubscriptionRef.SubscriptionRef<StageSnapshot> | undefined
      const phases: Array<StagePhase> = []
      const s = yield* runStage(
        LoadOptions.make({
          url: server.urlFor("every3rd-500"),
          concurrency: 3,
          durationSeconds: 2.5,
          warmupSeconds: 0.2,
          expectTokens: TOKENS
        }),
        {
          hooks: {
            onStageStart: (info) =>
              // Follow every published snapshot from the start (forked into the test's scope).
              Effect.asVoid(
                Effect.forkScoped(
                  Stream.runForEach(info.snapshots.changes, (snap) =>
                    Effect.sync(() => {
                      snapshots = info.snapshots
                      if (phases[phases.length - 1] !== snap.phase) phases.push(snap.phase)
                    })
                  )
                )
              )
          }
        }
      )
      yield* eventually("the last snapshot was seen", () => phases[phases.length - 1] === "done")
      assert.deepStrictEqual(phases, ["warmup", "measure", "drain", "done"])
      const tl = s.timeline ?? []
      assert.isAtLeast(tl.length, 3, "2.5 s of window: at least three points")
      const sum = (f: (p: (typeof tl)[number]) => number) => tl.reduce((a, p) => a + f(p), 0)
      assert.isAbove(s.errors, 0)
      assert.strictEqual(sum((p) => p.ok), s.ok)
      assert.strictEqual(sum((p) => p.errors), s.errors)
      assert.strictEqual(sum((p) => p.sent), s.requests, "every measured request sent was counted")
      const byClass: Record<string, number> = {}
      for (const p of tl) for (const [k, v] of Object.entries(p.errorsByClass)) byClass[k] = (byClass[k] ?? 0) + v
      assert.deepStrictEqual(byClass, s.errorsByClass)
      // Seconds in order, none longer than about a second; measure first, then the drain.
      for (let i = 1; i < tl.length; i++) assert.isAbove(tl[i]!.t, tl[i - 1]!.t)
      for (const p of tl) assert.isAtMost(p.seconds, 1.5)
      assert.strictEqual(tl[0]!.phase, "measure")
      assert.approximately(tl.filter((p) => p.phase === "measure").at(-1)!.t, 2.5, 0.3)
      for (const p of tl) if (p.ok > 0) assert.isAbove(p.p99!, 0)
      // The last snapshot carries the same timeline as the result.
      assert.deepStrictEqual(latest(snapshots).timeline, tl)
    })
  )

  it.scopedLive("hooks may return Effects: the engine runs them, in order with plain listeners", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 2, tokMs: 0 }))
      const calls: Array<string> = []
      const hooks = combineHooks(
        {
          onStageStart: (info) => Effect.sync(() => calls.push(`effect start ${info.index}, mock saw ${mock.stats().requests}`)),
          onStageEnd: (r) => Effect.sync(() => calls.push(`effect end ${r.requests}`))
        },
        { onStageStart: () => void calls.push("plain start"), onStageEnd: () => void calls.push("plain end") }
      )
      yield* runStage(LoadOptions.make({ url: mock.url, concurrency: 1, requests: 5, warmupSeconds: 0 }), { index: 2, hooks })
      assert.deepStrictEqual(calls, ["effect start 2, mock saw 0", "plain start", "effect end 5", "plain end"])
      // And a listener given directly, not through combineHooks.
      let ran = false
      yield* runStage(LoadOptions.make({ url: mock.url, concurrency: 1, requests: 1, warmupSeconds: 0 }), {
        hooks: { onStageEnd: () => Effect.sync(() => void (ran = true)) }
      })
      assert.isTrue(ran)
    })
  )

  const limit = openFileLimit()
  const finite = limit !== undefined && Number.isFinite(limit)
  it.effect.skipIf(!finite)(
    finite ? `connections beyond the open-file limit (${limit}) fail fast with InvalidOptions naming the flag` : "skipped: no readable open-file limit",
    () =>
      Effect.gen(function* () {
        const url = "http://127.0.0.1:9"
        const closed = yield* timed(Effect.flip(runStage(LoadOptions.make({ url, concurrency: limit! + 1, warmupSeconds: 0, durationSeconds: 1 }))))
        assert.isBelow(closed.ms, 500)
        const e = closed.value
        if (e._tag !== "InvalidOptions") return assert.fail(`expected InvalidOptions, got ${e.message}`)
        assert.strictEqual(e.flag, "--concurrency")
        assert.include(e.message, `-c ${limit! + 1} needs about`)
        assert.include(e.message, `the limit is ${limit} (ulimit -n)`)
        const open = yield* Effect.flip(runStage(LoadOptions.make({ url, rate: 10, maxInFlight: limit!, warmupSeconds: 0, durationSeconds: 1 })))
        if (open._tag !== "InvalidOptions") return assert.fail(`expected InvalidOptions, got ${open.message}`)
        assert.strictEqual(open.flag, "--max-inflight")
      })
  )
})
