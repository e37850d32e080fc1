const LF = 10
const CR = 13

const decoder = new TextDecoder()

/** A line longer than this is refused: no chat chunk is that long, and holding it costs memory. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024

/**
 * Splits a byte stream into lines at LF, CRLF or a lone CR, whatever the chunking. Lines are
 * decoded as UTF-8 only once complete; LF and CR never occur inside a multi-byte UTF-8
 * sequence, so splitting bytes first is safe. The pieces of an unfinished line are kept in a
 * list and joined once (linear in its length); past `maxLineBytes` the line is dropped and
 * reported once through `onOverlong`, and the rest of it up to its terminator is skipped.
 */
export class LineReader {
  private parts: Array<Uint8Array> = []
  private pendingBytes = 0
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to it. */
  private skipLF = false
  /** Inside a line already refused as too long. */
  private overlong = false

  /**
   * `onLine(line, now, last)`: `last` is true for a trailing line that had no terminator
   * (the body was cut or simply ended without one).
   */
  constructor(
    private readonly onLine: (line: string, now: number, last: boolean) => void,
    private readonly onOverlong: (bytes: number) => void = () => {},
    private readonly maxLineBytes = MAX_LINE_BYTES
  ) {}

  reset(): void {
    this.parts.length = 0
    this.pendingBytes = 0
    this.skipLF = false
    this.overlong = false
  }

  feed(chunk: Uint8Array, now: number): void {
    let start = 0
    const n = chunk.length
    // An empty read must not clear skipLF: a CR ending the previous read still owns a LF
    // at the start of the next non-empty one.
    if (n === 0) return
    if (this.skipLF) {
      this.skipLF = false
      if (chunk[0] === LF) start = 1
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
    if (start < n && !this.overlong) {
      this.parts.push(chunk.slice(start))
      this.pendingBytes += n - start
      if (this.pendingBytes > this.maxLineBytes) this.refuse(this.pendingBytes)
    }
  }

  /** Emits a trailing line that had no terminator. */
  end(now: number): void {
    if (!this.overlong && this.pendingBytes > 0) this.onLine(decoder.decode(this.take()), now, true)
    this.reset()
  }

  private emit(chunk: Uint8Array, start: number, end: number, now: number): void {
    if (this.overlong) {
      // The terminator of the refused line: what follows is a new line.
      this.overlong = false
      return
    }
    let line: string
    if (this.pendingBytes > 0) {
      this.parts.push(chunk.subarray(start, end))
      this.pendingBytes += end - start
      if (this.pendingBytes > this.maxLineBytes) {
        this.refuse(this.pendingBytes)
        this.overlong = false
        return
      }
      line = decoder.decode(this.take())
    } else {
      if (end - start > this.maxLineBytes) return this.onOverlong(end - start)
      line = start === end ? "" : decoder.decode(chunk.subarray(start, end))
    }
    this.onLine(line, now, false)
  }

  private take(): Uint8Array {
    const parts = this.parts
    const out = parts.length === 1 ? parts[0]! : new Uint8Array(this.pendingBytes)
    if (parts.length > 1) {
      let at = 0
      for (const p of parts) {
        out.set(p, at)
        at += p.length
      }
    }
    parts.length = 0
    this.pendingBytes = 0
    return out
  }

  private refuse(bytes: number): void {
    this.parts.length = 0
    this.pendingBytes = 0
    this.overlong = true
    this.onOverlong(bytes)
  }
}
