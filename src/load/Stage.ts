import { Effect } from "effect"
import type { TargetUnreachable } from "../Errors.ts"
import type { StageResult } from "../results/Results.ts"
import type { LoadOptions, RampOptions } from "./LoadOptions.ts"

/** Listeners for a run; the engine never prints, reporters listen. */
export interface StageHooks {
  readonly onStageStart?: (info: { readonly index: number; readonly concurrency: number }) => void
  /** Called once per stage, also with `interrupted: true` when the stage is cut short. */
  readonly onStageEnd?: (result: StageResult) => void
}

export const runStage = (
  _options: LoadOptions,
  _meta?: { readonly index?: number; readonly hooks?: StageHooks }
): Effect.Effect<StageResult, TargetUnreachable> => Effect.die("not yet")

export const runRamp = (
  _options: RampOptions,
  _hooks?: StageHooks
): Effect.Effect<ReadonlyArray<StageResult>, TargetUnreachable> => Effect.die("not yet")
