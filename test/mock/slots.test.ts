import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as MockBackend from "../../src/mock/MockBackend.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import { call } from "./client.ts"

/**
 * Parallel generation slots (`--mock-slots`): beyond them, responses wait first come, first
 * served, and their whole timing starts when they get a slot. Bounds are lower bounds (the mock
 * never answers early) plus generous upper ones.
 */

const waitFor = async (cond: () => boolean, ms = 5_000) => {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error("condition not met in time")
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe("mock backend slots", () => {
  it.scopedLive("2 slots, 6 requests: served in three waves, each a whole response time after the last", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 80, tokens: 2, tokMs: 10, slots: 2 }))
      const replies = yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: 6 }, (_, i) => call(mock.url, "/api/chat", { body: { model: "mock", stream: i % 2 === 0 } }))
        )
      )
      // One response takes 80 + 2 × 10 = 100 ms; waves end at >= 100, 200, 300 ms.
      const took = replies.map((r) => r.endedAt - r.sentAt).sort((a, b) => a - b)
      for (const [i, t] of took.entries()) {
        const wave = Math.floor(i / 2) + 1
        assert.isAtLeast(t, wave * 100 - 1, `response ${i} (wave ${wave}) took ${t} ms`)
      }
      assert.isBelow(took[5]!, 2_000)
      for (const r of replies) assert.strictEqual(r.status, 200)
      const stats = mock.stats()
      assert.deepStrictEqual(
        { requests: stats.requests, tokens: stats.tokensSent, active: stats.activeStreams, queued: stats.queued, peak: stats.peakActiveStreams },
        { requests: 6, tokens: 12, active: 0, queued: 0, peak: 6 }
      )
    })
  )

  it.scopedLive("a client that leaves while waiting gives up its place; a client that leaves while served frees its slot", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 4, tokMs: 100, slots: 1 }))
      // A raw client that sends a streamed chat request and can vanish mid-way.
      const rawChat = () => {
        const socket = net.connect(mock.port, mock.host)
        const body = JSON.stringify({ model: "mock", stream: true })
        socket.write(`POST /api/chat HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
        socket.on("error", () => {})
        return socket
      }
      const served = rawChat()
      yield* Effect.promise(() => waitFor(() => mock.stats().activeStreams === 1))
      const waiting = rawChat()
      yield* Effect.promise(() => waitFor(() => mock.stats().queued === 1))
      waiting.destroy()
      yield* Effect.promise(() => waitFor(() => mock.stats().queued === 0 && mock.stats().activeStreams === 1))
      served.destroy()
      yield* Effect.promise(() => waitFor(() => mock.stats().activeStreams === 0))
      // The slot is free again and nobody is queued: a new request is served at once.
      const r = yield* Effect.promise(() => call(mock.url, "/api/chat", { body: { model: "mock", stream: false } }))
      assert.strictEqual(r.status, 200)
      assert.isBelow(r.endedAt - r.sentAt, 2_000)
      assert.deepStrictEqual(
        { requests: mock.stats().requests, active: mock.stats().activeStreams, queued: mock.stats().queued },
        { requests: 1, active: 0, queued: 0 }
      )
    })
  )

  it.scopedLive("tok-ms 0 and ttft 0: a long queue drains in order without recursion", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 3, tokMs: 0, slots: 1 }))
      const replies = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: 200 }, () => call(mock.url, "/api/chat", { body: { model: "mock" } })))
      )
      assert.isTrue(replies.every((r) => r.status === 200 && r.text.includes('"done":true')))
      assert.deepStrictEqual({ requests: mock.stats().requests, queued: mock.stats().queued }, { requests: 200, queued: 0 })
    })
  )
})
