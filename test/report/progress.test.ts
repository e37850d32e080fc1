import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope, SubscriptionRef, TestClock } from "effect"
import type { StageHooks, StageSnapshot } from "../../src/load/Stage.ts"
import {
  combineHooks,
  formatProgressLine,
  progressEnabled,
  progressReporter,
  type ProgressStream
} from "../../src/report/Progress.ts"
import { makeStage } from "../analysis/Synthetic.ts"

const live = (over: Partial<StageSnapshot> = {}): StageSnapshot => ({
  index: 1,
  concurrency: 16,
  rate: undefined,
  phase: "measure",
  elapsedSeconds: 12.34,
  remainingSeconds: 7.66,
  inFlight: 16,
  ok: 1234,
  errors: 3,
  requestsTarget: undefined,
  warmupRequests: 0,
  completedPerSecond: undefined,
  latencyP99Ms: undefined,
  timeline: [],
  ...over
})

/** The snapshots a stage would hand its listeners, starting at `first`. */
const refOf = (first: StageSnapshot) => Effect.runSync(SubscriptionRef.make(first))

/** A fake terminal (or pipe) that keeps what is written. */
const fakeStream = (isTTY: boolean, columns?: number) => {
  const writes: Array<string> = []
  const stream: ProgressStream = { isTTY, columns, write: (chunk) => (writes.push(chunk), true) }
  return { stream, writes }
}

const CLEAR = "\r\u001b[K"

describe("formatProgressLine", () => {
  it("shows stage, level, phase with elapsed/remaining, in flight, ok/err, current req/s and p99", () => {
    const line = formatProgressLine(live({ ok: 200, errors: 5, completedPerSecond: 105, latencyP99Ms: 198 }), { stages: 4 })
    assert.strictEqual(line, "stage 2/4 conc 16 | measure 12.3s, 7.7s left | in flight 16 | ok 200 err 5 | 105.0 req/s | p99 198.0 ms")
  })

  it("req/s and p99 show '-' until the snapshot knows them; warmup is labelled", () => {
    const snap = live({ ok: 0, errors: 0, phase: "warmup", elapsedSeconds: 0 })
    assert.include(formatProgressLine(snap), "| - req/s |")
    assert.include(formatProgressLine(snap), "| warmup |")
    assert.include(formatProgressLine(snap), "p99 -")
    assert.include(formatProgressLine({ ...snap, completedPerSecond: 100 }), "| 100.0 req/s |")
  })

  it("--requests shows progress towards the target; drain and open loop are labelled", () => {
    assert.include(formatProgressLine(live({ requestsTarget: 5000, remainingSeconds: undefined })), "measure 1237/5000 req")
    assert.include(formatProgressLine(live({ phase: "drain", elapsedSeconds: 20 })), "| drain 20.0s |")
    assert.match(formatProgressLine(live({ rate: 50, concurrency: 1024, index: 0 })), /^stage 1 rate 50\/s \|/)
  })

  it("drops trailing fields to fit the terminal width, and colours only when asked", () => {
    const full = formatProgressLine(live())
    const cut = formatProgressLine(live(), { width: 60 })
    assert.isBelow(cut.length, 60)
    assert.isTrue(full.startsWith(cut))
    assert.notInclude(full, "\u001b[")
    const coloured = formatProgressLine(live(), { colour: true })
    assert.include(coloured, "\u001b[31merr 3\u001b[0m")
    assert.strictEqual(coloured.replace(/\u001b\[[0-9;]*m/g, ""), full)
  })
})

describe("progressReporter", () => {
  it("is off when the stream is not a TTY: no ticker, no writes", () => {
    assert.isFalse(progressEnabled({ isTTY: false, write: () => true }))
    assert.isFalse(progressEnabled({ isTTY: true, write: () => true }, true))
    assert.isTrue(progressEnabled({ isTTY: true, write: () => true }))
  })

  it.effect("writes nothing on a pipe or with --quiet, whatever happens", () =>
    Effect.gen(function* () {
      for (const [isTTY, quiet] of [[false, false], [true, true]] as const) {
        const { stream, writes } = fakeStream(isTTY)
        const scope = yield* Scope.make()
        const p = yield* progressReporter({ stream, quiet, intervalMs: 100 }).pipe(Scope.extend(scope))
        assert.isFalse(p.enabled)
        p.onStageStart({ index: 0, concurrency: 4, rate: undefined, snapshots: refOf(live()) })
        yield* TestClock.adjust("2 seconds")
        p.onStageEnd(makeStage({}))
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(writes, [])
      }
    })
  )

  it.effect("on a TTY: redraws one \\r-line each tick while a stage runs, erases it at stage end and at scope close", () =>
    Effect.gen(function* () {
      const { stream, writes } = fakeStream(true, 200)
      const scope = yield* Scope.make()
      const p = yield* progressReporter({ stream, stages: 2, intervalMs: 250, colour: false }).pipe(Scope.extend(scope))
      assert.isTrue(p.enabled)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(writes, [], "nothing drawn between stages")

      const snapshots = refOf(live({ index: 0, ok: 0, errors: 0 }))
      p.onStageStart({ index: 0, concurrency: 16, rate: undefined, snapshots })
      for (let i = 0; i < 8; i++) {
        // The stage publishes; the reporter draws whatever was published last.
        yield* SubscriptionRef.update(snapshots, (s) => ({ ...s, ok: s.ok + 100, completedPerSecond: 400 }))
        yield* TestClock.adjust("250 millis")
      }
      assert.strictEqual(writes.length, 8)
      for (const w of writes) {
        assert.isTrue(w.startsWith("\r") && w.endsWith("\u001b[K"), JSON.stringify(w))
        assert.notInclude(w, "\n")
      }
      assert.include(writes[writes.length - 1]!, "stage 1/2 conc 16")
      assert.include(writes[writes.length - 1]!, "| 400.0 req/s |")
      assert.include(writes[writes.length - 1]!, "| ok 800 err 0 |")

      p.onStageEnd(makeStage({}))
      assert.strictEqual(writes[writes.length - 1], CLEAR)
      const before = writes.length
      yield* TestClock.adjust("1 second")
      assert.strictEqual(writes.length, before, "no redraw after the stage ended")

      // A message printed mid-stage erases the line first.
      p.onStageStart({ index: 1, concurrency: 32, rate: undefined, snapshots: refOf(live({ index: 1, concurrency: 32 })) })
      yield* TestClock.adjust("250 millis")
      p.log("router: restarted")
      assert.deepStrictEqual(writes.slice(-2), [CLEAR, "router: restarted\n"])
      yield* TestClock.adjust("250 millis")
      assert.include(writes[writes.length - 1]!, "stage 2/2 conc 32")

      // Cut short: the scope closes with the line drawn; it is erased and the ticker stops.
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(writes[writes.length - 1], CLEAR)
      const after = writes.length
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(writes.length, after)
    })
  )
})

describe("combineHooks", () => {
  it("calls every listener in order", () => {
    const calls: Array<string> = []
    const a: StageHooks = { onStageStart: (i) => void calls.push(`a start ${i.index}`), onStageEnd: (r) => void calls.push(`a end ${r.index}`) }
    const b: StageHooks = { onStageEnd: (r) => void calls.push(`b end ${r.index}`) }
    const hooks = combineHooks(a, b, {})
    hooks.onStageStart?.({ index: 3, concurrency: 1, rate: undefined, snapshots: refOf(live()) })
    hooks.onStageEnd?.(makeStage({ index: 3 }))
    assert.deepStrictEqual(calls, ["a start 3", "a end 3", "b end 3"])
  })
})
