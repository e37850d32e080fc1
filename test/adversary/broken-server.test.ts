/**
 * The broken-server matrix (issue 9): every way a server can break × both APIs (Ollama NDJSON
 * /api/chat, OpenAI SSE /v1/chat/completions) × stream / buffered. Each run goes through the
 * library's public `runStage` and must put every request in the one expected error class (or
 * count it ok, for the one valid-but-unusual reply) and end within its bound.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { LoadOptions, runStage } from "../../src/index.ts"
import * as BrokenServer from "../support/BrokenServer.ts"
import { type BrokenMode, TOKENS } from "../support/BrokenServer.ts"

type Api = "ollama" | "openai"

/** Requests per run, and clients: two rounds of two. */
const REQUESTS = 4
const CONCURRENCY = 2
/** Per-request timeout of every run, in seconds; the stall cases wait it out. */
const TIMEOUT = 0.5
/** A run that does not wait out a timeout ends within this (generous: a loaded 2-core box). */
const FAST_BOUND_S = 5
/** A stall run waits out REQUESTS / CONCURRENCY timeouts, one after another, plus this slack. */
const STALL_SLACK_S = 3

interface Row {
  readonly mode: BrokenMode
  /** What the row stands for in issue 9's list. */
  readonly what: string
  /** The class every request must land in, per stream/buffered; "ok" = every request ok. */
  readonly stream: string
  readonly buffered: string
  readonly stall?: boolean
  readonly apis?: ReadonlyArray<Api>
  /** Sent as expectTokens (token-count checks). */
  readonly expectTokens?: number
  readonly requests?: number
  /** Per-request timeout (default TIMEOUT) and the bound of a run that must not wait it out (default FAST_BOUND_S). */
  readonly timeout?: number
  readonly boundS?: number
}

const rows: ReadonlyArray<Row> = [
  { mode: "accept-close", what: "closes at once (on accept)", stream: "reset", buffered: "reset" },
  { mode: "reset-headers", what: "closes after reading the request", stream: "reset", buffered: "reset" },
  { mode: "http500", what: "answers 500", stream: "http_500", buffered: "http_500" },
  // Nothing at all where a body was due: truncated, streamed or not.
  { mode: "empty-200", what: "empty 200", stream: "truncated", buffered: "truncated" },
  // Buffered, half a JSON body cannot be told from a bad one: malformed.

  { mode: "mid-line", what: "stops mid-line", stream: "truncated", buffered: "malformed" },
  { mode: "truncated", what: "no final line / [DONE]", stream: "truncated", buffered: "malformed" },
  { mode: "reset-mid", what: "connection lost mid-stream", stream: "reset", buffered: "reset" },
  { mode: "stall-body", what: "stalls after the first bytes", stream: "timeout", buffered: "timeout", stall: true },
  { mode: "stall-headers", what: "never answers", stream: "timeout", buffered: "timeout", stall: true },
  { mode: "drip", what: "trickles forever", stream: "timeout", buffered: "timeout", stall: true },
  { mode: "garbage", what: "sends garbage", stream: "malformed", buffered: "malformed" },
  // Refused as soon as it is known to be no chunk: well before the (long) timeout.
  { mode: "huge-line", what: "a huge line (32 MiB)", stream: "malformed", buffered: "malformed", requests: 1, timeout: 4, boundS: 3 },
  { mode: "http10", what: "HTTP/1.0 without content-length", stream: "ok", buffered: "ok" },
  { mode: "misreport", what: "a wrong token count", stream: "token_mismatch", buffered: "token_mismatch", expectTokens: TOKENS },
  { mode: "stream-error", what: "an error object mid-stream", stream: "stream_error", buffered: "stream_error" },
  { mode: "event-error", what: "an SSE error event mid-stream", stream: "stream_error", buffered: "", apis: ["openai"] }
]


describe("broken-server matrix: runStage classifies every failure and ends in time", () => {
  for (const row of rows) {
    for (const api of row.apis ?? (["ollama", "openai"] as const)) {
      for (const stream of row.apis !== undefined ? [true] : [true, false]) {
        const expected = stream ? row.stream : row.buffered
        const key = `${row.mode} ${api} ${stream ? "stream" : "buffered"}`
        const name = `${row.what}: ${key} → ${expected}`
        it.scopedLive(name, () =>
          Effect.gen(function* () {
            const server = yield* BrokenServer.make
            const n = row.requests ?? REQUESTS
            const t0 = performance.now()
            const s = yield* runStage(
              LoadOptions.make({
                url: server.urlFor(row.mode),
                api,
                stream,
                concurrency: CONCURRENCY,
                requests: n,
                warmupSeconds: 0,
                timeoutSeconds: row.timeout ?? TIMEOUT,
                ...(row.expectTokens !== undefined ? { expectTokens: row.expectTokens } : {})
              })
            )
            const seconds = (performance.now() - t0) / 1000
            assert.strictEqual(s.requests, n, "every request counted")
            if (expected === "ok") {
              assert.strictEqual(s.ok, n, JSON.stringify(s.errorSamples))
              assert.strictEqual(s.errors, 0)
              assert.deepStrictEqual(s.errorsByClass, {})
            } else {
              assert.deepStrictEqual(s.errorsByClass, { [expected]: n }, JSON.stringify(s.errorSamples))
              assert.strictEqual(s.ok, 0, "nothing counted ok")
              assert.strictEqual(s.errors, n)
            }
            assert.strictEqual(server.received(row.mode), n, "the server saw exactly the counted requests")
            if (row.stall === true) {
              const rounds = Math.ceil(n / CONCURRENCY)
              assert.isAtLeast(seconds, rounds * TIMEOUT * 0.9, "a stall is waited out, not cut early")
              assert.isBelow(seconds, rounds * TIMEOUT + STALL_SLACK_S, "a stall is cut at the timeout")
            } else {
              assert.isBelow(seconds, row.boundS ?? FAST_BOUND_S)
            }
          })
        )
      }
    }
  }
})
