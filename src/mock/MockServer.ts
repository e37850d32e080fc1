import { createServer } from "node:http"
import { PortInUse, ServerStartFailed } from "../Errors.ts"
import { makeTokenBlock, type MockState } from "./Completion.ts"
import { makeCatalog } from "./Models.ts"
import { MockOptions } from "./MockOptions.ts"
import { makeHandler } from "./Routes.ts"
import { TokenTicker } from "./TokenTicker.ts"

/** Counters the mock keeps (cheap integers, updated on the hot path). */
export interface MockStats {
  /** Inference requests answered in full (chat + completions, any API, streamed or not). */
  readonly requests: number
  /** Completion tokens written, summed over all responses. */
  readonly tokensSent: number
  /** Inference responses in progress (streamed or buffered), i.e. not yet finished or abandoned. */
  readonly activeStreams: number
  /** Most responses in progress at once since the server started or `resetPeak()` was last called. */
  readonly peakActiveStreams: number
  /** Responses waiting for a generation slot now (`slots` set and all busy); they count as active too. */
  readonly queued: number
}

/** A running mock server, without Effect. */
export interface MockServer {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly options: MockOptions
  readonly stats: () => MockStats
  /** Starts a new `peakActiveStreams` period (from the responses in progress now). */
  readonly resetPeak: () => void
  /**
   * Stops listening, destroys every open connection (slow streams included) and stops the
   * ticker; resolves once the server is closed. Idempotent.
   */
  readonly close: () => Promise<void>
}

/** Options as a `MockOptions`, or the plain fields (defaults applied, validated). */
export type MockServerOptions = MockOptions | ConstructorParameters<typeof MockOptions>[0]

/** Pending connections the kernel may queue; bursts of thousands of connects are expected. */
const BACKLOG = 4096

const WHAT = "mock backend"

/**
 * Starts the mock on `options.host:options.port` (port 0: a free port). Rejects with
 * `PortInUse` when the port is taken, `ServerStartFailed` for any other listen error.
 *
 * @example
 * ```ts
 * const mock = await startMockServer({ ttftMs: 0, tokens: 32, tokMs: 0 })
 * // ... drive load against mock.url ...
 * console.log(mock.stats())
 * await mock.close()
 * ```
 */
export const startMockServer = (input: MockServerOptions = {}): Promise<MockServer> => {
  let options: MockOptions
  try {
    options = input instanceof MockOptions ? input : MockOptions.make(input)
  } catch (cause) {
    return Promise.reject(new ServerStartFailed({ what: WHAT, cause }))
  }
  const ticker = new TokenTicker()
  const state: MockState = {
    ticker,
    ttftMs: options.ttftMs,
    tokMs: options.tokMs,
    tokens: options.tokens,
    requests: 0,
    tokensSent: 0,
    activeStreams: 0,
    peakActive: 0,
    nextId: 0,
    slots: options.slots,
    busy: 0,
    queue: [],
    queueHead: 0,
    queued: 0,
    granting: false,
    block: makeTokenBlock()
  }
  const server = createServer({ noDelay: true }, makeHandler(state, makeCatalog(options.models)))
  const stats = (): MockStats => ({
    requests: state.requests,
    tokensSent: state.tokensSent,
    activeStreams: state.activeStreams,
    peakActiveStreams: state.peakActive,
    queued: state.queued
  })
  const resetPeak = () => {
    state.peakActive = state.activeStreams
  }

  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      ticker.close()
      server.close(() => resolve())
      // close() alone waits for every open connection, and a slow stream would hold it.
      server.closeAllConnections()
    }))

  return new Promise<MockServer>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      ticker.close()
      reject(
        err.code === "EADDRINUSE"
          ? new PortInUse({ host: options.host, port: options.port, what: WHAT })
          : new ServerStartFailed({ what: WHAT, cause: err })
      )
    }
    server.once("error", onError)
    server.listen({ host: options.host, port: options.port, backlog: BACKLOG }, () => {
      server.off("error", onError)
      // Later server errors (e.g. EMFILE on accept) cost the client its connection, not the process.
      server.on("error", () => {})
      const address = server.address()
      const port = address !== null && typeof address === "object" ? address.port : options.port
      const host = options.host
      resolve({
        url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
        host,
        port,
        options,
        stats,
        resetPeak,
        close
      })
    })
  })
}
