/**
 * The driver against a deliberately broken server: every failure lands in exactly one error
 * class (ErrorClass.ts), counts are exact, nothing is counted as ok, and stalls are bounded by
 * --timeout. Also: connection refused, an unreachable target during warmup, and a server that
 * fails every third request.
 */
import { createServer } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ErrorClass } from "../../src/domain/ErrorClass.ts"
import { LoadOptions } from "../../src/load/LoadOptions.ts"
import { runStage } from "../../src/load/Stage.ts"
import type { StageResult } from "../../src/domain/Results.ts"
import * as BrokenServer from "../support/BrokenServer.ts"
import { type BrokenMode, TOKENS } from "../support/BrokenServer.ts"

const REQUESTS = 6
const CONCURRENCY = 2
/** Per-request timeout for the stall cases, in seconds. */
const STALL_TIMEOUT = 0.4
/**
 * Stall cases send fewer requests: each waits out a timeout. The stage's deadline sweep runs
 * every timeout/20 (here 20 ms), so a silent or dripping server is cut off soon after
 * STALL_TIMEOUT; the slack allows for a loaded machine.
 */
const STALL_REQUESTS = 4
const TIMER_SLACK = 0.5

type Api = "ollama" | "openai"

interface Case {
  readonly mode: BrokenMode
  readonly api: Api
  readonly stream: boolean
  readonly expected: ErrorClass
  readonly expectTokens?: number
  readonly stall?: boolean
}

const both = (mode: BrokenMode, expected: ErrorClass, extra: Partial<Case> = {}): Array<Case> => [
  { mode, api: "ollama", stream: true, expected, ...extra },
  { mode, api: "openai", stream: true, expected, ...extra }
]

const cases: ReadonlyArray<Case> = [
  ...both("http500", "http_500"),
  { mode: "http500", api: "ollama", stream: false, expected: "http_500" },
  ...both("http429", "http_429"),
  ...both("truncated", "truncated"),
  // A buffered body cut in half is not JSON.
  { mode: "truncated", api: "ollama", stream: false, expected: "malformed" },
  { mode: "truncated", api: "openai", stream: false, expected: "malformed" },
  ...both("garbage", "malformed"),
  ...both("stream-error", "stream_error"),
  { mode: "stream-error", api: "ollama", stream: false, expected: "stream_error" },
  { mode: "stream-error", api: "openai", stream: false, expected: "stream_error" },
  { mode: "event-error", api: "openai", stream: true, expected: "stream_error" },
  ...both("stall-headers", "timeout", { stall: true }),
  ...both("stall-body", "timeout", { stall: true }),
  ...both("drip", "timeout", { stall: true }),
  ...both("reset-headers", "reset"),
  ...both("reset-mid", "reset"),
  ...both("empty", "empty"),
  { mode: "empty", api: "ollama", stream: false, expected: "empty" },
  { mode: "empty", api: "openai", stream: false, expected: "empty" },
  // The server is correct but sends TOKENS; the run expects more.
  ...both("short", "token_mismatch", { expectTokens: TOKENS + 2 }),
  { mode: "short", api: "ollama", stream: false, expected: "token_mismatch", expectTokens: TOKENS + 2 },
  { mode: "short", api: "openai", stream: false, expected: "token_mismatch", expectTokens: TOKENS + 2 },
  // TOKENS chunks arrive, but the final chunk reports one fewer.
  ...both("misreport", "token_mismatch", { expectTokens: TOKENS })
]

const stage = (url: string, c: Partial<Case>, extra: Partial<ConstructorParameters<typeof LoadOptions>[0]> = {}) =>
  runStage(
    LoadOptions.make({
      url,
      api: c.api ?? "ollama",
      stream: c.stream ?? true,
      concurrency: CONCURRENCY,
      requests: c.stall === true ? STALL_REQUESTS : REQUESTS,
      warmupSeconds: 0,
      timeoutSeconds: c.stall === true ? STALL_TIMEOUT : 5,
      ...(c.expectTokens !== undefined ? { expectTokens: c.expectTokens } : {}),
      ...extra
    })
  )

/** Polls `cond` every 10 ms until it holds; fails after `withinMs`. */
const eventually = (what: string, cond: () => Promise<boolean>, withinMs = 2000) =>
  Effect.promise(async () => {
    const until = performance.now() + withinMs
    while (!(await cond())) {
      if (performance.now() > until) throw new Error(`not within ${withinMs} ms: ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  })

const assertAllFailed = (s: StageResult, cls: ErrorClass, n: number) => {
  assert.strictEqual(s.ok, 0, "ok")
  assert.strictEqual(s.requests, n, "requests")
  assert.strictEqual(s.errors, n, "errors")
  assert.deepStrictEqual(s.errorsByClass, { [cls]: n })
  assert.isString(s.errorSamples[cls])
  assert.strictEqual(s.latency.count, 0, "no latency recorded for failures")
  assert.strictEqual(s.outputChunks, 0)
}

/** A free port with nothing listening on it. */
const closedPort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const srv = createServer()
      srv.listen(0, "127.0.0.1", () => {
        const port = (srv.address() as { port: number }).port
        srv.close(() => resolve(port))
      })
    })
)

describe("driver against a broken server", () => {
  for (const c of cases) {
    const name = `${c.mode} (${c.api}, ${c.stream ? "stream" : "buffered"}${c.expectTokens ? `, expect ${c.expectTokens} tokens` : ""}) → ${c.expected}`
    it.scopedLive(name, () =>
      Effect.gen(function* () {
        const server = yield* BrokenServer.make
        const t0 = performance.now()
        const s = yield* stage(server.urlFor(c.mode), c)
        const seconds = (performance.now() - t0) / 1000
        const n = c.stall === true ? STALL_REQUESTS : REQUESTS
        assertAllFailed(s, c.expected, n)
        assert.strictEqual(server.received(c.mode), n, "the server saw exactly the counted requests")
        if (c.stall === true) {
          // Each client waits out the timeout n / CONCURRENCY times, one after another.
          const rounds = n / CONCURRENCY
          assert.isAtLeast(seconds, rounds * STALL_TIMEOUT)
          assert.isBelow(seconds, rounds * (STALL_TIMEOUT + TIMER_SLACK) + 0.5)
          // Timed-out requests are aborted, not left hanging on the server.
          yield* eventually("connections closed", async () => (await server.connections()) === 0)
        } else {
          assert.isBelow(seconds, 2)
        }
      })
    )
  }

  it.scopedLive("control: the same server's correct mode is ok with exact token counts", () =>
    Effect.gen(function* () {
      const server = yield* BrokenServer.make
      for (const api of ["ollama", "openai"] as const) {
        for (const stream of [true, false]) {
          const s = yield* stage(server.urlFor("ok"), { api, stream, expectTokens: TOKENS })
          assert.strictEqual(s.ok, REQUESTS, `${api} stream=${stream}`)
          assert.deepStrictEqual(s.errorsByClass, {})
          assert.strictEqual(s.reportedTokens, REQUESTS * TOKENS)
          assert.strictEqual(s.outputChunks, REQUESTS * (stream ? TOKENS : 1))
        }
      }
      // Without expectTokens the driver has nothing to compare a misreported count with.
      const s = yield* stage(server.urlFor("misreport"), {})
      assert.strictEqual(s.ok, REQUESTS)
      assert.strictEqual(s.reportedTokens, REQUESTS * (TOKENS - 1))
    })
  )

  it.scopedLive("any target: chunks that differ from the reported count are ok but counted as token mismatches", () =>
    Effect.gen(function* () {
      const server = yield* BrokenServer.make
      for (const api of ["ollama", "openai"] as const) {
        const s = yield* stage(server.urlFor("misreport"), { api })
        assert.strictEqual(s.ok, REQUESTS)
        assert.strictEqual(s.tokenMismatches, REQUESTS)
        const good = yield* stage(server.urlFor("ok"), { api })
        assert.strictEqual(good.tokenMismatches, 0)
      }
    })
  )

  it.scopedLive("every third request a 500: an exact split of ok and http_500", () =>
    Effect.gen(function* () {
      const server = yield* BrokenServer.make
      for (const api of ["ollama", "openai"] as const) {
        const s = yield* stage(server.urlFor("every3rd-500"), { api }, { requests: 30, concurrency: 3, expectTokens: TOKENS })
        assert.strictEqual(s.requests, 30)
        assert.strictEqual(s.ok, 20)
        assert.strictEqual(s.errors, 10)
        assert.deepStrictEqual(s.errorsByClass, { http_500: 10 })
        assert.strictEqual(s.outputChunks, 20 * TOKENS)
        assert.strictEqual(s.reportedTokens, 20 * TOKENS)
        assert.strictEqual(s.latency.count, 20, "latency only for ok requests")
        assert.strictEqual(s.ttft.count, 20)
      }
      assert.strictEqual(server.received("every3rd-500"), 60)
    })
  )

  it.live("connection refused: every request is connect, and fast", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const t0 = performance.now()
      const s = yield* stage(`http://127.0.0.1:${port}`, {}, { timeoutSeconds: 10 })
      const seconds = (performance.now() - t0) / 1000
      assertAllFailed(s, "connect", REQUESTS)
      // Refusals must not wait for the timeout (10 s × 6 requests would be a minute).
      assert.isBelow(seconds, 2)
    })
  )

  it.live("warmup with nothing listening fails the stage with TargetUnreachable", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const url = `http://127.0.0.1:${port}`
      const t0 = performance.now()
      const err = yield* Effect.flip(stage(url, {}, { warmupSeconds: 0.3, timeoutSeconds: 10 }))
      if (err._tag !== "TargetUnreachable") return assert.fail(`expected TargetUnreachable, got ${err.message}`)
      assert.strictEqual(err.url, url)
      assert.isBelow((performance.now() - t0) / 1000, 2)
    })
  )

  it.scopedLive("warmup against a server that answers 500 is not unreachable: the errors are counted", () =>
    Effect.gen(function* () {
      const server = yield* BrokenServer.make
      const s = yield* stage(server.urlFor("http500"), {}, { warmupSeconds: 0.2 })
      assertAllFailed(s, "http_500", REQUESTS)
      assert.isAbove(s.warmupRequests, 0)
      assert.strictEqual(server.received("http500"), REQUESTS + s.warmupRequests)
    })
  )
})
