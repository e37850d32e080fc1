import type { Dispatcher, Pool } from "undici"
import type { Recorder } from "../stats/Recorder.ts"
import { classifyError, type ErrorClass, httpClass } from "./ErrorClass.ts"
import { OllamaStreamParser, parseOllamaBody } from "./parse/OllamaStream.ts"
import { OpenAiStreamParser, parseOpenAiBody } from "./parse/OpenAiStream.ts"
import type { StreamParser } from "./parse/ParseState.ts"
import type { RequestSpec } from "./RequestSpec.ts"

/** The stage-wide facts a client needs; owned by the stage. */
export interface ClientContext {
  readonly pool: Pool
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

const decoder = new TextDecoder()

/**
 * One virtual client: sends one request at a time and records its outcome. It is its own
 * undici dispatch handler, reused for every request, so the request path allocates almost
 * nothing: no response stream object, no per-request closure, no per-request AbortController.
 */
export class VirtualClient implements Dispatcher.DispatchHandler {
  private readonly parser: StreamParser
  private readonly parseBody: typeof parseOllamaBody
  private bodyChunks: Buffer[] = []
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
  private resolve: (() => void) | null = null

  constructor(private readonly ctx: ClientContext) {
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
   * Sends one request meant to start at `tSched` (performance.now() ms) and resolves once
   * its outcome is recorded. Never rejects: failures are counted, not thrown. `late`: it
   * waited for a free slot (open loop at --max-inflight), so its delay is not the driver's lag.
   */
  send(tSched: number, measured: boolean, late = false): Promise<void> {
    this.tSched = tSched
    this.measured = measured
    this.status = 0
    this.tFirstByte = -1
    this.failure = null
    this.gapCount = 0
    this.prevContentAt = -1
    this.bodyChunks.length = 0
    this.parser.reset()
    this.busy = true
    const now = performance.now()
    this.ctx.recorder.onSend(measured, now - tSched, late)
    this.deadline = now + this.ctx.timeoutMs
    const spec = this.ctx.spec
    return new Promise<void>((resolve) => {
      this.resolve = resolve
      try {
        this.ctx.pool.dispatch({ path: spec.path, method: "POST", headers: spec.headers, body: spec.body }, this)
      } catch (err) {
        this.failure = err
        this.finish(performance.now())
      }
    })
  }

  /** Aborts the request in flight, if any, without recording it. */
  stop(): void {
    this.stopped = true
    if (this.busy && this.controller !== null && !this.controller.aborted) this.controller.abort(STOPPED)
  }

  /** Cuts the request in flight once its --timeout has passed (the stage sweeps all clients). */
  checkDeadline(now: number): void {
    if (this.busy && now > this.deadline && this.controller !== null && !this.controller.aborted) this.controller.abort(TIMED_OUT)
  }

  get isStopped(): boolean {
    return this.stopped
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
    if (this.status >= 200 && this.status < 300 && this.ctx.spec.stream) this.parser.feed(chunk, now)
    else if (this.bodyChunks.length < 1024) this.bodyChunks.push(chunk)
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
    const resolve = this.resolve!
    this.resolve = null
    if (this.failure === STOPPED || (this.stopped && this.failure !== null)) {
      resolve()
      return
    }
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
    resolve()
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
