import { runForcedExit } from "./ForcedExit.ts"

/**
 * One process-wide policy for SIGINT and SIGTERM, installed first thing by the CLI entry (before
 * the heavy modules load) and never removed, so no signal ever meets Node's default action
 * (which kills without a message and without cleanup):
 *
 * - before the program runs (startup), or after it ended: exit 130 at once — nothing exists yet;
 * - first signal while it runs: `interrupt` it (graceful: finalizers stop the router with
 *   SIGTERM, grace, SIGKILL, and partial results are written);
 * - second signal: forced — `runForcedExit()` (SIGKILL the router's group, delete the temp
 *   folder and any results temp file, synchronously), then exit 130.
 *
 * Any `process.exit` also runs the forced-exit actions (nothing is registered after a normal end).
 */
export interface Signals {
  /** The program runs: from now on the first signal calls `interrupt`. */
  readonly running: (interrupt: () => void) => void
  /** The program ended: a signal now exits at once. */
  readonly ended: () => void
  /** Whether any signal was received. */
  readonly received: () => boolean
}

export const EXIT_INTERRUPTED = 130

export const installSignals = (write: (text: string) => void = (t) => void process.stderr.write(t)): Signals => {
  let interrupt: (() => void) | undefined
  let count = 0
  const onSignal = (signal: NodeJS.Signals) => {
    count++
    if (count === 1 && interrupt !== undefined) {
      write(`\nstopping… (${signal === "SIGINT" ? "Ctrl-C" : "signal"} again to force)\n`)
      interrupt()
      return
    }
    write(count === 1 ? `\ninterrupted (${signal})\n` : "\nforced stop: killing the router, removing temp files\n")
    runForcedExit()
    process.exit(EXIT_INTERRUPTED)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  process.on("exit", runForcedExit)
  return {
    running: (f) => void (interrupt = f),
    ended: () => void (interrupt = undefined),
    received: () => count > 0
  }
}
