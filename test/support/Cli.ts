import { spawn, type ChildProcess } from "node:child_process"
import * as path from "node:path"

export const ROOT = path.resolve(import.meta.dirname, "../..")
export const BIN = path.join(ROOT, "src/bin.ts")

export interface CliRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts the CLI from source under Node (tsx), as a user would run it. */
export const spawnCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}): ChildProcess =>
  spawn(process.execPath, ["--import", "tsx", BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })

/** Collects a child's output until it exits; kills it (SIGKILL) after `timeoutMs` so a hang fails the test. */
export const collect = (child: ChildProcess, timeoutMs = 30_000): Promise<CliRun> =>
  new Promise((resolve) => {
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (d) => (stdout += d))
    child.stderr?.on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })

export const runCli = (args: ReadonlyArray<string>, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}) =>
  collect(spawnCli(args, opts.env), opts.timeoutMs)

/** Resolves with the first stdout line matching `re` (e.g. the mock's URL), or rejects on exit. */
export const waitForLine = (child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> =>
  new Promise((resolve, reject) => {
    let buf = ""
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; got: ${buf}`)), timeoutMs)
    const onData = (d: Buffer) => {
      buf += d.toString()
      const m = buf.match(re)
      if (m) {
        clearTimeout(timer)
        child.stdout?.off("data", onData)
        resolve(m)
      }
    }
    child.stdout?.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code} before printing ${re}; got: ${buf}`))
    })
  })
