import { Effect } from "effect"
import { Client, type Dispatcher } from "undici"
import type { Recorder } from "../stats/Recorder.ts"
import { classifyError, type ErrorClass, httpClass } from "../domain/ErrorClass.ts"
import { OllamaStreamParser, parseOllamaBody } from "./parse/OllamaStream.ts"
import { OpenAiStreamParser, parseOpenAiBody } from "./parse/OpenAiStream.ts"
import type { StreamParser } from "./parse/ParseState.ts"
import type { RequestSpec } from "./RequestSpec.ts"

/** The stage-wide facts a client needs; owned by the stage. */
export interface ClientContext {
  /** Scheme, host and port of the target: each virtual client has its own connection to it. */
  readonly origin: string
  readonly connection: Client.Options
  readonly spec: RequestSpec
  readonly recorder: Recorder
  readonly timeoutMs: number
  /** Tokens each response must carry (our mock); 0 when unknown. */
  readonly expectTokens: number
  /** Called when a request is done (measured or not), after it was recorded. */
  readonly onDone: (measured: boolean, endedAt: number) => void
}

class Stopped extends Error {}
class TimedOut extends Error {
  readonly code = "UND_ERR_BODY_TIMEOUT"
}
const STOPPED = new Stopped("stage stopped")
const TIMED_OUT = new TimedOut("request exceeded --timeout")
/** The body is already known not to be a chat response: reading on would only cost time. */
const NOT_CHAT = new Error("response is not a chat response")

/** A buffered body larger than this is no chat completion; kept bodies of errors stop growing at it too. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

const decoder = new TextDecoder()

/** undici connection options for a stage whose --timeout is `timeoutMs`. */
export const connectionOptions = (timeoutMs: number): Client.Options => {
  // The stage's deadline sweep enforces --timeout; undici's own timers are only a backstop and
  // never get less than 1 s (sub-millisecond values make undici spin and starve the event loop).
  const backstop = Math.max(1_000, Math.ceil(timeoutMs) + 1_000)
  return {
    pipelining: 1,
    headersTimeout: backstop,
    bodyTimeout: backstop,
    connectTimeout: Math.min(backstop, 10_000),
    keepAliveTimeout: 4_000
  }
}

const resumeLater = (resume: (effect: Effect.Effect<void>) => void) => resume(Effect.void)

/**
 * One virtual client: sends one request at a time and records its outcome. It owns one undici
 * `Client` (one keep-alive connection: no pool to scan, whatever the concurrency) and is its
 * own dispatch handler, reused for every request, so the request path allocates almost
 * nothing: no response stream object, no per-request closure, no per-request AbortController.
 */
export class VirtualClient implements Dispatcher.DispatchHandler {
  private readonly parser: StreamParser
  private readonly parseBody: typeof parseOllamaBody
  private bodyChunks: Buffer[] = []
  private bodyBytes = 0
  private gaps: number[] = []
  private gapCount = 0
  private prevContentAt = -1

  private controller: Dispatcher.DispatchController | null = null
  private status = 0
  private tSched = 0
  private tFirstByte = -1
  private deadline = 0
  private measured = false
  private failure: unknown = null
  private stopped = false
  private busy = false
  private late = false
  private resume: ((effect: Effect.Effect<void>) => void) | null = null
  private closing: Promise<void> | undefined
  private readonly dispatcher: Client
  /** The request as one Effect, built once (see `request`). */
  private readonly requestEffect: Effect.Effect<void>

  constructor(private readonly ctx: ClientContext) {
    this.dispatcher = new Client(ctx.origin, ctx.connection)
    // No canceler: one costs about 4.5 µs of CPU per request (bench/fiber-resume.ts). An
    // interrupted fiber abandons the request; the stage then cancels every client at once.
    this.requestEffect = Effect.async<void>((resume) => {
      this.resume = resume
      this.start()
    })
    const onContent = (now: number) => {
      if (this.prevContentAt >= 0) {
        if (this.gapCount === this.gaps.length) this.gaps.push(0)
        this.gaps[this.gapCount++] = now - this.prevContentAt
      }
      this.prevContentAt = now
    }
    if (ctx.spec.api === "ollama") {
      this.parser = new OllamaStreamParser(onContent)
      this.parseBody = parseOllamaBody
    } else {
      this.parser = new OpenAiStreamParser(onContent)
      this.parseBody = parseOpenAiBody
    }
  }

  /**
   * One request meant to start at `tSched` (performance.now() ms), as an Effect that succeeds
   * once its outcome is recorded. Never fails: failures are counted, not thrown. `late`: it
   * waited for a free slot (open loop at --max-inflight), so its delay is not the driver's lag.
   * Interrupted, the fiber lets go at once; `cancel` (the stage calls it for every client
   * after interrupting their fibers) then drops the request uncounted and aborts it.
   */
  request(tSched: number, measured: boolean, late = false): Effect.Effect<void> {
    this.tSched = tSched
    this.measured = measured
    this.late = late
    return this.requestEffect
  }

  private start(): void {
    this.status = 0
    this.tFirstByte = -1
    this.failure = null
    this.gapCount = 0
    this.prevContentAt = -1
    this.bodyChunks.length = 0
    this.bodyBytes = 0
    this.parser.reset()
    this.busy = true
    const now = performance.now()
    this.ctx.recorder.onSend(this.measured, now - this.tSched, this.late)
    this.deadline = now + this.ctx.timeoutMs
    const spec = this.ctx.spec
    try {
      this.dispatcher.dispatch({ path: spec.path, method: "POST", headers: spec.headers, body: spec.body }, this)
    } catch (err) {
      this.failure = err
      this.finish(performance.now())
    }
  }

  /**
   * Stops the client for good: a request in flight is dropped uncounted and the connection
   * closed. Destroying the connection with a preallocated error is much cheaper than an abort
   * per request (which builds errors and stack traces) when thousands stop at once.
   */
  cancel(): void {
    this.stopped = true
    this.resume = null
    if (this.busy) {
      this.busy = false
      this.ctx.recorder.inFlight--
    }
    this.controller = null
    void this.close()
  }

  /** Cuts the request in flight once its --timeout has passed (the stage sweeps all clients). */
  checkDeadline(now: number): void {
    if (this.busy && now > this.deadline && this.controller !== null && !this.controller.aborted) this.controller.abort(TIMED_OUT)
  }

  /** Closes the connection (the stage's scope does, after every request fiber has ended); idempotent. */
  close(): Promise<void> {
    this.closing ??= this.dispatcher.destroy(STOPPED).catch(() => undefined)
    return this.closing
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.stopped) controller.abort(STOPPED)
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const now = performance.now()
    if (this.tFirstByte < 0) this.tFirstByte = now
    if (now > this.deadline) {
      controller.abort(TIMED_OUT)
      return
    }
    const ok = this.status >= 200 && this.status < 300
    if (ok && this.ctx.spec.stream) {
      this.parser.feed(chunk, now)
      if (this.parser.state.error === "malformed") controller.abort(NOT_CHAT)
    } else if (this.bodyBytes + chunk.length <= MAX_BODY_BYTES) {
      this.bodyChunks.push(chunk)
      this.bodyBytes += chunk.length
    } else if (ok) {
      this.parser.state.fail("malformed", `a body of more than ${MAX_BODY_BYTES} bytes`)
      controller.abort(NOT_CHAT)
    }
    // An error status: its first MAX_BODY_BYTES are enough for the sample; the rest is dropped.
  }

  onResponseEnd(): void {
    this.finish(performance.now())
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.failure = error
    this.finish(performance.now())
  }

  private finish(now: number): void {
    if (!this.busy) return
    this.busy = false
    this.controller = null
    const rec = this.ctx.recorder
    rec.inFlight--
    const resume = this.resume
    this.resume = null
    const cls = this.outcome(now)
    if (this.measured) {
      if (cls === null) {
        const st = this.parser.state
        const ttft = this.ctx.spec.stream && st.firstContentAt >= 0 ? st.firstContentAt - this.tSched : -1
        const ttfb = this.tFirstByte >= 0 ? this.tFirstByte - this.tSched : -1
        rec.recordOk(now - this.tSched, ttfb, ttft, st.contentChunks, st.reportedTokens, this.gaps, this.gapCount)
      } else {
        rec.recordError(cls, this.detail(cls))
      }
    } else {
      rec.recordWarmup(cls === null, cls)
    }
    this.ctx.onDone(this.measured, now)
    if (resume === null) return
    // A failure may come back at once (even inside dispatch): resuming on the next turn of the
    // event loop means a client that fails every request still lets timers, I/O and
    // interruption run between them.
    if (cls === null) resume(Effect.void)
    else setImmediate(resumeLater, resume)
  }

  /** null when ok, else the error class. */
  private outcome(now: number): ErrorClass | null {
    const st = this.parser.state
    if (this.failure !== null) {
      // A protocol error seen before the connection failed is the more specific cause.
      if (st.error !== null) return st.error
      return this.failure === TIMED_OUT ? "timeout" : classifyError(this.failure)
    }
    if (this.status < 200 || this.status >= 300) return httpClass(this.status)
    if (this.ctx.spec.stream) {
      this.parser.end(now)
    } else {
      this.parseBody(this.bodyText(), st, now)
    }
    if (st.error !== null) return st.error
    if (!st.sawFinal) return "truncated"
    if (st.contentChunks === 0) return "empty"
    const expect = this.ctx.expectTokens
    if (expect > 0) {
      if (st.reportedTokens >= 0 && st.reportedTokens !== expect) return "token_mismatch"
      if (this.ctx.spec.stream && st.contentChunks !== expect) return "token_mismatch"
    }
    return null
  }

  private bodyText(): string {
    const chunks = this.bodyChunks
    if (chunks.length === 0) return ""
    if (chunks.length === 1) return decoder.decode(chunks[0])
    return decoder.decode(Buffer.concat(chunks))
  }

  private detail(cls: ErrorClass): string {
    if (this.failure !== null && this.parser.state.error === null) {
      const e = this.failure as any
      return `${e?.code ? e.code + ": " : ""}${e?.message ?? String(e)}`
    }
    if (cls.startsWith("http_")) {
      const text = this.bodyText()
      return `HTTP ${this.status}${text ? ": " + text.slice(0, 200) : ""}`
    }
    if (this.parser.state.error !== null) return this.parser.state.errorDetail
    if (cls === "token_mismatch") {
      const st = this.parser.state
      return `expected ${this.ctx.expectTokens} tokens, received ${st.contentChunks} content chunks, server reported ${st.reportedTokens}`
    }
    return cls
  }
}
