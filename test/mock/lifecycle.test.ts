import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Scope } from "effect"
import * as net from "node:net"
import { request } from "undici"
import * as MockBackend from "../../src/mock/MockBackend.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import { call, waitUntil } from "./client.ts"

/** Lifecycle: disconnects, prompt teardown with open streams, port conflicts, the layer. */

/** A slow stream that would run for about a minute if nobody stopped it. */
const SLOW = { ttftMs: 0, tokens: 3000, tokMs: 20 } as const

/**
 * Opens a stream and resolves once its first body chunk arrived; `done` settles when the body
 * ends or fails (with the time it did).
 */
const openStream = (url: string, signal?: AbortSignal) =>
  Effect.async<{ readonly done: Promise<number> }>((resume) => {
    request(url + "/api/chat", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "mock", stream: true }),
      ...(signal ? { signal } : {})
    }).then(
      (res) => {
        let first = true
        const done = new Promise<number>((settle) => {
          res.body.on("data", () => {
            if (first) {
              first = false
              resume(Effect.succeed({ done }))
            }
          })
          res.body.on("end", () => settle(performance.now()))
          res.body.on("error", () => settle(performance.now()))
        })
      },
      (e) => resume(Effect.die(e))
    )
  })

const canListen = (host: string, port: number) =>
  Effect.async<boolean>((resume) => {
    const server = net.createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resume(Effect.succeed(true))))
  })

describe("mock backend lifecycle", () => {
  it.scopedLive("a client disconnect mid-stream releases the stream", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make(SLOW))
      const abort = new AbortController()
      const stream = yield* openStream(mock.url, abort.signal)
      assert.strictEqual(mock.stats().activeStreams, 1)
      abort.abort()
      yield* Effect.promise(() => stream.done)
      yield* Effect.promise(() => waitUntil(() => mock.stats().activeStreams === 0, 2000, "activeStreams to drop to 0"))
      assert.strictEqual(mock.stats().requests, 0, "an abandoned stream is not an answered request")
      assert.isBelow(mock.stats().tokensSent, SLOW.tokens)
      // The server still serves.
      const r = yield* Effect.promise(() => call(mock.url, "/api/version"))
      assert.strictEqual(r.status, 200)
    })
  )

  it.live("closing the scope with open slow streams is prompt and frees the port", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const mock = yield* MockBackend.make(MockOptions.make(SLOW)).pipe(Scope.extend(scope))
      const streams = yield* Effect.all([openStream(mock.url), openStream(mock.url), openStream(mock.url)])
      // Plus one still waiting for its first token, and an idle keep-alive connection.
      const waiting = call(mock.url, "/v1/chat/completions", { body: { model: "mock" } }).then(
        () => "answered",
        () => "cut off"
      )
      yield* Effect.promise(() => call(mock.url, "/api/tags"))
      yield* Effect.promise(() => waitUntil(() => mock.stats().activeStreams === 4, 2000, "4 open responses"))

      const start = performance.now()
      yield* Scope.close(scope, Exit.void)
      const closedIn = performance.now() - start
      // The streams had about a minute to go.
      assert.isBelow(closedIn, 1000, `scope close took ${closedIn} ms`)
      for (const s of streams) assert.isBelow((yield* Effect.promise(() => s.done)) - start, 1000)
      assert.strictEqual(yield* Effect.promise(() => waiting), "cut off")
      assert.isTrue(yield* canListen(mock.host, mock.port), "the port is free after release")
      yield* Effect.promise(() => waitUntil(() => mock.stats().activeStreams === 0, 1000, "every response released"))
    })
  )

  it.scopedLive("a taken port fails with PortInUse", () =>
    Effect.gen(function* () {
      const first = yield* MockBackend.make(MockOptions.make({}))
      const error = yield* MockBackend.make(MockOptions.make({ port: first.port })).pipe(Effect.flip)
      assert.strictEqual(error._tag, "PortInUse")
      if (error._tag === "PortInUse") {
        assert.strictEqual(error.port, first.port)
        assert.strictEqual(error.host, "127.0.0.1")
        assert.strictEqual(error.what, "mock backend")
        assert.include(error.message, "in use")
      }
    })
  )

  it.live("another listen error fails with ServerStartFailed", () =>
    Effect.gen(function* () {
      // 192.0.2.1 (TEST-NET-1) is not an address of this host: EADDRNOTAVAIL.
      const error = yield* MockBackend.make(MockOptions.make({ host: "192.0.2.1" })).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(error._tag, "ServerStartFailed")
    })
  )

  it.scopedLive("port 0 picks a free port; url has no trailing slash", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({}))
      assert.isAbove(mock.port, 0)
      assert.strictEqual(mock.url, `http://127.0.0.1:${mock.port}`)
      assert.strictEqual(mock.host, "127.0.0.1")
      assert.deepStrictEqual(mock.options.models, ["mock"])
    })
  )

  it.scopedLive("IPv6 hosts are bracketed in the url", () =>
    Effect.gen(function* () {
      const ipv6 = yield* canListen("::1", 0)
      if (!ipv6) return
      const mock = yield* MockBackend.make(MockOptions.make({ host: "::1" }))
      assert.strictEqual(mock.url, `http://[::1]:${mock.port}`)
      const r = yield* Effect.promise(() => call(mock.url, "/api/version"))
      assert.strictEqual(r.status, 200)
    })
  )

  it.live("layer provides the service and releases it", () =>
    Effect.gen(function* () {
      const seen = yield* Deferred.make<MockBackend.MockBackend>()
      yield* Effect.gen(function* () {
        const mock = yield* MockBackend.MockBackend
        yield* Deferred.succeed(seen, mock)
        const r = yield* Effect.promise(() => call(mock.url, "/v1/models"))
        assert.strictEqual(r.status, 200)
      }).pipe(Effect.provide(MockBackend.layer(MockOptions.make({ tokens: 2 }))))
      const mock = yield* Deferred.await(seen)
      assert.strictEqual(mock.options.tokens, 2)
      assert.isTrue(yield* canListen(mock.host, mock.port), "released with the layer")
    })
  )

  it.live("peakActiveStreams: the most responses in progress at once, per period started by resetPeak()", () =>
    Effect.promise(async () => {
      const mock = await MockBackend.startMockServer({ ttftMs: 300, tokMs: 1, tokens: 3 })
      try {
        await Promise.all(Array.from({ length: 6 }, () => call(mock.url, "/api/chat", { body: { model: "mock" } })))
        assert.strictEqual(mock.stats().peakActiveStreams, 6)
        mock.resetPeak()
        assert.strictEqual(mock.stats().peakActiveStreams, 0, "a new period starts from what is in progress now")
        await Promise.all(Array.from({ length: 2 }, () => call(mock.url, "/api/chat", { body: { model: "mock", stream: false } })))
        assert.deepStrictEqual(mock.stats(), { requests: 8, tokensSent: 24, activeStreams: 0, peakActiveStreams: 2, queued: 0 })
      } finally {
        await mock.close()
      }
    })
  )

  it.live("startMockServer: plain options, stats, idempotent close", () =>
    Effect.promise(async () => {
      const mock = await MockBackend.startMockServer({ ttftMs: 0, tokMs: 0, tokens: 4, models: ["a"] })
      const r = await call(mock.url, "/api/chat", { body: { model: "a:latest", stream: false } })
      assert.strictEqual(r.status, 200)
      assert.deepStrictEqual(mock.stats(), { requests: 1, tokensSent: 4, activeStreams: 0, peakActiveStreams: 1, queued: 0 })
      await Promise.all([mock.close(), mock.close()])
      await mock.close()
      const failed = await MockBackend.startMockServer({ tokens: 0 }).then(
        () => "started",
        (e: { _tag: string }) => e._tag
      )
      assert.strictEqual(failed, "ServerStartFailed", "invalid options are refused")
    })
  )
})
