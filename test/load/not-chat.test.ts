/**
 * A body that is known not to be a chat response is cut off at once instead of being read to
 * its end (or to --timeout): an endless line, and a buffered body past MAX_BODY_BYTES.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { LoadOptions } from "../../src/load/LoadOptions.ts"
import { runStage } from "../../src/load/Stage.ts"

/** Answers 200 and writes 1 MiB pieces of one line without end, until the client goes away. */
const endlessServer = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const piece = Buffer.alloc(1024 * 1024, 0x78)
    const server = http.createServer((req, res) => {
      req.resume()
      res.writeHead(200, { "content-type": "application/x-ndjson" })
      const pump = () => {
        while (!res.destroyed && res.write(piece));
        if (!res.destroyed) res.once("drain", pump)
      }
      res.on("close", () => res.removeAllListeners("drain"))
      pump()
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

describe("a body that is no chat response", () => {
  for (const stream of [true, false]) {
    it.scopedLive(`is cut off as malformed well before --timeout (${stream ? "stream" : "buffered"})`, () =>
      Effect.gen(function* () {
        const server = yield* endlessServer
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        const t0 = performance.now()
        const s = yield* runStage(LoadOptions.make({ url, stream, concurrency: 1, requests: 2, warmupSeconds: 0, timeoutSeconds: 30 }))
        const seconds = (performance.now() - t0) / 1000
        assert.deepStrictEqual(s.errorsByClass, { malformed: 2 }, JSON.stringify(s.errorSamples))
        // Without the cut-off each request would read until the 30 s timeout.
        assert.isBelow(seconds, 10)
      })
    )
  }
})
