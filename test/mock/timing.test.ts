import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Agent } from "undici"
import * as MockBackend from "../../src/mock/MockBackend.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import { call, ndjson, sse } from "./client.ts"

/**
 * Shaping on real sockets: lower bounds on TTFT and on token spacing (the mock never sends
 * early), generous upper bounds only, and hundreds of slow streams on one shared timer.
 */

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** Arrival time of the first line that carries content (Ollama NDJSON). */
const ollamaContentTimes = (r: Awaited<ReturnType<typeof call>>) =>
  r.arrivals.filter((a) => {
    const line = JSON.parse(a.text)
    return line.done === false && line.message.content.length > 0
  })

describe("mock backend timing", () => {
  it.scopedLive("TTFT is at least ttftMs, for streams and buffered replies", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 60, tokens: 3, tokMs: 1 }))
      const r = yield* promise(() => call(mock.url, "/api/chat", { body: { model: "mock", stream: true } }))
      const first = ollamaContentTimes(r)[0]!.at - r.sentAt
      assert.isAtLeast(first, 60)
      assert.isBelow(first, 1060)

      const o = yield* promise(() =>
        call(mock.url, "/v1/chat/completions", { body: { model: "mock", stream: true }, separator: "\n\n" })
      )
      const firstContent = o.arrivals.find((a) => a.text !== "data: [DONE]" && JSON.parse(a.text.slice(6)).choices[0]?.delta?.content)
      assert.isAtLeast(firstContent!.at - o.sentAt, 60)

      // Buffered: the whole reply waits ttftMs + tokens × tokMs.
      const b = yield* promise(() => call(mock.url, "/api/chat", { body: { model: "mock", stream: false } }))
      assert.isAtLeast(b.endedAt - b.sentAt, 63)
      assert.isBelow(b.endedAt - b.sentAt, 1063)
    })
  )

  it.scopedLive("a 10-token stream at 20 ms/token spaces its tokens", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 10, tokMs: 20 }))
      const r = yield* promise(() => call(mock.url, "/api/chat", { body: { model: "mock", stream: true } }))
      const times = ollamaContentTimes(r).map((a) => a.at)
      assert.strictEqual(times.length, 10)
      // Token i is due i × tokMs after the request arrived (after it was sent) and is never
      // sent early. (Gaps between arrivals are not bounded below: on a loaded machine a late
      // token and the next one can arrive in one read.)
      for (let i = 0; i < times.length; i++) assert.isAtLeast(times[i]! - r.sentAt, i * 20, `token ${i}`)
      // The final line follows one more step (the end-of-sequence token).
      assert.isAtLeast(r.endedAt - r.sentAt, 10 * 20)
      assert.isBelow(times[9]! - times[0]!, 9 * 20 + 1000)
    })
  )

  it.scopedLive("500 concurrent slow streams complete with exact counts, on a handful of timers", () =>
    Effect.gen(function* () {
      // Long enough that all of them are open at once even while the (same-process) client is
      // still connecting on a loaded machine.
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 2000, tokens: 10, tokMs: 30 }))
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new Agent({ connections: 1000, pipelining: 0 })),
        (a) => Effect.promise(() => a.close())
      )
      const N = 500
      let maxTimers = 0
      const sample = setInterval(() => {
        if (mock.stats().activeStreams >= 250) {
          const timers = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length
          maxTimers = Math.max(maxTimers, timers)
        }
      }, 10)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sample)))
      const replies = yield* promise(() =>
        Promise.all(
          Array.from({ length: N }, (_, i) =>
            i % 2 === 0
              ? call(mock.url, "/api/chat", { body: { model: "mock", stream: true }, dispatcher: agent })
              : call(mock.url, "/v1/chat/completions", {
                  body: { model: "mock:latest", stream: true, stream_options: { include_usage: true } },
                  dispatcher: agent,
                  separator: "\n\n"
                })
          )
        )
      )
      replies.forEach((r, i) => {
        assert.strictEqual(r.status, 200)
        if (i % 2 === 0) {
          const lines = ndjson(r)
          assert.strictEqual(lines.filter((l) => !l.done && l.message.content.length > 0).length, 10)
          assert.strictEqual(lines.at(-1).eval_count, 10)
        } else {
          const events = sse(r)
          assert.strictEqual(events.at(-1), "[DONE]")
          const chunks = events.slice(0, -1).map((e) => JSON.parse(e))
          assert.strictEqual(chunks.filter((c) => c.choices[0]?.delta?.content).length, 10)
          assert.strictEqual(chunks.at(-1).usage.completion_tokens, 10)
        }
        assert.isAtLeast(r.endedAt - r.sentAt, 2000 + 10 * 30)
      })
      const stats = mock.stats()
      // The mock's own peak (exact), not a sample of it.
      const peakActive = stats.peakActiveStreams
      assert.strictEqual(stats.requests, N)
      assert.strictEqual(stats.tokensSent, N * 10)
      assert.strictEqual(stats.activeStreams, 0)
      assert.isAtLeast(peakActive, 450, "the streams overlapped")
      // One ticker timer for all the streams, plus the sampler and a few of undici's own.
      assert.isAtMost(maxTimers, 10, `Timeout handles while ${peakActive} streams were open`)
    })
  )
})
