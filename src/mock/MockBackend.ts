import { Context, Effect, Layer, type Scope } from "effect"
import type { PortInUse, ServerStartFailed } from "../Errors.ts"
import { MockOptions } from "./MockOptions.ts"

/** Counters the mock keeps (cheap integers, updated on the hot path). */
export interface MockStats {
  /** Inference requests answered (chat + completions, any API). */
  readonly requests: number
  /** Completion tokens written, summed over all responses. */
  readonly tokensSent: number
  /** Streams currently open. */
  readonly activeStreams: number
}

/** A running mock backend. */
export interface MockBackend {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly options: MockOptions
  readonly stats: () => MockStats
}

export const MockBackend = Context.GenericTag<MockBackend>("nomyo-load/MockBackend")

/**
 * Starts the mock on `options.host:options.port` (port 0: a free port). The server is closed,
 * and every open connection destroyed, when the scope closes.
 */
export const make = (
  options: MockOptions
): Effect.Effect<MockBackend, PortInUse | ServerStartFailed, Scope.Scope> =>
  Effect.die(new Error(`MockBackend.make not implemented yet (${options.port})`))

export const layer = (options: MockOptions = MockOptions.make({})): Layer.Layer<MockBackend, PortInUse | ServerStartFailed> =>
  Layer.scoped(MockBackend, make(options))
