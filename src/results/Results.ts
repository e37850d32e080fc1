import { Schema } from "effect"
import { Api } from "../load/LoadOptions.ts"

/**
 * The results file (`--json`). Bump `schemaVersion` on any incompatible change; readers
 * decode with `RunResult` and reject other versions.
 */

/** A distribution summary in milliseconds, computed from an HDR histogram (µs resolution, 3 significant digits). */
export class Summary extends Schema.Class<Summary>("Summary")({
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
}) {}

export class StageResult extends Schema.Class<StageResult>("StageResult")({
  /** Position in the run, from 0. */
  index: Schema.Int,
  concurrency: Schema.Int,
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
  outputTokensPerSecond: Schema.Number
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
  /** True when the run was cut short; `stages` holds what was measured. */
  interrupted: Schema.Boolean,
  /** Why the run ended early, if it did. */
  error: Schema.optional(Schema.String)
}) {}

export const encodeRunResult = Schema.encodeSync(RunResult)
export const decodeRunResult = Schema.decodeUnknown(RunResult)
