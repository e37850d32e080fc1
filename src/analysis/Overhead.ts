import type { RunResult, StageResult } from "../domain/Results.ts"
import { levelOf } from "./Metrics.ts"
import { round3 } from "../stats/Round.ts"


export type Overhead = NonNullable<RunResult["overhead"]>

/**
 * The router's cost per stage (--compare-direct): through the router minus direct to the
 * mock, stage by stage at the same level. Positive deltas are what the router adds;
 * rpsRatio < 1 is throughput it loses.
 */
export const routerOverhead = (stages: ReadonlyArray<StageResult>, direct: ReadonlyArray<StageResult>): Overhead =>
  stages.flatMap((s, i) => {
    const d = direct[i]
    if (d === undefined) return []
    return [
      {
        index: i,
        level: levelOf(s),
        p50DeltaMs: round3(s.latency.p50 - d.latency.p50),
        p99DeltaMs: round3(s.latency.p99 - d.latency.p99),
        ttftP50DeltaMs: round3(s.ttft.p50 - d.ttft.p50),
        ttftP99DeltaMs: round3(s.ttft.p99 - d.ttft.p99),
        rpsRatio: d.rps > 0 ? round3(s.rps / d.rps) : 0
      }
    ]
  })
