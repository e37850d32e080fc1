const LF = 10
const CR = 13

const decoder = new TextDecoder()

/**
 * Splits a byte stream into lines at LF, CRLF or a lone CR, whatever the chunking. Lines are
 * decoded as UTF-8 only once complete; LF and CR never occur inside a multi-byte UTF-8
 * sequence, so splitting bytes first is safe.
 */
export class LineReader {
  private pending: Uint8Array | null = null
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to it. */
  private skipLF = false

  constructor(private readonly onLine: (line: string, now: number) => void) {}

  reset(): void {
    this.pending = null
    this.skipLF = false
  }

  feed(chunk: Uint8Array, now: number): void {
    let start = 0
    const n = chunk.length
    // An empty read must not clear skipLF: a CR ending the previous read still owns a LF
    // at the start of the next non-empty one.
    if (n === 0) return
    if (this.skipLF) {
      this.skipLF = false
      if (n > 0 && chunk[0] === LF) start = 1
    }
    for (let i = start; i < n; i++) {
      const b = chunk[i]
      if (b !== LF && b !== CR) continue
      this.emit(chunk, start, i, now)
      if (b === CR) {
        if (i + 1 < n) {
          if (chunk[i + 1] === LF) i++
        } else {
          this.skipLF = true
        }
      }
      start = i + 1
    }
    if (start < n) {
      const rest = chunk.subarray(start)
      this.pending = this.pending === null ? rest.slice() : concat(this.pending, rest)
    }
  }

  /** Emits a trailing line that had no terminator. */
  end(now: number): void {
    if (this.pending !== null && this.pending.length > 0) {
      const line = decoder.decode(this.pending)
      this.pending = null
      this.onLine(line, now)
    }
    this.pending = null
  }

  private emit(chunk: Uint8Array, start: number, end: number, now: number): void {
    let line: string
    if (this.pending !== null) {
      line = decoder.decode(concat(this.pending, chunk.subarray(start, end)))
      this.pending = null
    } else {
      line = start === end ? "" : decoder.decode(chunk.subarray(start, end))
    }
    this.onLine(line, now)
  }
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
