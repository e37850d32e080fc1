import { Effect, type Exit } from "effect"
import type { Signals } from "./Signals.ts"

/**
 * Runs the CLI's program with the signal policy of `installSignals` (instead of NodeRuntime.runMain,
 * whose handlers are removed during teardown, leaving a window where a second Ctrl-C got Node's
 * default action: killed by SIGINT, no cleanup). Exits with `exitCode(exit)`; after a clean,
 * unsignalled success the process ends by itself (so buffered output is flushed).
 */
export const runMain = <A, E>(effect: Effect.Effect<A, E>, options: { readonly signals: Signals; readonly exitCode: (exit: Exit.Exit<A, E>) => number }): void => {
  // An Effect waiting on nothing but a Deferred holds no handle: keep the loop alive until it ends.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  const fiber = Effect.runFork(effect)
  options.signals.running(() => fiber.unsafeInterruptAsFork(fiber.id()))
  fiber.addObserver((exit) => {
    options.signals.ended()
    clearInterval(keepAlive)
    const code = options.exitCode(exit)
    if (code !== 0 || options.signals.received()) process.exit(code)
  })
}
