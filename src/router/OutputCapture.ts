import type * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Stream } from "effect"
import { LineReader } from "../load/parse/LineReader.ts"

const TAIL_LINES = 20
const MAX_LINE = 2000
/** An unterminated line longer than this is cut into a line of its own (memory stays bounded). */
const MAX_PENDING = 64 * 1024

/** The last lines of the router's output. */
class OutputRing {
  private lines: Array<string> = []
  constructor(private readonly keep: number) {}
  add(line: string): void {
    this.lines.push(line.length > MAX_LINE ? line.slice(0, MAX_LINE) + "…" : line)
    if (this.lines.length > this.keep * 4) this.lines = this.lines.slice(-this.keep)
  }
  tail(n: number): ReadonlyArray<string> {
    return this.lines.slice(-n)
  }
}

/**
 * LineReader (the stream parsers' splitter) plus a bound on an unterminated line: a router that
 * prints without newlines must not grow our memory. `flush` hands over a partial line (at EOF,
 * or before an error message quotes the output).
 */
class Lines {
  private readonly reader: LineReader
  private pending = 0
  constructor(onLine: (line: string) => void) {
    this.reader = new LineReader((line) => onLine(line))
  }
  push(chunk: Uint8Array): void {
    this.reader.feed(chunk, 0)
    const last = Math.max(chunk.lastIndexOf(10), chunk.lastIndexOf(13))
    this.pending = last >= 0 ? chunk.length - last - 1 : this.pending + chunk.length
    if (this.pending > MAX_PENDING) this.flush()
  }
  flush(): void {
    this.reader.end(0)
    this.pending = 0
  }
}

export interface OutputCapture {
  /** Reads a stream to its end (never stops early: an unread pipe blocks the router once full). */
  readonly drain: (stream: Stream.Stream<Uint8Array, unknown>, which: "stdout" | "stderr") => Effect.Effect<void>
  /** The last `n` (default 20) lines, stdout and stderr interleaved. */
  readonly outputTail: (n?: number) => ReadonlyArray<string>
  /**
   * For error messages: stderr's last lines when it has any. uvicorn writes its own messages and
   * Python tracebacks to stderr and the access log to stdout, so busy workers cannot push the
   * reason for a crash out of the tail. Partial lines are included.
   */
  readonly errorTail: () => ReadonlyArray<string>
}

/**
 * Everything the router prints goes to `logFile` (up to `logMaxBytes`, then a marker line and
 * the rest is read and dropped) and into line rings for the error tails; with `echo`, also to
 * our stderr prefixed `[router] `.
 */
export const make = (options: { readonly logFile: FileSystem.File; readonly logMaxBytes: number; readonly echo: boolean }): OutputCapture => {
  const ring = new OutputRing(TAIL_LINES * 5)
  const stderrRing = new OutputRing(TAIL_LINES * 5)
  const onLine = (line: string) => {
    ring.add(line)
    if (options.echo) process.stderr.write(`[router] ${line}\n`)
  }
  const lines = {
    stdout: new Lines(onLine),
    stderr: new Lines((line) => {
      stderrRing.add(line)
      onLine(line)
    })
  }
  /** Set once router.log takes no more: it reached logMaxBytes, or a write failed. */
  let logClosed = false
  let logBytes = 0
  const toLog = (chunk: Uint8Array) => {
    if (logBytes + chunk.length <= options.logMaxBytes) {
      logBytes += chunk.length
      return options.logFile.writeAll(chunk)
    }
    // Fill up to the cap, then the marker.
    logClosed = true
    const room = chunk.subarray(0, Math.max(0, options.logMaxBytes - logBytes))
    logBytes += room.length
    return options.logFile.writeAll(room).pipe(
      Effect.zipRight(
        options.logFile.writeAll(
          new TextEncoder().encode(`\n[nomyo-load: router.log reached ${options.logMaxBytes} bytes; the rest of the router's output was read and dropped]\n`)
        )
      )
    )
  }
  const drain = (stream: Stream.Stream<Uint8Array, unknown>, which: "stdout" | "stderr") =>
    stream.pipe(
      Stream.runForEach((chunk) =>
        Effect.suspend(() => {
          lines[which].push(chunk)
          return logClosed ? Effect.void : toLog(chunk).pipe(Effect.catchAll(() => Effect.sync(() => void (logClosed = true))))
        })
      ),
      Effect.ignore,
      Effect.ensuring(Effect.sync(() => lines[which].flush()))
    )
  const outputTail = (n = TAIL_LINES) => ring.tail(n)
  const errorTail = (): ReadonlyArray<string> => {
    lines.stdout.flush()
    lines.stderr.flush()
    const err = stderrRing.tail(TAIL_LINES)
    return err.length > 0 ? err : outputTail()
  }
  return { drain, outputTail, errorTail }
}
