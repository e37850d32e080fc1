import { Either, Schema } from "effect"
import { Api } from "./Api.ts"
import { decodeHdrEither } from "./Hdr.ts"
import { Timeline } from "./Timeline.ts"

/**
 * The results file (`--json`). Bump `schemaVersion` on any incompatible change; readers
 * decode with `RunResult` and reject other versions.
 */

/**
 * A summary's `hdr` must decode (safely: a crafted one cannot hang or exhaust memory) and hold
 * `count` samples, so whatever reads a results file (report, merge, compare) can trust it.
 */
const hdrHoldsCount = (s: { readonly count: number; readonly hdr: string }) => {
  const decoded = decodeHdrEither(s.hdr)
  if (Either.isLeft(decoded)) return { path: ["hdr"], message: decoded.left.message }
  const held = decoded.right.totalCount
  return held === s.count || { path: ["hdr"], message: `the HDR histogram holds ${held} samples but count is ${s.count}` }
}

/** A distribution summary in milliseconds, computed from an HDR histogram (µs resolution, 3 significant digits). */
export class Summary extends Schema.Class<Summary>("Summary")(
  Schema.Struct({
    count: Schema.Int,
    min: Schema.Number,
    mean: Schema.Number,
    p50: Schema.Number,
    p90: Schema.Number,
    p99: Schema.Number,
    p999: Schema.Number,
    max: Schema.Number,
    /** The HDR histogram itself (values in µs), compressed base64, so runs can be merged exactly. */
    hdr: Schema.String
  }).pipe(Schema.filter(hdrHoldsCount))
) {}

/** Whether the load generator itself kept up (so its stalls are not reported as the router's latency). */
export class SelfHealth extends Schema.Class<SelfHealth>("SelfHealth")({
  /** False when the driver was the bottleneck; `warnings` says why. */
  ok: Schema.Boolean,
  warnings: Schema.Array(Schema.String),
  /** Event-loop delay of the driver process during the window (perf_hooks.monitorEventLoopDelay). */
  loopDelayP99Ms: Schema.Number,
  loopDelayMaxMs: Schema.Number
}) {}

/**
 * What one built-in mock backend did during a stage (`--mock-backend`): how the router spread
 * the load. Counted by the mock itself from the stage's start (warmup included) to its end.
 */
export class BackendLoad extends Schema.Class<BackendLoad>("BackendLoad")({
  url: Schema.String,
  /** Inference requests this backend answered in full during the stage. */
  requests: Schema.Int,
  /** Completion tokens it sent. */
  tokens: Schema.Int,
  /** `requests` ÷ all backends' requests in the stage (0 when none answered any). */
  share: Schema.Number,
  /** Most responses it had in progress at once: the router's per-endpoint concurrency. */
  peakActive: Schema.Int
}) {}

export class StageResult extends Schema.Class<StageResult>("StageResult")({
  /** Position in the run, from 0. */
  index: Schema.Int,
  /** closed: N virtual clients back to back; open: arrivals at `rate` per second. */
  loadModel: Schema.optionalWith(Schema.Literal("closed", "open"), { default: () => "closed" as const }),
  /** Virtual clients (closed loop), or the in-flight cap (open loop; 0 = none). */
  concurrency: Schema.Int,
  /** Requested arrival rate in requests/s (open loop only). */
  rate: Schema.optional(Schema.Number),
  /** Arrival process (open loop only). */
  arrival: Schema.optional(Schema.Literal("constant", "poisson")),
  /** Scheduled arrivals per second of window that were actually sent (open loop only). */
  achievedRate: Schema.optional(Schema.Number),
  /** Requests that could not start at their scheduled time because --max-inflight was reached (open loop). */
  lateStarts: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  /** Highest number of requests in flight at once during the window. */
  peakInFlight: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  api: Api,
  stream: Schema.Boolean,
  url: Schema.String,
  /** Wall-clock start of the measured window (ISO 8601). */
  startedAt: Schema.String,
  /** Length of the measured window in seconds: the timed window, or first send to last completion for --requests. */
  windowSeconds: Schema.Number,
  /** Time spent after the window waiting for requests that were started inside it. */
  drainSeconds: Schema.Number,
  /** True when the stage was cut short (Ctrl-C, router exit); its counts cover what completed. */
  interrupted: Schema.Boolean,
  /** Requests counted in this stage: those started inside the measured window that completed. */
  requests: Schema.Int,
  ok: Schema.Int,
  errors: Schema.Int,
  errorsByClass: Schema.Record({ key: Schema.String, value: Schema.Int }),
  /** First message seen per error class (diagnostics). */
  errorSamples: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** Counted requests per second of window (ok and errors). */
  rps: Schema.Number,
  /** Ok requests per second of window. */
  okRps: Schema.Number,
  /** Warmup requests (unmeasured). */
  warmupRequests: Schema.Int,
  /** Latency of ok requests: scheduled start to last byte. */
  latency: Summary,
  /** Scheduled start to first content token (streams only; ok requests). */
  ttft: Summary,
  /** Scheduled start to first response-body byte (ok requests). */
  ttfb: Summary,
  /** Gaps between consecutive content chunks, pooled over ok streamed requests. */
  itl: Summary,
  /** Per request (E2E − TTFT) / (chunks − 1), ok streamed requests with >= 2 chunks. */
  tpot: Summary,
  /** Content chunks received in ok requests. */
  outputChunks: Schema.Int,
  /** Completion tokens reported by the server's final chunk, summed over ok requests that reported one. */
  reportedTokens: Schema.Int,
  /** Output tokens per second of window (reported counts, or content chunks where none was reported). */
  outputTokensPerSecond: Schema.Number,
  /**
   * Ok streamed requests whose content chunks differ from the count the final chunk reports:
   * a proxy that merges or drops chunks shows here (a backend that sends several tokens per
   * chunk too). With our own mock such a request is an error of class token_mismatch instead.
   */
  tokenMismatches: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  /** Actual send − scheduled send, all measured requests (the client's own lag). */
  dispatchDelay: Schema.optional(Summary),
  /** Requests per second of window that were ok and met every SLO (only with --slo). */
  goodput: Schema.optional(Schema.Number),
  /** Ok requests that met every SLO (only with --slo). */
  goodRequests: Schema.optional(Schema.Int),
  selfHealth: Schema.optional(SelfHealth),
  /** Per built-in mock backend behind the router (`--mock-backend`), in the order of the router's endpoints. */
  backends: Schema.optional(Schema.Array(BackendLoad)),
  /** The stage second by second (domain/Timeline.ts). */
  timeline: Schema.optional(Timeline)
}) {}

export class Environment extends Schema.Class<Environment>("Environment")({
  tool: Schema.String,
  toolVersion: Schema.String,
  runtime: Schema.Literal("node", "deno", "bun", "unknown"),
  runtimeVersion: Schema.String,
  platform: Schema.String,
  arch: Schema.String,
  cpus: Schema.Int,
  hostname: Schema.String,
  startedAt: Schema.String
}) {}

export class RunResult extends Schema.Class<RunResult>("RunResult")({
  schemaVersion: Schema.Literal(1),
  /** drive (--url), mock-direct, or mock-backend (through a spawned router). */
  mode: Schema.String,
  settings: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  environment: Environment,
  stages: Schema.Array(StageResult),
  /** Knee of a ramp (see README "Knee"); absent for a single stage. */
  knee: Schema.optional(
    Schema.Struct({
      /** Index into `stages` of the knee level, or null when no level qualifies. */
      index: Schema.NullOr(Schema.Int),
      level: Schema.NullOr(Schema.Number),
      reason: Schema.String
    })
  ),
  /** The --slo given and the highest level that met it. */
  slo: Schema.optional(
    Schema.Struct({
      expression: Schema.String,
      bestIndex: Schema.NullOr(Schema.Int),
      bestLevel: Schema.NullOr(Schema.Number),
      perStage: Schema.Array(Schema.Struct({ index: Schema.Int, met: Schema.Boolean, failed: Schema.Array(Schema.String) }))
    })
  ),
  /** Router overhead per stage (--mock-backend --compare-direct): through the router minus direct to the mock. */
  overhead: Schema.optional(
    Schema.Array(
      Schema.Struct({
        index: Schema.Int,
        level: Schema.Number,
        p50DeltaMs: Schema.Number,
        p99DeltaMs: Schema.Number,
        ttftP50DeltaMs: Schema.Number,
        ttftP99DeltaMs: Schema.Number,
        rpsRatio: Schema.Number
      })
    )
  ),
  /** Stages of the direct-to-mock runs (--compare-direct), aligned by index with `stages`. */
  directStages: Schema.optional(Schema.Array(StageResult)),
  /** True when the run was cut short; `stages` holds what was measured. */
  interrupted: Schema.Boolean,
  /** Why the run ended early, if it did. */
  error: Schema.optional(Schema.String)
}) {}

export const encodeRunResult = Schema.encodeSync(RunResult)
export const decodeRunResult = Schema.decodeUnknown(RunResult)
