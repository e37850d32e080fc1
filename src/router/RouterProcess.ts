import { type ChildProcess, spawn } from "node:child_process"
import { rmSync } from "node:fs"
import * as os from "node:os"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Deferred, Effect, Either, Layer, Option, Schedule, type Scope } from "effect"
import { InvalidOptions, type PortInUse } from "../Errors.ts"
import { onForcedExit } from "../process/ForcedExit.ts"
import * as OutputCapture from "./OutputCapture.ts"
import { checkPortFree, freePort, urlOf } from "./Ports.ts"
import { killGroupSync, stopGroup } from "./ProcessGroup.ts"
import { waitReady } from "./Readiness.ts"
import * as RouterConfig from "./RouterConfig.ts"
import { GO, routerCommand } from "./RouterCommand.ts"
import { RouterExited, RouterNotReady, RouterSetupFailed, RouterSpawnFailed } from "./RouterErrors.ts"
import type { RouterOptions } from "./RouterOptions.ts"
import * as Watchdog from "./Watchdog.ts"

// The parts, re-exported: this module is the router's public face (src/index.ts).
export { checkPortFree, freePort } from "./Ports.ts"
export { groupAlive, signalGroup } from "./ProcessGroup.ts"
export { expandCommand } from "./RouterCommand.ts"

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
   * messages carry stderr's last lines instead when there are any.)
   */
  readonly outputTail: (n?: number) => ReadonlyArray<string>
  /** Never succeeds: fails with RouterExited (phase "run") once the router process exits. */
  readonly awaitExit: Effect.Effect<never, RouterExited>
  readonly isRunning: Effect.Effect<boolean>
}

export const RouterHandle = Context.GenericTag<RouterHandle>("nomyo-load/RouterHandle")

export type StartError = RouterSpawnFailed | RouterSetupFailed | RouterNotReady | RouterExited | PortInUse | InvalidOptions

/** How long the pipes get to reach EOF after the router is gone, so router.log ends with its last lines. */
const DRAIN_WAIT_MS = 500

interface ExitStatus {
  readonly code: number | null
  readonly signal: string | null
}

/**
 * A temp folder the watchdog knows about before it exists: name chosen, watchdog told, then
 * created (mode 0700, failing if the name is taken). Removed when the scope closes unless `keep`.
 */
const makeTempDir = (watchdog: Watchdog.Watchdog, keep: boolean) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const make = Effect.suspend(() => {
      const dir = path.join(os.tmpdir(), `nomyo-load-router-${Math.random().toString(36).slice(2, 12)}`)
      if (!keep) watchdog.watchDir(dir)
      return fs.makeDirectory(dir, { mode: 0o700 }).pipe(Effect.as(dir))
    })
    const dir = yield* make.pipe(
      Effect.retry({ times: 5, while: (e) => e._tag === "SystemError" && e.reason === "AlreadyExists" }),
      Effect.mapError((e) => new RouterSetupFailed({ what: "creating the temp folder", detail: e.message }))
    )
    if (!keep) yield* Effect.addFinalizer(() => fs.remove(dir, { recursive: true }).pipe(Effect.ignore))
    return dir
  })

/**
 * Spawns the gated command in its own process group (detached: it is the group leader, so its
 * pid is the group id). Succeeds once the OS has started it; the gate holds the router back
 * until `GO` is written to its stdin.
 */
const spawnGated = (
  command: ReturnType<typeof routerCommand>,
  dir: string,
  env: Record<string, string | undefined>,
  isDefault: boolean,
  onExit: (status: ExitStatus) => void
): Effect.Effect<ChildProcess, RouterSpawnFailed> =>
  Effect.async<ChildProcess, RouterSpawnFailed>((resume) => {
    const child = spawn(command.file, [...command.args], { cwd: dir, env, detached: true, stdio: ["pipe", "pipe", "pipe"] })
    child.once("exit", (code, signal) => onExit({ code, signal }))
    let settled = false
    child.once("spawn", () => {
      settled = true
      resume(Effect.succeed(child))
    })
    child.once("error", (e: NodeJS.ErrnoException) => {
      if (settled) return
      settled = true
      const reason = e.code === "ENOENT" ? "NotFound" : e.code === "EACCES" ? "PermissionDenied" : "Other"
      resume(Effect.fail(new RouterSpawnFailed({ command: command.text, dir, reason, detail: e.message, isDefault, tail: [] })))
    })
    child.stdin?.on("error", () => {})
  })

/**
 * Starts the router as a scoped resource and waits until it answers HTTP.
 *
 * - A temp folder (removed with the scope unless `keepConfig`) holds `config.yaml` (from
 *   RouterConfig), the throwaway token DB and `router.log` (everything the router prints).
 * - The router runs in its own process group. When the scope closes, whatever closes it: SIGTERM
 *   to the group, `graceSeconds` for it to go, then SIGKILL to the group; the temp folder goes last.
 * - A watchdog process SIGKILLs the group and deletes the temp folder if this process dies
 *   without running its finalizers (SIGKILL, OOM, crash); a forced exit (`runForcedExit`, e.g.
 *   a second Ctrl-C, or `process.exit`) does the same synchronously.
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
): Effect.fn.Return<RouterHandle, StartError, Scope.Scope | FileSystem.FileSystem | Path.Path> {
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

  // Cleanup for a death without finalizers, armed before anything exists (released last).
  const watchdog = yield* Watchdog.acquire
  let pid: number | undefined
  let tempDir: string | undefined
  const forced = () => {
    if (pid !== undefined) killGroupSync(pid)
    if (tempDir !== undefined && !options.keepConfig) rmSync(tempDir, { recursive: true, force: true, maxRetries: 3 })
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      // A library host that calls process.exit() mid-run: its 'exit' listeners still run.
      process.on("exit", forced)
      return onForcedExit(forced)
    }),
    (unregister) => Effect.sync(() => {
      unregister()
      process.removeListener("exit", forced)
    })
  )

  // The temp folder comes next, so it is removed after the router is gone.
  tempDir = yield* makeTempDir(watchdog, options.keepConfig)
  const configPath = path.join(tempDir, "config.yaml")
  const dbPath = path.join(tempDir, "token_counts.db")
  const logPath = path.join(tempDir, "router.log")

  const config = Either.getOrThrow(RouterConfig.build({ endpoints, maxConcurrentConnections, dbPath }, options.configOverrides))
  yield* fs.writeFileString(configPath, RouterConfig.render(config)).pipe(Effect.mapError(setupFailed(`writing ${configPath}`)))
  const logFile = yield* fs.open(logPath, { flag: "a" }).pipe(Effect.mapError(setupFailed(`creating ${logPath}`)))
  const output = OutputCapture.make({ logFile, logMaxBytes: options.logMaxBytes, echo: options.log })

  const isDefault = options.cmd === undefined
  const command = routerCommand(options.cmd, { host, port, workers: options.workers, config: configPath })
  const env = {
    ...process.env,
    ...options.env,
    NOMYO_ROUTER_CONFIG_PATH: configPath,
    NOMYO_ROUTER_DB_PATH: dbPath,
    PYTHONUNBUFFERED: "1"
  }
  const graceMs = options.graceSeconds * 1000
  const exited = yield* Deferred.make<ExitStatus>()
  const drained = yield* Deferred.make<void>()

  // Spawn, exit watcher, drains and the stop finalizer in one uninterruptible step, so no
  // interruption can land between the spawn and the finalizer that stops it.
  const proc = yield* Effect.uninterruptible(
    Effect.gen(function* () {
      const proc = yield* spawnGated(command, dir, env, isDefault, (status) => Deferred.unsafeDone(exited, Effect.succeed(status)))
      pid = proc.pid!
      const stream = (which: "stdout" | "stderr") => NodeStream.fromReadable<unknown>(() => proc[which]!, (e) => e)
      // (Fibers forked here would inherit uninterruptibility: make them interruptible.)
      yield* Effect.all([output.drain(stream("stdout"), "stdout"), output.drain(stream("stderr"), "stderr")], {
        concurrency: 2,
        discard: true
      }).pipe(Effect.ensuring(Deferred.succeed(drained, undefined)), Effect.interruptible, Effect.forkScoped)
      // Runs first when the scope closes. Bounded on every path: grace, then SIGKILL (never cut
      // short by the interruption that may be closing the scope).
      yield* Effect.addFinalizer(() =>
        stopGroup(proc.pid!, graceMs).pipe(
          Effect.zipRight(
            Deferred.isDone(drained).pipe(
              Effect.repeat({ until: (done) => done, schedule: Schedule.spaced("20 millis").pipe(Schedule.upTo(DRAIN_WAIT_MS)) })
            )
          )
        )
      )
      // The watchdog knows the group: let the router start.
      watchdog.watchGroup(proc.pid!)
      proc.stdin!.write(GO)
      return proc
    })
  )

  const exitError = (phase: "startup" | "run") =>
    Deferred.await(exited).pipe(
      // The exit event can precede the last output: give the pipes a moment to reach EOF.
      Effect.tap(() => Deferred.await(drained).pipe(Effect.timeoutOption(DRAIN_WAIT_MS))),
      Effect.flatMap(({ code, signal }) =>
        Effect.fail(
          new RouterExited({
            phase,
            code,
            signal,
            command: command.text,
            tail: output.errorTail(),
            logPath: options.keepConfig ? logPath : undefined
          })
        )
      )
    )

  const url = urlOf(host, port)
  const ready = waitReady(host, port, options.startTimeoutSeconds, () =>
    new RouterNotReady({
      url,
      timeoutSeconds: options.startTimeoutSeconds,
      command: command.text,
      tail: output.errorTail(),
      logPath: options.keepConfig ? logPath : undefined
    })
  )
  // Readiness is waited for outside any acquire, so Ctrl-C during a slow start works.
  yield* Effect.raceFirst(ready, exitError("startup")).pipe(
    Effect.catchTag("RouterExited", (e): Effect.Effect<never, RouterExited | RouterSpawnFailed> =>
      // sh: 127 command not found, 126 not executable.
      e.code === 127 || e.code === 126
        ? Effect.fail(
            new RouterSpawnFailed({
              command: command.text,
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
    pid: proc.pid!,
    command: command.text,
    dir,
    tempDir,
    configPath,
    dbPath,
    logPath,
    kept: options.keepConfig,
    config,
    outputTail: output.outputTail,
    awaitExit: exitError("run"),
    isRunning: Deferred.isDone(exited).pipe(Effect.map((done) => !done))
  } satisfies RouterHandle
})

/** `start` as a layer (the router lives as long as the layer). */
export const layer = (
  options: RouterOptions,
  endpoints: ReadonlyArray<string>,
  extra: { readonly peakConcurrency?: number } = {}
): Layer.Layer<RouterHandle, StartError, FileSystem.FileSystem | Path.Path> => Layer.scoped(RouterHandle, start(options, endpoints, extra))
