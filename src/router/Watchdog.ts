import { spawn } from "node:child_process"
import * as path from "node:path"
import { Effect, type Scope } from "effect"

/**
 * The watchdog: a tiny process (this runtime's own binary, Node or Deno, running the script
 * below) that outlives nomyo-load only to clean up after it. It reads JSON lines on its stdin —
 * `{"dir":D}` (a temp folder to delete), `{"pgid":G}` (the router's process group), `{"stop":true}`
 * (normal end: exit and touch nothing). When stdin closes without "stop" — nomyo-load died:
 * SIGKILL, OOM killer, a crash — it SIGKILLs the group, waits (up to 3 s) until the group is
 * gone, deletes the folder and exits. It runs in its own session (no terminal signals reach it)
 * and ignores SIGINT/SIGTERM/SIGHUP: only its pipe ends it. It holds none of the router's pipes.
 *
 * Kept as source text so it ships inside the compiled module (no extra file in the package).
 */
const SCRIPT = `
import { readdirSync, readFileSync, rmSync } from "node:fs"
let dir = null, pgid = 0, buf = ""
const alive = (g) => {
  try { process.kill(-g, 0) } catch (e) { if (e && e.code === "ESRCH") return false }
  let entries
  try { entries = readdirSync("/proc") } catch { return true }
  for (const e of entries) {
    if (!/^[0-9]+$/.test(e)) continue
    try {
      const s = readFileSync("/proc/" + e + "/stat", "latin1")
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ")
      if (Number(f[2]) === g && f[0] !== "Z" && f[0] !== "X") return true
    } catch {}
  }
  return false
}
let cleaning = false
const cleanup = () => {
  if (cleaning) return
  cleaning = true
  if (pgid > 0) { try { process.kill(-pgid, "SIGKILL") } catch {} }
  const until = Date.now() + 3000
  const finish = () => {
    if (dir) { try { rmSync(dir, { recursive: true, force: true, maxRetries: 3 }) } catch {} }
    process.exit(0)
  }
  const poll = () => (pgid > 0 && alive(pgid) && Date.now() < until ? setTimeout(poll, 25) : finish())
  poll()
}
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => {})
process.stdin.on("data", (d) => {
  buf += d
  let i
  while ((i = buf.indexOf("\\n")) >= 0) {
    const line = buf.slice(0, i)
    buf = buf.slice(i + 1)
    let m
    try { m = JSON.parse(line) } catch { continue }
    if (m.stop) process.exit(0)
    if (typeof m.dir === "string") dir = m.dir
    if (typeof m.pgid === "number") pgid = m.pgid
  }
})
process.stdin.on("end", cleanup)
process.stdin.on("error", cleanup)
`

export interface Watchdog {
  /** Delete this folder if nomyo-load dies (tell it before creating the folder: no window). */
  readonly watchDir: (dir: string) => void
  /** SIGKILL this process group if nomyo-load dies. */
  readonly watchGroup: (pgid: number) => void
  /** Normal end: the watchdog exits without doing anything. */
  readonly stop: () => void
  /** False when no watchdog could be started (an unknown runtime): then only the finalizers clean up. */
  readonly armed: boolean
}

const none: Watchdog = { watchDir: () => {}, watchGroup: () => {}, stop: () => {}, armed: false }

/** How to run a script with this runtime's binary, or undefined when it is neither Node nor Deno. */
const runner = (): ReadonlyArray<string> | undefined => {
  const bin = path.basename(process.execPath).toLowerCase()
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  if (isDeno) return bin.startsWith("deno") ? ["eval", SCRIPT] : undefined
  return bin.startsWith("node") ? ["--input-type=module", "-e", SCRIPT] : undefined
}

/** Starts a watchdog (synchronously; never throws: a watchdog that cannot start is `armed: false`). */
export const spawnWatchdog = (): Watchdog => {
  const args = runner()
  if (args === undefined || process.platform === "win32") return none
  const { NODE_OPTIONS: _, ...env } = process.env
  let child: ReturnType<typeof spawn>
  try {
    child = spawn(process.execPath, [...args], { detached: true, stdio: ["pipe", "ignore", "ignore"], cwd: "/", env })
  } catch {
    return none
  }
  let dead = false
  child.on("error", () => void (dead = true))
  child.on("exit", () => void (dead = true))
  const stdin = child.stdin!
  stdin.on("error", () => void (dead = true))
  // Neither the child nor its pipe may keep our event loop alive.
  child.unref()
  ;(stdin as unknown as { unref?: () => void }).unref?.()
  const send = (message: object) => {
    if (!dead && stdin.writable) stdin.write(JSON.stringify(message) + "\n")
  }
  return {
    watchDir: (dir) => send({ dir }),
    watchGroup: (pgid) => send({ pgid }),
    stop: () => {
      send({ stop: true })
      if (!dead) stdin.end()
    },
    armed: true
  }
}

/** A watchdog for the life of the scope; stopped (doing nothing) when the scope closes normally. */
export const acquire: Effect.Effect<Watchdog, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(spawnWatchdog),
  (w) => Effect.sync(w.stop)
)
