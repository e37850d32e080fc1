import { readdirSync, readFileSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Deferred, Effect, Either, Fiber, Layer, Option, Schedule, type Scope, Stream } from "effect"
import { InvalidOptions, PortInUse } from "../Errors.ts"
import * as RouterConfig from "./RouterConfig.ts"
import { RouterExited, RouterNotReady, RouterSetupFailed, RouterSpawnFailed } from "./RouterErrors.ts"
import type { RouterOptions } from "./RouterOptions.ts"

/** A running router subprocess, ready (it has answered an HTTP request). */
export interface RouterHandle {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string
  readonly host: string
  readonly port: number
  /** Pid of the spawned process; also its process group id. */
  readonly pid: number
  /** The command as run (after placeholder substitution). */
  readonly command: string
  /** Its working folder (absolute). */
  readonly dir: string
  /** Temp folder holding config.yaml, router.log and the token DB. */
  readonly tempDir: string
  readonly configPath: string
  readonly dbPath: string
  readonly logPath: string
  /** True with keepConfig: tempDir survives the scope. */
  readonly kept: boolean
  /** The config as written to configPath. */
  readonly config: RouterConfig.RouterConfig
  /**
   * The last `n` (default 20) lines the router printed, stdout and stderr interleaved. (Error
   * messages carry stderr's last lines instead when there are any: see errorTail.)
   */
  readonly outputTail: (n?: number) => ReadonlyArray<string>
  /** Never succeeds: fails with RouterExited (phase "run") once the router process exits. */
  readonly awaitExit: Effect.Effect<never, RouterExited>
  readonly isRunning: Effect.Effect<boolean>
}

export const RouterHandle = Context.GenericTag<RouterHandle>("nomyo-load/RouterHandle")

export type StartError = RouterSpawnFailed | RouterSetupFailed | RouterNotReady | RouterExited | PortInUse | InvalidOptions

const TAIL_LINES = 20
const MAX_LINE = 2000
const POLL_MS = 100
/**
 * Per probe. Generous: with uvicorn --workers the parent binds and a probe waits in the listen
 * backlog until the first worker has imported the app and accepts; then it is answered at once.
 */
const PROBE_TIMEOUT_MS = 5000
const KILL_WAIT_MS = 3000

// ── ports ────────────────────────────────────────────────────────────────────────────────

const listenOnce = (host: string, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once("error", reject)
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address()
      const bound = typeof address === "object" && address !== null ? address.port : port
      server.close(() => resolve(bound))
    })
  })

/**
 * A port that was free a moment ago: listen on port 0, read the port, close. Another process
 * may take it before the router binds (a small race); the router then fails to bind and
 * `start` reports RouterExited with its "address already in use" output.
 */
export const freePort = (host = "127.0.0.1"): Effect.Effect<number, RouterSetupFailed> =>
  Effect.tryPromise({
    try: () => listenOnce(host, 0),
    catch: (e) => new RouterSetupFailed({ what: `finding a free port on ${host}`, detail: String((e as Error)?.message ?? e) })
  })

/** Fails with PortInUse if something already listens on host:port (so readiness cannot hit a stranger). */
export const checkPortFree = (host: string, port: number, what = "the router"): Effect.Effect<void, PortInUse | RouterSetupFailed> =>
  Effect.tryPromise({
    try: () => listenOnce(host, port),
    catch: (e) =>
      (e as NodeJS.ErrnoException)?.code === "EADDRINUSE"
        ? new PortInUse({ host, port, what })
        : new RouterSetupFailed({ what: `checking port ${host}:${port}`, detail: String((e as Error)?.message ?? e) })
  }).pipe(Effect.asVoid)

// ── process groups ───────────────────────────────────────────────────────────────────────

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

const waitGroupGone = (pgid: number): Effect.Effect<void> =>
  Effect.sync(() => groupAlive(pgid)).pipe(
    Effect.repeat({ while: (alive) => alive, schedule: Schedule.spaced("25 millis") }),
    Effect.asVoid
  )

// ── output ───────────────────────────────────────────────────────────────────────────────

/** The last lines of the router's output (stdout and stderr share it; one splitter per stream). */
class OutputRing {
  private lines: Array<string> = []
  constructor(private readonly keep: number) {}
  add(line: string): void {
    this.lines.push(line.length > MAX_LINE ? line.slice(0, MAX_LINE) + "…" : line)
    if (this.lines.length > this.keep * 4) this.lines = this.lines.slice(-this.keep)
  }
  tail(n: number, partials: ReadonlyArray<string>): ReadonlyArray<string> {
    const all = [...this.lines, ...partials.filter((p) => p.length > 0)]
    return all.slice(-n)
  }
}

class LineSplitter {
  partial = ""
  private readonly decoder = new TextDecoder()
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Uint8Array): void {
    const text = this.partial + this.decoder.decode(chunk, { stream: true })
    const parts = text.split("\n")
    this.partial = parts.pop() ?? ""
    if (this.partial.length > 64 * 1024) {
      parts.push(this.partial)
      this.partial = ""
    }
    for (const p of parts) this.onLine(p.endsWith("\r") ? p.slice(0, -1) : p)
  }
}

// ── command ──────────────────────────────────────────────────────────────────────────────

const shellQuote = (s: string): string => (/^[A-Za-z0-9_.\/:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/**
 * `--router-cmd` expansion: `{host}` `{port}` `{workers}` `{config}` are substituted (shell-quoted
 * where needed); when none of `{host}` `{port}` `{workers}` appears, `--host H --port P
 * --workers N` is appended.
 */
export const expandCommand = (
  template: string,
  values: { readonly host: string; readonly port: number; readonly workers: number; readonly config: string }
): string => {
  const placed = /\{(host|port|workers)\}/.test(template)
  const expanded = template.replace(/\{(host|port|workers|config)\}/g, (_, key: keyof typeof values) => shellQuote(String(values[key])))
  return placed ? expanded : `${expanded} --host ${shellQuote(values.host)} --port ${values.port} --workers ${values.workers}`
}

const urlOf = (host: string, port: number): string => `http://${host.includes(":") ? `[${host}]` : host}:${port}`

// ── readiness ────────────────────────────────────────────────────────────────────────────

/** True when anything answers HTTP on host:port (any status; `GET /favicon.ico` touches no backend). */
const probe = (host: string, port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    let done = false
    const finish = (ok: boolean) => {
      if (done) return
      done = true
      req.destroy()
      resume(Effect.succeed(ok))
    }
    const req = http.get({ host, port, path: "/favicon.ico", agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume()
      finish(true)
    })
    req.on("error", () => finish(false))
    req.on("timeout", () => finish(false))
    return Effect.sync(() => {
      done = true
      req.destroy()
    })
  })

const describeSignal = (e: unknown): string | null => {
  const m = /signal: (\w+)/.exec(String((e as Error)?.message ?? e))
  return m ? m[1]! : null
}

/**
 * Starts the router as a scoped resource and waits until it answers HTTP.
 *
 * - A temp folder (removed with the scope unless `keepConfig`) holds `config.yaml` (from
 *   RouterConfig), the throwaway token DB and `router.log` (everything the router prints).
 * - The router runs in its own process group. When the scope closes: SIGTERM to the group,
 *   `graceSeconds` for it to go, then SIGKILL to the group; the temp folder goes last.
 * - If the router exits or does not answer within `startTimeoutSeconds`, the error carries its
 *   exit status and its last output lines, and nothing is left running.
 *
 * @example
 * const program = Effect.gen(function* () {
 *   const router = yield* RouterProcess.start(RouterOptions.make({ dir: "/srv/nomyo-router" }), [mock.url], { peakConcurrency: 32 })
 *   yield* runRamp(...router.url...).pipe(Effect.raceFirst(router.awaitExit))
 * }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
 */
export const start = Effect.fn("RouterProcess.start")(function* (
  options: RouterOptions,
  endpoints: ReadonlyArray<string>,
  extra: { readonly peakConcurrency?: number } = {}
): Effect.fn.Return<RouterHandle, StartError, Scope.Scope | CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path> {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const setupFailed = (what: string) => (e: { readonly message: string }) => new RouterSetupFailed({ what, detail: e.message })

  // Validate before creating anything.
  const host = options.host
  const dir = path.resolve(options.dir ?? ".")
  if (options.dir !== undefined) {
    const info = yield* fs.stat(dir).pipe(Effect.option)
    if (Option.isNone(info) || info.value.type !== "Directory") {
      return yield* new RouterSpawnFailed({ command: "", dir, reason: "DirNotFound", detail: "no such folder", isDefault: false, tail: [] })
    }
  }
  const maxConcurrentConnections = options.maxConc ?? extra.peakConcurrency ?? 1
  const checked = RouterConfig.build({ endpoints, maxConcurrentConnections, dbPath: "" }, options.configOverrides)
  if (Either.isLeft(checked)) return yield* new InvalidOptions({ flag: "--router-config", detail: checked.left })
  const port = options.port === 0 ? yield* freePort(host) : yield* checkPortFree(host, options.port).pipe(Effect.as(options.port))

  // The temp folder is the first resource, so it is removed last (after the router is gone).
  const tempDir = options.keepConfig
    ? yield* fs.makeTempDirectory({ prefix: "nomyo-load-router-" }).pipe(Effect.mapError(setupFailed("creating the temp folder")))
    : yield* fs.makeTempDirectoryScoped({ prefix: "nomyo-load-router-" }).pipe(Effect.mapError(setupFailed("creating the temp folder")))
  const configPath = path.join(tempDir, "config.yaml")
  const dbPath = path.join(tempDir, "token_counts.db")
  const logPath = path.join(tempDir, "router.log")

  const config = Either.getOrThrow(RouterConfig.build({ endpoints, maxConcurrentConnections, dbPath }, options.configOverrides))
  yield* fs.writeFileString(configPath, RouterConfig.render(config)).pipe(Effect.mapError(setupFailed(`writing ${configPath}`)))
  const logFile = yield* fs.open(logPath, { flag: "a" }).pipe(Effect.mapError(setupFailed(`creating ${logPath}`)))

  const isDefault = options.cmd === undefined
  const commandText = isDefault
    ? `uvicorn router:app --host ${shellQuote(host)} --port ${port} --workers ${options.workers}`
    : expandCommand(options.cmd!, { host, port, workers: options.workers, config: configPath })
  const command = (
    isDefault
      ? Command.make("uvicorn", "router:app", "--host", host, "--port", String(port), "--workers", String(options.workers))
      : Command.make("/bin/sh", "-c", commandText)
  ).pipe(
    Command.workingDirectory(dir),
    Command.env({
      ...options.env,
      NOMYO_ROUTER_CONFIG_PATH: configPath,
      NOMYO_ROUTER_DB_PATH: dbPath,
      PYTHONUNBUFFERED: "1"
    })
  )

  const ring = new OutputRing(TAIL_LINES * 5)
  const stderrRing = new OutputRing(TAIL_LINES * 5)
  const echo = options.log
  const onLine = (line: string) => {
    ring.add(line)
    if (echo) process.stderr.write(`[router] ${line}\n`)
  }
  const splitters = [
    new LineSplitter(onLine),
    new LineSplitter((line) => {
      stderrRing.add(line)
      onLine(line)
    })
  ] as const
  const outputTail = (n = TAIL_LINES) => ring.tail(n, splitters.map((s) => s.partial))
  /**
   * For error messages: stderr's last lines when it has any. uvicorn writes its own messages and
   * Python tracebacks to stderr and the access log to stdout, so busy workers cannot push the
   * reason for a crash out of the tail.
   */
  const errorTail = (): ReadonlyArray<string> => {
    const err = stderrRing.tail(TAIL_LINES, [splitters[1].partial])
    return err.length > 0 ? err : outputTail()
  }
  /** Set once router.log takes no more: it reached logMaxBytes, or a write failed. */
  let logClosed = false
  let logBytes = 0
  const toLog = (chunk: Uint8Array) => {
    if (logBytes + chunk.length <= options.logMaxBytes) {
      logBytes += chunk.length
      return logFile.writeAll(chunk)
    }
    logClosed = true
    return logFile.writeAll(new TextEncoder().encode(`\n[nomyo-load: router.log reached ${options.logMaxBytes} bytes; the rest of the router's output was read and dropped]\n`))
  }
  /** Never stops reading: an unread pipe would block the router once its buffer fills. */
  const drain = (stream: Stream.Stream<Uint8Array, unknown>, splitter: LineSplitter) =>
    stream.pipe(
      Stream.runForEach((chunk) =>
        Effect.suspend(() => {
          splitter.push(chunk)
          return logClosed ? Effect.void : toLog(chunk).pipe(Effect.catchAll(() => Effect.sync(() => void (logClosed = true))))
        })
      ),
      Effect.ignore
    )

  // Last resort, after the executor's own release: SIGKILL whatever is left of the group.
  let pid: number | undefined
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      if (pid !== undefined && groupAlive(pid)) signalGroup(pid, "SIGKILL")
    })
  )

  // Registered before the stop finalizer, so it stays armed while the stop waits out the grace.
  yield* signalGuard(() => pid)

  const graceMs = options.graceSeconds * 1000
  const exited = yield* Deferred.make<{ readonly code: number | null; readonly signal: string | null }>()

  // Spawn, drains, exit watcher and the stop finalizer in one uninterruptible step, so no
  // interruption can land between the spawn and the finalizer that stops it.
  const { proc, drains } = yield* Effect.uninterruptible(
    Effect.gen(function* () {
      const proc = yield* Command.start(command).pipe(
        Effect.mapError((e) => {
          const reason = e._tag === "SystemError" && (e.reason === "NotFound" || e.reason === "PermissionDenied") ? e.reason : "Other"
          return new RouterSpawnFailed({ command: commandText, dir, reason, detail: e.message, isDefault, tail: [] })
        })
      )
      pid = proc.pid
      // (Fibers forked here would inherit uninterruptibility: make them interruptible.)
      const drains = yield* Effect.all([drain(proc.stdout, splitters[0]), drain(proc.stderr, splitters[1])], {
        concurrency: 2,
        discard: true
      }).pipe(Effect.interruptible, Effect.forkScoped)
      yield* proc.exitCode.pipe(
        Effect.map((code) => ({ code: code as number, signal: null })),
        Effect.catchAll((e) => Effect.succeed({ code: null, signal: describeSignal(e) })),
        Effect.flatMap((status) => Deferred.succeed(exited, status)),
        Effect.interruptible,
        Effect.forkScoped
      )
      // Runs before the executor's release (finalizers run in reverse order). `interruptible`
      // lets the timeouts win inside the (uninterruptible) finalizer.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          if (groupAlive(proc.pid)) {
            signalGroup(proc.pid, "SIGTERM")
            const gone = yield* waitGroupGone(proc.pid).pipe(Effect.timeoutOption(graceMs), Effect.interruptible)
            if (Option.isNone(gone)) {
              signalGroup(proc.pid, "SIGKILL")
              yield* waitGroupGone(proc.pid).pipe(Effect.timeoutOption(KILL_WAIT_MS), Effect.interruptible)
            }
          }
          // Let the pipes reach EOF so router.log ends with the shutdown lines.
          yield* Fiber.await(drains).pipe(Effect.timeoutOption(500), Effect.interruptible)
        })
      )
      return { proc, drains }
    })
  )

  const exitError = (phase: "startup" | "run") =>
    Deferred.await(exited).pipe(
      // The exit event can precede the last output: give the pipes a moment to reach EOF.
      Effect.tap(() => Fiber.await(drains).pipe(Effect.timeoutOption(500))),
      Effect.flatMap(({ code, signal }) =>
        Effect.fail(
          new RouterExited({
            phase,
            code,
            signal,
            command: commandText,
            tail: errorTail(),
            logPath: options.keepConfig ? logPath : undefined
          })
        )
      )
    )

  const url = urlOf(host, port)
  const waitReady = probe(host, port).pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced(POLL_MS) }),
    Effect.asVoid,
    Effect.timeoutFail({
      duration: options.startTimeoutSeconds * 1000,
      onTimeout: () =>
        new RouterNotReady({
          url,
          timeoutSeconds: options.startTimeoutSeconds,
          command: commandText,
          tail: errorTail(),
          logPath: options.keepConfig ? logPath : undefined
        })
    })
  )
  // Readiness is waited for outside any acquire, so Ctrl-C during a slow start works.
  yield* Effect.raceFirst(waitReady, exitError("startup")).pipe(
    Effect.catchTag("RouterExited", (e): Effect.Effect<never, RouterExited | RouterSpawnFailed> =>
      // sh -c: 127 command not found, 126 not executable.
      !isDefault && (e.code === 127 || e.code === 126)
        ? Effect.fail(
            new RouterSpawnFailed({
              command: commandText,
              dir,
              reason: e.code === 127 ? "NotFound" : "PermissionDenied",
              detail: `exit ${e.code}`,
              isDefault,
              tail: e.tail
            })
          )
        : Effect.fail(e)
    )
  )

  return {
    url,
    host,
    port,
    pid: proc.pid,
    command: commandText,
    dir,
    tempDir,
    configPath,
    dbPath,
    logPath,
    kept: options.keepConfig,
    config,
    outputTail,
    awaitExit: exitError("run"),
    isRunning: Deferred.isDone(exited).pipe(Effect.map((done) => !done))
  } satisfies RouterHandle
})

/**
 * While the router lives: if this process exits without running finalizers (`process.exit`),
 * SIGKILL the group; and when someone (runMain) handles SIGINT/SIGTERM, a second signal
 * SIGKILLs the group at once instead of killing us and orphaning the router. Installed only
 * when a signal handler already exists, so a library host keeps Node's default signal action.
 */
const signalGuard = (pgid: () => number | undefined): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const kill = () => {
        const id = pgid()
        if (id !== undefined) signalGroup(id, "SIGKILL")
      }
      const onExit = kill
      process.on("exit", onExit)
      let signals = 0
      const onSignal = () => {
        signals++
        if (signals >= 2) kill()
      }
      const guarded = process.listenerCount("SIGINT") > 0 || process.listenerCount("SIGTERM") > 0
      if (guarded) {
        process.on("SIGINT", onSignal)
        process.on("SIGTERM", onSignal)
      }
      return () => {
        process.removeListener("exit", onExit)
        if (guarded) {
          process.removeListener("SIGINT", onSignal)
          process.removeListener("SIGTERM", onSignal)
        }
      }
    }),
    (remove) => Effect.sync(remove)
  ).pipe(Effect.asVoid)

/** `start` as a layer (the router lives as long as the layer). */
export const layer = (
  options: RouterOptions,
  endpoints: ReadonlyArray<string>,
  extra: { readonly peakConcurrency?: number } = {}
): Layer.Layer<RouterHandle, StartError, CommandExecutor.CommandExecutor | FileSystem.FileSystem | Path.Path> =>
  Layer.scoped(RouterHandle, start(options, endpoints, extra))
