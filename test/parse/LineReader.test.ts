import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { LineReader } from "../../src/load/parse/LineReader.ts"

const enc = new TextEncoder()

/** Feeds `pieces` (stamped 0, 1, …) then end() (stamped pieces.length); returns [line, stamp] pairs. */
const readLines = (pieces: ReadonlyArray<Uint8Array>): Array<[string, number]> => {
  const out: Array<[string, number]> = []
  const reader = new LineReader((line, now) => out.push([line, now]))
  pieces.forEach((p, i) => reader.feed(p, i))
  reader.end(pieces.length)
  return out
}

/** Cuts `bytes` at the given offsets (any order, duplicates give empty reads). */
const cut = (bytes: Uint8Array, at: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = at.map((x) => x % (bytes.length + 1)).sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

const lineText = fc.string({ unit: fc.constantFrom("a", "é", "漢", "😀", "🧑‍🚀", " ", "{", "\t"), maxLength: 8 })
const eol = fc.constantFrom("\n", "\r\n", "\r")

describe("LineReader", () => {
  it("splits at LF, CRLF and lone CR, including empty lines", () => {
    const lines = readLines([enc.encode("a\nb\r\nc\rd\n\n\r\n\re")])
    assert.deepStrictEqual(
      lines.map(([l]) => l),
      ["a", "b", "c", "d", "", "", "", "e"]
    )
  })

  it("a CRLF split across reads is one line end, even with empty reads in between", () => {
    const empty = new Uint8Array(0)
    const lines = readLines([enc.encode("a\r"), empty, empty, enc.encode("\nb\r"), enc.encode("\n")])
    assert.deepStrictEqual(lines, [
      ["a", 0],
      ["b", 3]
    ])
  })

  it("a line is stamped with the read that delivered its terminator; a trailing line with end()", () => {
    const lines = readLines([enc.encode("ab"), enc.encode("c"), enc.encode("\nde"), enc.encode("f")])
    assert.deepStrictEqual(lines, [
      ["abc", 2],
      ["def", 4]
    ])
  })

  it("decodes multi-byte characters split across reads", () => {
    const bytes = enc.encode("😀漢字é\n")
    const pieces = Array.from(bytes, (b) => Uint8Array.of(b))
    assert.deepStrictEqual(
      readLines(pieces).map(([l]) => l),
      ["😀漢字é"]
    )
  })

  it("reset() drops a pending partial line and a pending CR", () => {
    const out: Array<string> = []
    const reader = new LineReader((line) => out.push(line))
    reader.feed(enc.encode("partial\r"), 0)
    reader.feed(enc.encode("half"), 0)
    reader.reset()
    reader.feed(enc.encode("\nnext\n"), 1)
    assert.deepStrictEqual(out, ["partial", "", "next"])
  })

  it("end() without a pending line emits nothing", () => {
    assert.deepStrictEqual(readLines([enc.encode("a\n")]), [["a", 0]])
    assert.deepStrictEqual(readLines([]), [])
  })

  it("property: any chunking gives the same lines as the whole input", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lineText, eol), { maxLength: 12 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 16 }),
        (lines, trailing, at) => {
          // A lone CR followed by an empty LF-terminated line would be one CRLF: avoid that.
          let text = ""
          const expected: Array<string> = []
          let prev = ""
          for (const [t, e] of lines) {
            const end = prev === "\r" && t === "" && e === "\n" ? "\r\n" : e
            text += t + end
            expected.push(t)
            prev = end
          }
          if (trailing) {
            text += "tail"
            expected.push("tail")
          }
          const bytes = enc.encode(text)
          const got = readLines(cut(bytes, at)).map(([l]) => l)
          assert.deepStrictEqual(got, expected)
        }
      ),
      { numRuns: 500 }
    )
  })
})

describe("LineReader limits and cut lines", () => {
  it("joins the pieces of a long line once, whatever the chunking", () => {
    const out: Array<[string, boolean]> = []
    const reader = new LineReader((line, _now, last) => out.push([line, last]))
    const piece = new TextEncoder().encode("x".repeat(1000))
    for (let i = 0; i < 100; i++) reader.feed(piece, 0)
    reader.feed(new TextEncoder().encode("\nnext"), 0)
    reader.end(0)
    assert.deepStrictEqual(out.map(([l, last]) => [l.length, last]), [[100_000, false], [4, true]])
  })

  it("refuses a line past the limit once, skips the rest of it, and reads the next line", () => {
    const out: Array<string> = []
    const refused: Array<number> = []
    const reader = new LineReader((line) => out.push(line), (bytes) => refused.push(bytes), 100)
    const enc = new TextEncoder()
    reader.feed(enc.encode("ok\n" + "y".repeat(60)), 0)
    reader.feed(enc.encode("y".repeat(60)), 0)
    reader.feed(enc.encode("y".repeat(500)), 0)
    reader.feed(enc.encode("yyy\nafter\n" + "z".repeat(200) + "\nlast"), 0)
    reader.end(0)
    assert.deepStrictEqual(out, ["ok", "after", "last"])
    assert.strictEqual(refused.length, 2, "the 180-byte pending line and the 200-byte whole line")
    assert.isAbove(refused[0]!, 100)
  })

  it("marks only an unterminated trailing line as last", () => {
    const out: Array<[string, boolean]> = []
    const reader = new LineReader((line, _now, last) => out.push([line, last]))
    reader.feed(new TextEncoder().encode("a\r\nb"), 0)
    reader.end(0)
    reader.feed(new TextEncoder().encode("c\n"), 0)
    reader.end(0)
    assert.deepStrictEqual(out, [["a", false], ["b", true], ["c", false]])
  })
})
