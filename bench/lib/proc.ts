/**
 * Child processes for the benchmarks: start a server and wait for its "listening on URL" line,
 * run a client to completion (bounded in time), and sample any child's CPU time and RSS from
 * /proc every 200 ms, so the same numbers exist for our CLI and for the plain contenders.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"

/** Clock ticks per second of /proc/<pid>/stat utime/stime (USER_HZ; 100 on every Linux we target). */
const CLK_TCK = 100

export interface ProcSample {
  /** Date.now() when read. */
  readonly t: number
  /** utime + stime in seconds (main thread and all other threads of the process). */
  readonly cpuS: number
  /** stime alone: time in the kernel (for these programs mostly loopback TCP send/receive). */
  readonly sysS: number
  /** VmRSS and VmHWM (peak RSS) in MiB. */
  readonly rssMiB: number
  readonly hwmMiB: number
}

const readSample = (pid: number): ProcSample | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may hold spaces; fields after its closing paren are fixed.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const utime = Number(rest[11])
    const stime = Number(rest[12])
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)
      return m ? Number(m[1]) / 1024 : 0
    }
    return { t: Date.now(), cpuS: (utime + stime) / CLK_TCK, sysS: stime / CLK_TCK, rssMiB: kb("VmRSS"), hwmMiB: kb("VmHWM") }
  } catch {
    return undefined
  }
}

/** Samples one process every `everyMs` until stopped or the process is gone. */
export class ProcSampler {
  readonly samples: Array<ProcSample> = []
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(
    readonly pid: number,
    everyMs = 200
  ) {
    this.sample()
    this.timer = setInterval(() => this.sample(), everyMs)
    this.timer.unref()
  }

  sample(): void {
    const s = readSample(this.pid)
    if (s !== undefined) this.samples.push(s)
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** CPU seconds used at wall time t (linear between samples; clamped to the sampled range). */
  private cpuAt(t: number, key: "cpuS" | "sysS" = "cpuS"): number | undefined {
    return interpolate(this.samples, t, key)
  }

  /** Average CPU use over [from, to] (Date.now() times) in % of one core; 100 = one core busy. `sys`: kernel time only. */
  cpuPercent(from: number, to: number, key: "cpuS" | "sysS" = "cpuS"): number | undefined {
    const a = this.cpuAt(from, key)
    const b = this.cpuAt(to, key)
    if (a === undefined || b === undefined || to <= from) return undefined
    return round1(((b - a) / ((to - from) / 1000)) * 100)
  }

  /** Highest VmRSS sampled in [from, to] (MiB). */
  peakRssMiB(from = 0, to = Number.POSITIVE_INFINITY): number | undefined {
    let peak: number | undefined
    for (const s of this.samples) if (s.t >= from && s.t <= to && (peak === undefined || s.rssMiB > peak)) peak = s.rssMiB
    return peak === undefined ? undefined : round1(peak)
  }

  /**
   * The process's peak RSS over its life (VmHWM), as last seen up to 200 ms before it ended. The
   * highest reading, not the last: an exiting (zombie) process reports no VmHWM.
   */
  hwmMiB(): number | undefined {
    let peak: number | undefined
    for (const s of this.samples) if (peak === undefined || s.hwmMiB > peak) peak = s.hwmMiB
    return peak === undefined ? undefined : round1(peak)
  }
}

export const round1 = (x: number): number => Math.round(x * 10) / 10

/** A cumulative counter's value at wall time t: linear between samples, clamped to the sampled range. */
const interpolate = <K extends string>(
  s: ReadonlyArray<{ readonly t: number } & { readonly [k in K]: number }>,
  t: number,
  key: K
): number | undefined => {
  if (s.length === 0) return undefined
  if (t <= s[0]!.t) return s[0]![key]
  for (let i = 1; i < s.length; i++) {
    const b = s[i]!
    if (b.t >= t) {
      const a = s[i - 1]!
      const f = b.t === a.t ? 1 : (t - a.t) / (b.t - a.t)
      return a[key] + f * (b[key] - a[key])
    }
  }
  return s[s.length - 1]![key]
}

interface StatSample {
  readonly t: number
  /** Busy (user, nice, system, irq, softirq, steal) and steal CPU seconds, all cores summed. */
  readonly busyS: number
  readonly stealS: number
}

const readStat = (): StatSample | undefined => {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f
    return { t: Date.now(), busyS: (user + nice + system + irq + softirq + steal) / CLK_TCK, stealS: steal / CLK_TCK }
  } catch {
    return undefined
  }
}

/**
 * The whole machine's CPU use (from /proc/stat), sampled every 200 ms for the whole bench run:
 * subtracting our two processes gives what everything else on the box used meanwhile (noise).
 */
export class BoxSampler {
  private readonly samples: Array<StatSample> = []
  private readonly timer: ReturnType<typeof setInterval>

  constructor(everyMs = 200) {
    const take = () => {
      const s = readStat()
      if (s !== undefined) this.samples.push(s)
      // Keep about an hour of samples at most.
      if (this.samples.length > 20_000) this.samples.splice(0, 2_000)
    }
    take()
    this.timer = setInterval(take, everyMs)
    this.timer.unref()
  }

  private at(t: number, key: "busyS" | "stealS"): number | undefined {
    return interpolate(this.samples, t, key)
  }

  /** Busy and steal CPU over [from, to] in % of one core (200 = both cores of a 2-core box). */
  usage(from: number, to: number): { busyPct: number; stealPct: number } | undefined {
    const b0 = this.at(from, "busyS")
    const b1 = this.at(to, "busyS")
    const s0 = this.at(from, "stealS")
    const s1 = this.at(to, "stealS")
    if (b0 === undefined || b1 === undefined || s0 === undefined || s1 === undefined || to <= from) return undefined
    const sec = (to - from) / 1000
    return { busyPct: round1(((b1 - b0) / sec) * 100), stealPct: round1(((s1 - s0) / sec) * 100) }
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

export interface Server {
  readonly name: string
  readonly url: string
  readonly pid: number
  readonly sampler: ProcSampler
  readonly stderr: () => string
  stop(): Promise<void>
}

const tail = (s: string, n = 2000) => (s.length > n ? "…" + s.slice(-n) : s)

/** Waits for `child` to exit, killing it (SIGTERM, then SIGKILL 3 s later) after `timeoutMs`. */
const waitExit = (child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: string | null; killed: boolean }> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return resolve({ code: child.exitCode, signal: child.signalCode, killed: false })
    }
    let killed = false
    let hard: ReturnType<typeof setTimeout> | undefined
    const soft = setTimeout(() => {
      killed = true
      child.kill("SIGTERM")
      hard = setTimeout(() => child.kill("SIGKILL"), 3000)
    }, timeoutMs)
    child.once("exit", (code, signal) => {
      clearTimeout(soft)
      if (hard !== undefined) clearTimeout(hard)
      resolve({ code, signal, killed })
    })
  })

/**
 * Starts a server process and resolves once it printed `listening on http://…` on stdout
 * (our `--serve-mock` and the plain server both do). Rejects after `startTimeoutMs`.
 */
export const startServer = (name: string, command: string, args: ReadonlyArray<string>, cwd: string, startTimeoutMs = 30_000): Promise<Server> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    let done = false
    child.stderr!.on("data", (d: Buffer) => {
      err = tail(err + d.toString(), 8000)
    })
    const timer = setTimeout(() => {
      if (done) return
      done = true
      child.kill("SIGKILL")
      reject(new Error(`${name}: no "listening on" line within ${startTimeoutMs} ms; stderr: ${tail(err)}`))
    }, startTimeoutMs)
    child.once("exit", (code) => {
      if (done) return
      done = true
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code} before listening; stdout: ${tail(out)} stderr: ${tail(err)}`))
    })
    child.stdout!.on("data", (d: Buffer) => {
      out = tail(out + d.toString(), 8000)
      const m = /listening on (http:\/\/[^\s)]+)/.exec(out)
      if (m && !done) {
        done = true
        clearTimeout(timer)
        const sampler = new ProcSampler(child.pid!)
        resolve({
          name,
          url: m[1]!,
          pid: child.pid!,
          sampler,
          stderr: () => err,
          stop: async () => {
            sampler.stop()
            child.kill("SIGTERM")
            await waitExit(child, 5000)
          }
        })
      }
    })
  })

export interface ClientRun {
  readonly code: number | null
  readonly signal: string | null
  readonly killed: boolean
  readonly stdout: string
  readonly stderr: string
  readonly startedAt: number
  readonly endedAt: number
  readonly sampler: ProcSampler
}

/** Runs a client process to completion (killed after `timeoutMs`), sampling it meanwhile. */
export const runClient = async (command: string, args: ReadonlyArray<string>, cwd: string, timeoutMs: number): Promise<ClientRun> => {
  const startedAt = Date.now()
  const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d: Buffer) => {
    stdout = tail(stdout + d.toString(), 200_000)
  })
  child.stderr!.on("data", (d: Buffer) => {
    stderr = tail(stderr + d.toString(), 8000)
  })
  const sampler = new ProcSampler(child.pid!)
  const r = await waitExit(child, timeoutMs)
  sampler.stop()
  return { ...r, stdout, stderr, startedAt, endedAt: Date.now(), sampler }
}
