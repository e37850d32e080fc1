import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { EventEmitter } from "node:events"
import type { ServerResponse } from "node:http"
import { Completion, makeTokenBlock, type MockState } from "../../src/mock/Completion.ts"
import { OllamaChat } from "../../src/mock/OllamaWire.ts"
import { TokenTicker } from "../../src/mock/TokenTicker.ts"

/**
 * A client that stops reading: once more than 1 MiB is queued on the socket, the stream stops
 * producing tokens until 'drain', so memory per stalled stream stays bounded. (Loopback kernel
 * buffers hold megabytes, so this is driven with a stand-in response rather than a real socket.)
 */
class StalledResponse extends EventEmitter {
  destroyed = false
  writableLength = 0
  writes = 0
  ended = false
  flowing = false
  writeHead() {
    return this
  }
  write(_chunk: string) {
    this.writes++
    if (this.flowing) return true
    this.writableLength += 2 * 1024 * 1024
    return false
  }
  end() {
    this.ended = true
    this.emit("close")
  }
  destroy() {
    this.destroyed = true
  }
}

describe("backpressure", () => {
  it.scopedLive("a stalled stream pauses past 1 MiB queued and resumes on drain", () =>
    Effect.gen(function* () {
      const ticker = new TokenTicker()
      yield* Effect.addFinalizer(() => Effect.sync(() => ticker.close()))
      const state: MockState = { ticker, ttftMs: 0, tokMs: 1, tokens: 5, requests: 0, tokensSent: 0, activeStreams: 0, peakActive: 0, nextId: 0, slots: 0, busy: 0, queue: [], queueHead: 0, queued: 0, granting: false, block: makeTokenBlock() }
      const res = new StalledResponse()
      const variant = { name: "mock", json: '"mock"' }
      new Completion(state, res as unknown as ServerResponse, OllamaChat, variant, true, false, 1, performance.now()).start()
      // The first token went out at once (TTFT 0) and hit a full socket: nothing more is scheduled.
      assert.strictEqual(res.writes, 1)
      assert.strictEqual(ticker.pendingBuckets, 0)
      assert.strictEqual(state.activeStreams, 1)
      // The client reads again: the stream resumes and finishes.
      res.flowing = true
      res.writableLength = 0
      res.emit("drain")
      assert.strictEqual(ticker.pendingBuckets, 1)
      yield* Effect.async<void>((resume) => {
        const check = () => (res.ended ? resume(Effect.void) : setTimeout(check, 2))
        check()
      })
      assert.strictEqual(res.writes, 5)
      assert.deepStrictEqual([state.tokensSent, state.requests, state.activeStreams], [5, 1, 0])
    })
  )
})
