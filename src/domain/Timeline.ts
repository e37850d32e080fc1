import { Schema } from "effect"

/**
 * A stage over time: one point per second of the measured window and its drain (cut short at
 * each phase change, so a point never spans two phases). Counts are of measured requests and
 * sum, over the points, to the stage's totals.
 */
export class TimelinePoint extends Schema.Class<TimelinePoint>("TimelinePoint")({
  /** Seconds since the measured window opened, at the end of this interval. */
  t: Schema.Number,
  /** Length of the interval in seconds (about 1; shorter at a phase change). */
  seconds: Schema.Number,
  phase: Schema.Literal("measure", "drain"),
  /** Measured requests sent in this interval. */
  sent: Schema.Int,
  /** Measured requests that ended in this interval, ok or not. */
  ok: Schema.Int,
  errors: Schema.Int,
  errorsByClass: Schema.Record({ key: Schema.String, value: Schema.Int }),
  /** Requests in flight at the end of the interval. */
  inFlight: Schema.Int,
  /** (ok + errors) per second of this interval. */
  rps: Schema.Number,
  /** Output tokens of the ok requests that ended in this interval, per second. */
  tokensPerSecond: Schema.Number,
  /** Latency (ms) of the ok requests that ended in this interval; absent when none did. */
  p50: Schema.optional(Schema.Number),
  p99: Schema.optional(Schema.Number)
}) {}

export const Timeline = Schema.Array(TimelinePoint)
export type Timeline = typeof Timeline.Type
