import { Effect, SubscriptionRef } from "effect"
import type { StageSnapshot } from "../../src/load/Stage.ts"

/** Polls `cond` every 5 ms until it holds; dies after `withinMs` (a bound, not a synchronisation delay). */
export const eventually = (what: string, cond: () => boolean, withinMs = 3000) =>
  Effect.promise(async () => {
    const until = performance.now() + withinMs
    while (!cond()) {
      if (performance.now() > until) throw new Error(`not within ${withinMs} ms: ${what}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  })

/** The stage's latest published snapshot (what every reader sees). */
export const latest = (ref: SubscriptionRef.SubscriptionRef<StageSnapshot> | undefined): StageSnapshot => {
  if (ref === undefined) throw new Error("onStageStart was not called")
  return Effect.runSync(SubscriptionRef.get(ref))
}

/** Milliseconds `effect` took. */
export const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const a = yield* effect
    return { value: a, ms: performance.now() - t0 }
  })
