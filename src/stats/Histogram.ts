import * as hdr from "hdr-histogram-js"
import { Either } from "effect"
import { decodeHdrEither, HistogramCorrupt } from "../domain/Hdr.ts"
import { Summary } from "../domain/Results.ts"
import { round3 } from "./Round.ts"

export { HistogramCorrupt }

export type Histogram = hdr.Histogram

/**
 * Every latency distribution: values in microseconds, 3 significant digits, auto-resizing so
 * no value is ever clipped. The JS build (not WASM): ~50 ns a record, nothing to free.
 */
export const makeHistogram = (): Histogram =>
  hdr.build({
    bitBucketSize: 64,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false
  })

/** Records a duration given in milliseconds (fractional) as whole microseconds (at least 1). */
export const recordMs = (h: Histogram, ms: number): void => {
  const us = Math.round(ms * 1000)
  h.recordValue(us < 1 ? 1 : us)
}

export const encodeHistogram = (h: Histogram): string => hdr.encodeIntoCompressedBase64(h)

/** Decodes `encodeHistogram`'s output, or says why it is not one. Never throws. */
export const decodeHistogramEither: (base64: string) => Either.Either<Histogram, HistogramCorrupt> = decodeHdrEither

/** Decodes `encodeHistogram`'s output; throws `HistogramCorrupt` (never anything else) when it is not one. */
export const decodeHistogram = (base64: string): Histogram => Either.getOrThrowWith(decodeHdrEither(base64), (e) => e)


/** `hdr` was encoded from `h` just now: skip the Summary schema's decode-to-validate of it. */
const TRUSTED = { disableValidation: true } as const

/** Percentiles in ms from a µs histogram; an empty histogram gives zeros and count 0. */
export const summarize = (h: Histogram): Summary => {
  const count = h.totalCount
  if (count === 0) {
    return Summary.make({ count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, hdr: encodeHistogram(h) }, TRUSTED)
  }
  // HDR reports a bucket's highest equivalent value; never above the exact max.
  const max = h.maxValue
  const ms = (us: number) => round3(Math.min(us, max) / 1000)
  return Summary.make({
    count,
    min: ms(h.minNonZeroValue),
    mean: ms(h.mean),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(max),
    hdr: encodeHistogram(h)
  }, TRUSTED)
}
