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
