/**
 * The safe decoder of a results file's HDR histograms: it decodes exactly what
 * hdr-histogram-js encodes, and any damaged or crafted input fails with one HistogramCorrupt,
 * fast and without a large allocation, never with another error.
 */
import { deflateSync } from "node:zlib"
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as hdr from "hdr-histogram-js"
import { decodeHdrEither, HistogramCorrupt } from "../../src/domain/Hdr.ts"
import { decodeHistogram, encodeHistogram, makeHistogram, recordMs } from "../../src/stats/Histogram.ts"
import { prng } from "../analysis/Synthetic.ts"

const sample = (seed: number, n: number) => {
  const h = makeHistogram()
  const rnd = prng(seed)
  for (let i = 0; i < n; i++) recordMs(h, 0.5 + rnd() ** 4 * 60_000)
  return h
}

/** A compressed-base64 histogram from a raw (uncompressed) V2 encoding. */
const wrap = (raw: Buffer): string => {
  const z = deflateSync(raw)
  const head = Buffer.alloc(8)
  head.writeUInt32BE(0x1c849314, 0)
  head.writeUInt32BE(z.length, 4)
  return Buffer.concat([head, z]).toString("base64")
}

/** A raw V2 header: cookie, payload length, offset, digits, lowest, highest, ratio. */
const header = (payload: number, digits = 3, lowest = 1, highest = 2048): Buffer => {
  const b = Buffer.alloc(40)
  b.writeUInt32BE(0x1c849313, 0)
  b.writeUInt32BE(payload, 4)
  b.writeUInt32BE(0, 8)
  b.writeUInt32BE(digits, 12)
  b.writeUInt32BE(Math.floor(lowest / 2 ** 32), 16)
  b.writeUInt32BE(lowest >>> 0, 20)
  b.writeUInt32BE(Math.floor(highest / 2 ** 32), 24)
  b.writeUInt32BE(highest >>> 0, 28)
  b.writeUInt32BE(0, 32)
  b.writeUInt32BE(1, 36)
  return b
}

const corrupt = (text: string, detail: RegExp) => {
  const t0 = performance.now()
  const r = decodeHdrEither(text)
  assert.isBelow(performance.now() - t0, 2000, "fails fast")
  assert.isTrue(Either.isLeft(r), "rejected")
  const e = (r as Either.Left<HistogramCorrupt, unknown>).left
  assert.instanceOf(e, HistogramCorrupt)
  assert.match(e.message, /^the encoded HDR histogram is corrupt \(/)
  assert.match(e.detail, detail)
}

describe("decodeHdrEither", () => {
  it("decodes what hdr-histogram-js encodes, exactly as its own decoder does", () => {
    for (const [seed, n] of [[1, 0], [2, 1], [3, 1000], [4, 50_000]] as const) {
      const h = sample(seed, n)
      const text = encodeHistogram(h)
      const ours = Either.getOrThrow(decodeHdrEither(text))
      const theirs = hdr.decodeFromCompressedBase64(text, 64, false)
      assert.strictEqual(ours.totalCount, theirs.totalCount)
      assert.strictEqual(ours.maxValue, theirs.maxValue)
      assert.strictEqual(ours.minNonZeroValue, theirs.minNonZeroValue)
      for (const p of [0, 1, 50, 90, 99, 99.9, 100]) assert.strictEqual(ours.getValueAtPercentile(p), theirs.getValueAtPercentile(p), `p${p}`)
      assert.strictEqual(encodeHistogram(ours), text, "re-encodes to the same text")
    }
  })

  it("rejects damaged text with one HistogramCorrupt saying why", () => {
    const good = encodeHistogram(sample(7, 5000))
    corrupt("", /empty/)
    corrupt("not-a-histogram", /not base64/)
    corrupt("AAAA", /too short/)
    corrupt(Buffer.from("hello world, not hdr").toString("base64"), /not a compressed V2/)
    corrupt(good.slice(0, good.length - 40), /compressed bytes|cannot inflate|not base64/)
    // Flip characters in the middle of the deflate stream.
    const mid = good.length >> 1
    corrupt(good.slice(0, mid) + (good[mid] === "A" ? "B" : "A") + (good[mid + 1] === "A" ? "B" : "A") + good.slice(mid + 2), /./)
  })

  it("rejects crafted headers and counts before allocating or looping on them", () => {
    corrupt(wrap(header(1000)), /says 1000 bytes of counts/)
    corrupt(wrap(header(0, 9)), /9 significant digits/)
    corrupt(wrap(header(0, 3, 0)), /lowest value 0/)
    corrupt(wrap(header(0, 3, 1, 2 ** 60)), /highest value .* out of range/)
    // A run of 2^40 empty buckets: hdr-histogram-js would loop over it.
    const run = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x3f])
    corrupt(wrap(Buffer.concat([header(run.length), run])), /past the histogram's range/)
    // A count whose varint is cut off by the payload's end.
    const cut = Buffer.from([0x80, 0x80])
    corrupt(wrap(Buffer.concat([header(cut.length), cut])), /cut short/)
    // An inflate bomb: 64 MB of zeros compress to ~64 KB.
    const bomb = deflateSync(Buffer.alloc(64 << 20))
    const head = Buffer.alloc(8)
    head.writeUInt32BE(0x1c849314, 0)
    head.writeUInt32BE(bomb.length, 4)
    corrupt(Buffer.concat([head, bomb]).toString("base64"), /cannot inflate/)
  })

  it("random damage to a valid encoding never throws and never hangs (property over seeds)", () => {
    const good = Buffer.from(encodeHistogram(sample(9, 3000)), "base64")
    const rnd = prng(42)
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(good)
      const flips = 1 + Math.floor(rnd() * 4)
      for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256)
      const cut = rnd() < 0.3 ? b.subarray(0, Math.floor(rnd() * b.length)) : b
      const r = decodeHdrEither(cut.toString("base64"))
      if (Either.isLeft(r)) assert.instanceOf(r.left, HistogramCorrupt)
      else assert.isAtLeast(r.right.totalCount, 0)
    }
  })

  it("decodeHistogram throws HistogramCorrupt, never an untyped error", () => {
    assert.throws(() => decodeHistogram("garbage!"), HistogramCorrupt)
    try {
      decodeHistogram(wrap(header(0, 9)))
      assert.fail("should throw")
    } catch (e) {
      assert.strictEqual((e as HistogramCorrupt)._tag, "HistogramCorrupt")
    }
  })
})
