import { Buffer } from "node:buffer"
import { inflateSync } from "node:zlib"
import * as hdr from "hdr-histogram-js"
import { Data, Either } from "effect"

/**
 * The encoded HDR histogram of a results file (`Summary.hdr`: hdr-histogram-js's compressed
 * base64, V2 encoding), decoded without trusting it. hdr-histogram-js's own decoder throws
 * plain errors on bad input and, on a crafted one, inflates without bound or loops over a
 * length taken from the data; this one checks every length, bound and count first, so a bad
 * file fails with one `HistogramCorrupt` that says why.
 */

/** An encoded histogram that is not one (bad base64, wrong cookie, lengths or counts out of range). */
export class HistogramCorrupt extends Data.TaggedError("HistogramCorrupt")<{
  readonly detail: string
}> {
  override get message() {
    return `the encoded HDR histogram is corrupt (${this.detail})`
  }
}

const COMPRESSED_COOKIE = 0x1c849304
const V2_COOKIE = 0x1c849303
/** Cookie bits that carry the word size; the base must match once they are masked off. */
const WORD_SIZE_BITS = 0xf0
const HEADER_BYTES = 40
/** Far above any real histogram (µs values with 5 significant digits need < 40 MB of counts, encoded much smaller). */
const MAX_INFLATED_BYTES = 16 << 20
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

const uint64 = (b: Buffer, at: number): number => b.readUInt32BE(at) * 2 ** 32 + b.readUInt32BE(at + 4)
const cookieBase = (cookie: number): number => (cookie & ~WORD_SIZE_BITS) >>> 0

/**
 * Decodes one value of the LEB128-64b9B ZigZag stream at `pos` (at most 9 bytes), or
 * undefined when the stream ends inside it. Mirrors hdr-histogram-js's ZigZagEncoding.
 */
const readZigZag = (b: Buffer, pos: { at: number }, end: number): number | undefined => {
  let value = 0
  let scale = 1
  for (let i = 0; i < 9; i++) {
    if (pos.at >= end) return undefined
    const byte = b[pos.at++]!
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) break
    scale *= 128
  }
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2
}

/** Decodes an encoded histogram, or says why it is not one. Never throws. */
export const decodeHdrEither = (base64: string): Either.Either<hdr.Histogram, HistogramCorrupt> => {
  const fail = (detail: string) => Either.left(new HistogramCorrupt({ detail }))
  if (typeof base64 !== "string") return fail("not a string")
  const text = base64.trim()
  if (text.length === 0) return fail("empty")
  if (text.length % 4 !== 0 || !BASE64.test(text)) return fail("not base64")
  const bytes = Buffer.from(text, "base64")
  if (bytes.length < 8) return fail("too short")
  if (cookieBase(bytes.readUInt32BE(0)) !== COMPRESSED_COOKIE) return fail("not a compressed V2 HDR histogram")
  const compressed = bytes.readUInt32BE(4)
  if (compressed > bytes.length - 8) return fail(`says ${compressed} compressed bytes, holds ${bytes.length - 8}`)
  let raw: Buffer
  try {
    raw = inflateSync(bytes.subarray(8, 8 + compressed), { maxOutputLength: MAX_INFLATED_BYTES })
  } catch (e) {
    return fail(`cannot inflate: ${(e as Error)?.message ?? String(e)}`)
  }
  if (raw.length < HEADER_BYTES) return fail("header cut short")
  if (cookieBase(raw.readUInt32BE(0)) !== V2_COOKIE) return fail("not a V2 HDR histogram")
  const payload = raw.readUInt32BE(4)
  const digits = raw.readUInt32BE(12)
  const lowest = uint64(raw, 16)
  const highest = uint64(raw, 24)
  if (payload > raw.length - HEADER_BYTES) return fail(`says ${payload} bytes of counts, holds ${raw.length - HEADER_BYTES}`)
  if (digits > 5) return fail(`${digits} significant digits (at most 5)`)
  if (lowest < 1 || lowest > Number.MAX_SAFE_INTEGER) return fail(`lowest value ${lowest} out of range`)
  if (highest < 2 * lowest || highest > Number.MAX_SAFE_INTEGER) return fail(`highest value ${highest} out of range`)
  let h: hdr.JsHistogram
  try {
    h = new hdr.Float64Histogram(lowest, highest, digits)
  } catch (e) {
    return fail((e as Error)?.message ?? String(e))
  }
  const length = h.countsArrayLength
  const end = HEADER_BYTES + payload
  const pos = { at: HEADER_BYTES }
  let index = 0
  let total = 0
  while (pos.at < end) {
    const v = readZigZag(raw, pos, end)
    if (v === undefined) return fail("counts cut short")
    if (v < 0) {
      // A run of -v empty buckets.
      index -= v
      if (index > length) return fail("counts run past the histogram's range")
      continue
    }
    if (index >= length) return fail("counts run past the histogram's range")
    if (v > 0) h.setCountAtIndex(index, v)
    index++
    total += v
  }
  if (total > Number.MAX_SAFE_INTEGER) return fail("total count too large")
  h.establishInternalTackingValues(index)
  return Either.right(h)
}
