import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const ROOT = path.resolve(import.meta.dirname, "../..")
export const FAKE_ROUTER = path.join(ROOT, "test/fixtures/fake-router.mjs")
export const NGINX_ROUTER = path.join(ROOT, "test/fixtures/nginx-router.sh")
export const ORCHESTRATE_MAIN = path.join(ROOT, "test/fixtures/orchestrate-main.ts")
export const STUBBORN_ROUTER = path.join(ROOT, "test/fixtures/stubborn-router.mjs")

/** --router-cmd running the test double with the supervisor's host/port/workers. */
export const fakeRouterCmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(FAKE_ROUTER)} router:app --host {host} --port {port} --workers {workers}`

/** --router-cmd running a router that ignores SIGTERM and SIGINT, exec'd (it leads its process group itself). */
export const stubbornRouterCmd = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(STUBBORN_ROUTER)} {port} # {host} {workers}`

/**
 * Alive means: exists and is not a zombie. Where PID 1 does not reap orphans (this container's
 * init does not), a SIGKILLed orphan stays a zombie forever; it holds no socket, file or CPU.
 */
export const isAlive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
    return state !== "Z" && state !== "X"
  } catch {
    if (existsSync("/proc/self/stat")) return false
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
}

const readPidLines = (file: string): Array<Array<number>> =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim().length > 0)
        .map((l) => l.trim().split(/\s+/).map(Number))
    : []

/** The pids the fake router recorded ("pid pgid" lines). */
export const readPids = (file: string): Array<number> => readPidLines(file).map((l) => l[0]!)

/** Live (non-zombie) processes of these process groups, from /proc: catches unrecorded workers too. */
export const liveInGroups = (pgids: ReadonlyArray<number>): Array<number> => {
  if (pgids.length === 0 || !existsSync("/proc/self/stat")) return []
  const out: Array<number> = []
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "latin1")
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (pgids.includes(Number(f[2])) && f[0] !== "Z" && f[0] !== "X") out.push(Number(e))
    } catch {}
  }
  return out
}

/**
 * A fresh folder per test: `tmp` becomes TMPDIR (so every temp file the supervisor makes lands
 * there and "nothing left behind" is `tmp` being empty), and the pid/info files live outside it.
 */
export interface Sandbox {
  readonly root: string
  readonly tmp: string
  readonly pidFile: string
  readonly infoFile: string
  /** Env for the fake router: where to record its pids and what it saw. */
  readonly env: Record<string, string>
  readonly pids: () => Array<number>
  readonly info: () => any
  /** Pids (recorded) still alive, and entries left in tmp. */
  readonly leaks: () => { readonly alive: Array<number>; readonly leftovers: Array<string> }
  readonly dispose: () => void
}

export const makeSandbox = (opts: { readonly setTmpdir?: boolean } = {}): Sandbox => {
  const root = mkdtempSync(path.join(os.tmpdir(), "nomyo-router-test-"))
  const tmp = path.join(root, "tmp")
  mkdirSync(tmp)
  const pidFile = path.join(root, "pids")
  const infoFile = path.join(root, "info.json")
  const previous = process.env["TMPDIR"]
  if (opts.setTmpdir !== false) process.env["TMPDIR"] = tmp
  const pids = () => readPids(pidFile)
  return {
    root,
    tmp,
    pidFile,
    infoFile,
    env: { FAKE_ROUTER_PID_FILE: pidFile, FAKE_ROUTER_INFO_FILE: infoFile },
    pids,
    info: () => JSON.parse(readFileSync(infoFile, "utf8")),
    leaks: () => {
      const groups = [...new Set(readPidLines(pidFile).map((l) => l[1]).filter((g): g is number => g !== undefined && g > 1))]
      const alive = [...new Set([...pids().filter(isAlive), ...liveInGroups(groups)])]
      return { alive, leftovers: readdirSync(tmp) }
    },
    dispose: () => {
      if (opts.setTmpdir !== false) {
        if (previous === undefined) delete process.env["TMPDIR"]
        else process.env["TMPDIR"] = previous
      }
      for (const pid of pids()) {
        try {
          if (isAlive(pid)) process.kill(pid, "SIGKILL")
        } catch {}
      }
      rmSync(root, { recursive: true, force: true })
    }
  }
}

/** Polls `f` until it is true or `ms` passes (bounded). */
export const waitUntil = async (f: () => boolean, ms: number, stepMs = 20): Promise<boolean> => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (f()) return true
    await new Promise((r) => setTimeout(r, stepMs))
  }
  return f()
}

/** One HTTP request to the router; resolves with the status and body. */
export const httpGet = async (url: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(url, { redirect: "manual" })
  return { status: res.status, body: await res.text() }
}

export const httpPost = async (url: string, body: unknown): Promise<{ status: number; body: string }> => {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  return { status: res.status, body: await res.text() }
}

/**
 * One tsx compile cache for every child run under tsx with its own TMPDIR: the sandbox's tmp gets
 * a symlink to it, so only the first child pays for compiling. `isTsxCache` tells it apart from
 * a leftover.
 */
const uid = typeof process.getuid === "function" ? process.getuid() : 0
export const TSX_CACHE_NAME = `tsx-${uid}`
export const linkTsxCache = (sb: Sandbox): void => {
  const shared = path.join(os.tmpdir(), TSX_CACHE_NAME)
  mkdirSync(shared, { recursive: true })
  symlinkSync(shared, path.join(sb.tmp, TSX_CACHE_NAME))
}
export const isTsxCache = (name: string): boolean => /^tsx-\d+$/.test(name)

/** At most `n` of the returned function's tasks run at once (the machine has two cores). */
export const limiter = (n: number) => {
  let active = 0
  const queue: Array<() => void> = []
  return async <A>(f: () => Promise<A>): Promise<A> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r))
    active++
    try {
      return await f()
    } finally {
      active--
      queue.shift()?.()
    }
  }
}

/** A child under watch: its output so far, whether it still runs, and its end (code, signal, when). */
export const spawnWatched = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d) => (stdout += d))
  child.stderr.on("data", (d) => (stderr += d))
  let exitedAt = 0
  const exited = new Promise<readonly [number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("close", (code, signal) => {
      exitedAt = Date.now()
      resolve([code, signal])
    })
  )
  return { child, exited, stdout: () => stdout, stderr: () => stderr, running: () => exitedAt === 0, exitedAt: () => exitedAt }
}
