import { readdirSync, readFileSync } from "node:fs"
import { Effect, Schedule } from "effect"

/** After SIGKILL, how long to wait for the group to be gone (the kernel needs a moment). */
export const KILL_WAIT_MS = 3000

/** Live (non-zombie) members of a process group, from /proc; undefined where /proc is absent. */
const liveGroupMembers = (pgid: number): Array<number> | undefined => {
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return undefined
  }
  const live: Array<number> = []
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1")
      // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") live.push(Number(entry))
    } catch {
      // the process went away while we looked
    }
  }
  return live
}

/**
 * Whether any process of the group is still alive. Zombies do not count: where PID 1 does not
 * reap orphans (some containers), a SIGKILLed worker stays a zombie forever yet holds nothing.
 */
export const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === "ESRCH") return false
  }
  const live = liveGroupMembers(pgid)
  return live === undefined ? true : live.length > 0
}

/** Best-effort signal to the whole group; never throws. */
export const signalGroup = (pgid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pgid, signal)
  } catch {
    // already gone (ESRCH), or not ours
  }
}

/**
 * Polls until the group is gone or `withinMs` has passed; succeeds with whether it is gone.
 * A bounded poll, not a race against a timer: it needs no interruption, so it runs to its end
 * inside an uninterruptible finalizer (a timeout there would be cut short when the finalizer
 * runs because of an interruption — and the SIGKILL after it skipped).
 */
export const waitGroupGone = (pgid: number, withinMs: number): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    const deadline = Date.now() + withinMs
    return Effect.sync(() => groupAlive(pgid)).pipe(
      Effect.repeat({ while: (alive) => alive && Date.now() < deadline, schedule: Schedule.spaced("25 millis") }),
      Effect.map((alive) => !alive)
    )
  })

/**
 * Stops the group on every path: SIGTERM, up to `graceMs` for it to go, then SIGKILL and up to
 * KILL_WAIT_MS for the kernel. Never interrupted part-way (see waitGroupGone), so whatever
 * caused the teardown (the end of the run, a failure, Ctrl-C) it ends with the group gone.
 */
export const stopGroup = (pgid: number, graceMs: number): Effect.Effect<void> =>
  Effect.gen(function* () {
    if (!groupAlive(pgid)) return
    signalGroup(pgid, "SIGTERM")
    if (yield* waitGroupGone(pgid, graceMs)) return
    signalGroup(pgid, "SIGKILL")
    yield* waitGroupGone(pgid, KILL_WAIT_MS)
  }).pipe(Effect.uninterruptible)

/** Sleeps `ms` synchronously (for the forced-exit path, where nothing asynchronous runs any more). */
const sleepSync = (ms: number): void => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
  } catch {
    // no Atomics.wait on this thread: do not wait
  }
}

/** SIGKILL and wait (synchronously, up to `withinMs`) until the group is gone: for a forced exit. */
export const killGroupSync = (pgid: number, withinMs = 1000): void => {
  signalGroup(pgid, "SIGKILL")
  const deadline = Date.now() + withinMs
  while (groupAlive(pgid) && Date.now() < deadline) sleepSync(10)
}
