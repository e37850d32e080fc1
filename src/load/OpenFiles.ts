import { readdirSync, readFileSync } from "node:fs"
import { Effect } from "effect"
import { InvalidOptions } from "../Errors.ts"

/** Descriptors kept free beyond the connections: the runtime, logs, a results file, a little slack. */
export const OPEN_FILES_HEADROOM = 64

/** The soft open-file limit of this process (`ulimit -n`), or undefined where it cannot be read (not Linux). */
export const openFileLimit = (): number | undefined => {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"))
    if (m === null) return undefined
    return m[1] === "unlimited" ? Infinity : Number(m[1])
  } catch {
    return undefined
  }
}

/** Descriptors this process has open now, or 0 where that cannot be read. */
const openFileCount = (): number => {
  try {
    return readdirSync("/proc/self/fd").length
  } catch {
    return 0
  }
}

/**
 * Fails fast, before a stage starts, when `connections` more sockets cannot fit under the
 * open-file limit: better one clear line than thousands of EMFILE errors counted as results.
 * `flag` names the option to lower (`--concurrency` or `--max-inflight`). Skipped where the
 * limit cannot be read.
 */
export const checkOpenFiles = (connections: number, flag: string): Effect.Effect<void, InvalidOptions> =>
  Effect.suspend(() => {
    const limit = openFileLimit()
    if (limit === undefined || limit === Infinity) return Effect.void
    const needed = connections + openFileCount() + OPEN_FILES_HEADROOM
    if (needed <= limit) return Effect.void
    const short = flag === "--max-inflight" ? `--max-inflight ${connections}` : `-c ${connections}`
    return Effect.fail(
      new InvalidOptions({
        flag,
        detail: `${short} needs about ${needed} open files, but the limit is ${limit} (ulimit -n); lower it or raise the limit`
      })
    )
  })
