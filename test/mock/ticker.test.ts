import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Tickable, TokenTicker } from "../../src/mock/TokenTicker.ts"

/** The shared schedule on its own: due order, never early, lazy cancel, close. */

class Probe implements Tickable {
  done = false
  ranAt = -1
  constructor(
    readonly due: number,
    private readonly log: Array<Probe>
  ) {}
  tick(now: number): void {
    this.ranAt = now
    this.log.push(this)
  }
}

/** Resolves once `item` has ticked: items run in due order, so everything due before it has too. */
const sentinel = (ticker: TokenTicker, due: number) =>
  Effect.async<void>((resume) => {
    ticker.schedule({ done: false, tick: () => resume(Effect.void) }, due)
  })

describe("TokenTicker", () => {
  it.live("runs items in due order, never before they are due", () =>
    Effect.gen(function* () {
      const ticker = new TokenTicker()
      const log: Array<Probe> = []
      const t0 = performance.now()
      // Out of order, several in one millisecond bucket.
      const probes = [25, 3, 14, 3.2, 9, 0.5, 20, 14.7, 1, 7].map((d) => new Probe(t0 + d, log))
      for (const p of probes) ticker.schedule(p, p.due)
      yield* sentinel(ticker, t0 + 26)
      assert.strictEqual(log.length, probes.length)
      for (const p of probes) assert.isAtLeast(p.ranAt, p.due, `an item due at +${(p.due - t0).toFixed(1)} ms ran early`)
      for (let i = 1; i < log.length; i++) assert.isAtMost(Math.ceil(log[i - 1]!.due), Math.ceil(log[i]!.due), "due order")
      assert.strictEqual(ticker.pendingBuckets, 0)
      ticker.close()
    })
  )

  it.live("items reschedule themselves from tick; done items are skipped", () =>
    Effect.gen(function* () {
      const ticker = new TokenTicker()
      const times: Array<number> = []
      const stepper = {
        done: false,
        tick(now: number) {
          times.push(now)
          if (times.length < 5) ticker.schedule(this, now + 2)
          else this.done = true
        }
      }
      const cancelled = { done: false, ran: false, tick() { this.ran = true } }
      const t0 = performance.now()
      ticker.schedule(stepper, t0 + 1)
      ticker.schedule(cancelled, t0 + 3)
      cancelled.done = true
      // 5 steps at least 2 ms apart end at t0 + 9 at the earliest.
      while (times.length < 5) yield* sentinel(ticker, performance.now() + 2)
      yield* sentinel(ticker, performance.now() + 3)
      assert.strictEqual(times.length, 5)
      for (let i = 1; i < 5; i++) assert.isAtLeast(times[i]! - times[i - 1]!, 2)
      assert.isFalse(cancelled.ran)
      ticker.close()
    })
  )

  it("close forgets everything and accepts nothing more", () => {
    const ticker = new TokenTicker()
    ticker.schedule({ done: false, tick: () => assert.fail("ran after close") }, performance.now() + 5)
    assert.strictEqual(ticker.pendingBuckets, 1)
    ticker.close()
    assert.strictEqual(ticker.pendingBuckets, 0)
    ticker.schedule({ done: false, tick: () => assert.fail("ran after close") }, performance.now() + 1)
    assert.strictEqual(ticker.pendingBuckets, 0)
  })
})
