import { Effect, type SubscriptionRef } from "effect"
import type { StageResult } from "../domain/Results.ts"
import type { StageSnapshot } from "./Snapshot.ts"

/** What a listener gets when a stage starts. */
export interface StageStartInfo {
  readonly index: number
  readonly concurrency: number
  readonly rate: number | undefined
  /** The stage's snapshots: read the latest with `SubscriptionRef.get`, or follow `.changes`. */
  readonly snapshots: SubscriptionRef.SubscriptionRef<StageSnapshot>
}

/** A listener's answer: nothing, or an Effect the engine runs before it goes on. */
export type HookResult = void | Effect.Effect<void>

/**
 * A listener: a plain callback, or one that returns an Effect for the engine to run. (Two
 * signatures rather than one returning `void | Effect`, so a callback whose value is
 * incidental, e.g. `(r) => stages.push(r)`, still fits.)
 */
export type Listener<A> = ((value: A) => void) | ((value: A) => Effect.Effect<void>)

/** Listeners for a run; the engine never prints, reporters listen. */
export interface StageHooks {
  readonly onStageStart?: Listener<StageStartInfo>
  /** Called once per stage, also with `interrupted: true` when the stage is cut short. */
  readonly onStageEnd?: Listener<StageResult>
}

/** The Effect a listener returned, or nothing to do. */
export const hookEffect = (result: HookResult): Effect.Effect<void> => (Effect.isEffect(result) ? result : Effect.void)

/**
 * Calls listeners in order. Plain listeners run at once (so a caller that ignores the result
 * still gets them); from the first listener that returns an Effect on, the rest run after it,
 * inside the returned Effect.
 */
const callInOrder = (calls: ReadonlyArray<() => HookResult>, from = 0): HookResult => {
  for (let i = from; i < calls.length; i++) {
    const r = calls[i]!()
    if (Effect.isEffect(r)) return Effect.zipRight(r, Effect.suspend(() => hookEffect(callInOrder(calls, i + 1))))
  }
}

/** Runs each hook in turn; for handing the engine one listener made of several. */
export const combineHooks = (...hooks: ReadonlyArray<StageHooks>): Required<StageHooks> => ({
  onStageStart: (info: StageStartInfo): HookResult => callInOrder(hooks.map((h) => () => h.onStageStart?.(info))),
  onStageEnd: (result: StageResult): HookResult => callInOrder(hooks.map((h) => () => h.onStageEnd?.(result)))
})
