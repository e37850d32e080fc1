import type { ServerResponse } from "node:http"
import type { ModelVariant } from "./Models.ts"
import type { Tickable, TokenTicker } from "./TokenTicker.ts"
import { isoNow, unixSeconds } from "./WallClock.ts"
import type { Wire, WireState } from "./Wire.ts"

/** Shaping and counters shared by every response of one server (plain fields: hot path). */
export interface MockState {
  readonly ticker: TokenTicker
  readonly ttftMs: number
  readonly tokMs: number
  readonly tokens: number
  requests: number
  tokensSent: number
  activeStreams: number
  /** Most responses in progress at once since start or the last `resetPeak`. */
  peakActive: number
  nextId: number
  /** Parallel generation slots (0: unlimited); responses beyond them wait in `queue`, FIFO. */
  readonly slots: number
  /** Slots in use. */
  busy: number
  /** Responses waiting for a slot (abandoned ones are skipped when their turn comes). */
  readonly queue: Array<Completion | undefined>
  queueHead: number
  /** Responses waiting now (abandoned ones excluded). */
  queued: number
  /** Re-entrancy guard of grantSlots (a granted response may finish, and release, at once). */
  granting: boolean
  /** This server's last encoded token block (see `tokenBlock`). */
  readonly block: TokenBlock
}

/**
 * The encoded content lines of a whole tok-ms-0 stream, remembered for the last (wire, head,
 * timestamp, token count): the lines differ only in `created_at`, which changes at most once a
 * millisecond, so the Ollama responses of one millisecond share one Buffer instead of each
 * concatenating, flattening and encoding `tokens` lines (measured: ~19% of the mock's CPU).
 * OpenAI heads carry a per-response id, so they always rebuild. One per server (in its
 * `MockState`), so mocks never share or evict each other's block.
 */
export interface TokenBlock {
  wire: Wire | undefined
  head: string
  iso: string
  tokens: number
  bytes: Buffer
}

export const makeTokenBlock = (): TokenBlock => ({ wire: undefined, head: "", iso: "", tokens: -1, bytes: Buffer.alloc(0) })

/** Hands free slots to waiting responses, oldest first. */
const grantSlots = (state: MockState): void => {
  if (state.granting) return
  state.granting = true
  try {
    const q = state.queue
    while (state.busy < state.slots && state.queueHead < q.length) {
      const next = q[state.queueHead]!
      q[state.queueHead++] = undefined
      if (next.done) continue
      state.queued--
      next.acquire(performance.now())
    }
    if (state.queueHead === q.length) {
      q.length = 0
      state.queueHead = 0
    }
  } finally {
    state.granting = false
  }
}

/**
 * A client that stops reading makes `res.write` buffer. Each response is finite (tokens × one
 * short line), so buffering is bounded anyway; past this many queued bytes a stream also stops
 * producing tokens until the socket drains, as a real server blocked on its socket would.
 */
const MAX_BUFFERED = 1 << 20

const JSON_TYPE = "application/json"

/** The encoded content lines of `s` at `iso`: the server's last block when it matches, else a new one. */
const tokenBlock = (block: TokenBlock, wire: Wire, s: WireState, iso: string): Buffer => {
  if (wire === block.wire && iso === block.iso && s.tokens === block.tokens && s.head === block.head) return block.bytes
  let text = ""
  for (let i = 0; i < s.tokens; i++) text += wire.token(s, i, iso)
  block.wire = wire
  block.head = s.head
  block.iso = iso
  block.tokens = s.tokens
  block.bytes = Buffer.from(text)
  return block.bytes
}

/**
 * One inference response in progress: waits `ttftMs`, then streams `tokens` tokens `tokMs`
 * apart on the shared ticker, then the final line one `tokMs` later (the end-of-sequence step),
 * so a stream and a buffered reply both take `ttftMs + tokens × tokMs`. Due times are counted
 * from arrival, so timer lateness does not accumulate; a stream that falls more than a whole
 * token behind (an overloaded loop) continues from "now" rather than bursting to catch up.
 * With `tokMs: 0` a stream is written in one piece at TTFT. With `slots` set and all of them
 * busy, a response first waits its turn (no headers sent yet, as on a busy Ollama) and its
 * timing then counts from the moment it got a slot.
 */
export class Completion implements Tickable, WireState {
  done = false
  head = ""
  firstTokenAt = -1
  readonly id: number
  readonly created: number
  readonly tokens: number
  private sent = 0
  private due: number
  private holdsSlot = false
  /** When generation began: arrival, or when a waiting response got its slot. */
  private slotAt: number

  constructor(
    private readonly state: MockState,
    private readonly res: ServerResponse,
    private readonly wire: Wire,
    readonly variant: ModelVariant,
    private readonly stream: boolean,
    readonly includeUsage: boolean,
    readonly promptTokens: number,
    readonly startedAt: number
  ) {
    this.tokens = state.tokens
    this.id = ++state.nextId
    this.created = unixSeconds()
    this.due = startedAt + (stream ? state.ttftMs : state.ttftMs + state.tokens * state.tokMs)
    this.slotAt = startedAt
  }

  /** Registers the response and runs or schedules its first step, or queues it for a slot. */
  start(): void {
    const state = this.state
    if (++state.activeStreams > state.peakActive) state.peakActive = state.activeStreams
    this.res.on("close", () => this.abandon())
    if (state.slots > 0) {
      if (state.busy >= state.slots) {
        state.queue.push(this)
        state.queued++
        return
      }
      this.takeSlot()
    }
    this.begin(performance.now())
  }

  /** Called by grantSlots: this response got a slot after waiting; its timing starts now. */
  acquire(now: number): void {
    this.takeSlot()
    this.due += now - this.startedAt
    this.slotAt = now
    this.begin(now)
  }

  private begin(now: number): void {
    if (this.res.destroyed) return this.abandon()
    if (this.stream) {
      this.res.writeHead(200, this.wire.streamHeaders)
      this.wire.begin(this)
    }
    if (this.due <= now) this.tick(now)
    else this.state.ticker.schedule(this, this.due)
  }

  private takeSlot(): void {
    this.state.busy++
    this.holdsSlot = true
  }

  private releaseSlot(): void {
    if (!this.holdsSlot) return
    this.holdsSlot = false
    this.state.busy--
    grantSlots(this.state)
  }

  tick(now: number): void {
    const res = this.res
    if (res.destroyed) return this.abandon()
    try {
      if (!this.stream) this.sendWhole(now)
      else if (this.state.tokMs <= 0) this.sendAll(now)
      else this.step(now)
    } catch {
      res.destroy()
      this.abandon()
    }
  }

  private step(now: number): void {
    const state = this.state
    if (this.sent >= this.tokens) return this.finish(this.wire.end(this, isoNow(), now))
    if (this.sent === 0) this.firstTokenAt = now
    const flushed = this.res.write(this.wire.token(this, this.sent, isoNow()))
    this.sent++
    state.tokensSent++
    let next = this.due + state.tokMs
    if (next <= now) next = now + state.tokMs
    this.due = next
    if (!flushed && this.res.writableLength > MAX_BUFFERED) {
      this.res.once("drain", () => {
        if (!this.done) state.ticker.schedule(this, this.due)
      })
    } else {
      state.ticker.schedule(this, next)
    }
  }

  private sendAll(now: number): void {
    const iso = isoNow()
    const n = this.tokens
    this.firstTokenAt = now
    const block = tokenBlock(this.state.block, this.wire, this, iso)
    this.sent = n
    this.state.tokensSent += n
    // One chunk for the tokens, one for the final line(s), in one socket write.
    this.res.cork()
    this.res.write(block)
    this.finish(this.wire.end(this, iso, now))
  }

  private sendWhole(now: number): void {
    this.firstTokenAt = this.slotAt + this.state.ttftMs
    const body = this.wire.whole(this, isoNow(), now)
    this.res.writeHead(200, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(body) })
    this.sent = this.tokens
    this.state.tokensSent += this.tokens
    this.finish(body)
  }

  private finish(last: string): void {
    this.done = true
    this.state.activeStreams--
    this.state.requests++
    this.res.end(last)
    this.releaseSlot()
  }

  /** The client went away (or the server is closing): stop counting this response. */
  private abandon(): void {
    if (this.done) return
    this.done = true
    this.state.activeStreams--
    // Without a slot under a slot limit, it was still waiting in the queue.
    if (this.holdsSlot) this.releaseSlot()
    else if (this.state.slots > 0) this.state.queued--
  }
}
