import { Context, Effect, Layer, type Scope } from "effect"
import type { PortInUse, ServerStartFailed } from "../Errors.ts"
import { MockOptions } from "./MockOptions.ts"
import { type MockServer, type MockStats, startMockServer } from "./MockServer.ts"

export { type MockServer, type MockServerOptions, type MockStats, startMockServer } from "./MockServer.ts"

/** A running mock backend. */
export interface MockBackend {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly options: MockOptions
  readonly stats: () => MockStats
  /** Starts a new `peakActiveStreams` period (from the responses in progress now). */
  readonly resetPeak: () => void
}

export const MockBackend = Context.GenericTag<MockBackend>("nomyo-load/MockBackend")

/**
 * Starts the mock on `options.host:options.port` (port 0: a free port). The server is closed,
 * and every open connection destroyed, when the scope closes.
 *
 * The request path is plain `node:http` (see `MockServer.ts`); Effect owns only the lifecycle.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function* () {
 *   const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 20, tokens: 32, tokMs: 5 }))
 *   // ... drive load against mock.url ...
 *   return mock.stats()
 * }).pipe(Effect.scoped)
 * ```
 */
export const make = (options: MockOptions): Effect.Effect<MockBackend, PortInUse | ServerStartFailed, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<MockServer, PortInUse | ServerStartFailed>((resume) => {
      startMockServer(options).then(
        (server) => resume(Effect.succeed(server)),
        (error: PortInUse | ServerStartFailed) => resume(Effect.fail(error))
      )
    }),
    // Prompt: close() destroys open connections instead of waiting for slow streams.
    (server) => Effect.promise(() => server.close())
  ).pipe(
    Effect.map(
      (server): MockBackend => ({
        url: server.url,
        host: server.host,
        port: server.port,
        options: server.options,
        stats: server.stats,
        resetPeak: server.resetPeak
      })
    ),
    Effect.withSpan("MockBackend.make")
  )

export const layer = (options: MockOptions = MockOptions.make({})): Layer.Layer<MockBackend, PortInUse | ServerStartFailed> =>
  Layer.scoped(MockBackend, make(options))
