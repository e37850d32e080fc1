import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import * as YAML from "yaml"
import type { RouterExited, RouterNotReady, RouterSpawnFailed } from "../../src/router/RouterErrors.ts"
import { RouterOptions } from "../../src/router/RouterOptions.ts"
import * as RouterProcess from "../../src/router/RouterProcess.ts"
import { fakeRouterCmd, FAKE_ROUTER, httpGet, httpPost, isAlive, makeSandbox, type Sandbox, stubbornRouterCmd, waitUntil } from "./helpers.ts"

const BACKEND = "http://127.0.0.1:9" // nothing listens: the fake router answers chat itself

const withSandbox = <A, E>(f: (sb: Sandbox) => Effect.Effect<A, E, any>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => makeSandbox()),
    f,
    (sb) => Effect.sync(() => sb.dispose())
  ).pipe(Effect.provide(NodeContext.layer)) as Effect.Effect<A, E, never>

const options = (sb: Sandbox, o: Partial<ConstructorParameters<typeof RouterOptions>[0]> = {}) =>
  RouterOptions.make({ cmd: fakeRouterCmd, graceSeconds: 2, startTimeoutSeconds: 20, ...o, env: { ...sb.env, ...o.env } })

const assertNoLeaks = (sb: Sandbox, expectedPids: number) => {
  const pids = sb.pids()
  assert.strictEqual(pids.length, expectedPids, `recorded pids ${pids}`)
  const { alive, leftovers } = sb.leaks()
  assert.deepStrictEqual(alive, [], "router processes still alive")
  assert.deepStrictEqual(leftovers, [], "temp files left behind")
}

/** Ready means the parent accepts (as uvicorn's); workers may still be starting: wait for their pids. */
const allStarted = (sb: Sandbox, n: number) =>
  Effect.promise(() => waitUntil(() => sb.pids().length >= n, 10_000)).pipe(
    Effect.map((ok) => assert.isTrue(ok, `${n} processes started`))
  )

describe("RouterProcess", () => {
  it.live("writes the config and env, answers HTTP, and tears the whole group down", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const routerDir = path.join(sb.root, "checkout")
        mkdirSync(routerDir)
        const h = yield* Effect.scoped(
          Effect.gen(function* () {
            const h = yield* RouterProcess.start(options(sb, { workers: 3, dir: routerDir }), [BACKEND + "/"], { peakConcurrency: 48 })
            yield* allStarted(sb, 4)
            // Config: §1.10 keys, the DB inside the temp folder, which lives in TMPDIR.
            assert.isTrue(h.tempDir.startsWith(sb.tmp + path.sep), h.tempDir)
            const written = YAML.parse(readFileSync(h.configPath, "utf8"))
            assert.deepStrictEqual(written, {
              endpoints: [BACKEND],
              max_concurrent_connections: 48,
              conversation_affinity: false,
              cache_enabled: false,
              db_path: h.dbPath
            })
            assert.isTrue(path.isAbsolute(h.dbPath) && path.dirname(h.dbPath) === h.tempDir)
            // What the router saw.
            const info = sb.info()
            assert.deepStrictEqual(info.env, { NOMYO_ROUTER_CONFIG_PATH: h.configPath, NOMYO_ROUTER_DB_PATH: h.dbPath, PYTHONUNBUFFERED: "1" })
            assert.strictEqual(info.cwd, routerDir)
            assert.deepStrictEqual(info.argv.slice(-6), ["--host", "127.0.0.1", "--port", String(h.port), "--workers", "3"])
            assert.isTrue(existsSync(h.dbPath), "token DB created in the temp folder")
            // It answers, through a worker.
            const fav = yield* Effect.promise(() => httpGet(`${h.url}/favicon.ico`))
            assert.strictEqual(fav.status, 307)
            const chat = yield* Effect.promise(() => httpPost(`${h.url}/api/chat`, { model: "m", stream: false, messages: [] }))
            assert.strictEqual(chat.status, 200)
            assert.include(chat.body, '"done":true')
            assert.isTrue(yield* h.isRunning)
            assert.include(h.outputTail(50).join("\n"), "Application startup complete")
            assert.strictEqual(sb.pids().filter(isAlive).length, 4, "parent + 3 workers")
            return h
          })
        )
        assertNoLeaks(sb, 4)
        assert.isFalse(existsSync(h.tempDir))
        assert.isFalse(existsSync(path.join(routerDir, "token_counts.db")), "nothing written into the checkout")
      })
    )
  )

  it.live("--router-config: a rejected key fails before ready with the router's own words; KEY= removes it", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const v071 = "endpoints,llama_server_endpoints,max_concurrent_connections,api_keys,router_api_key,db_path,cache_enabled,cache_backend,cache_similarity,cache_ttl,cache_db_path,cache_redis_url,cache_history_weight"
        const env = { FAKE_ROUTER_ACCEPTED_KEYS: v071 }
        const t0 = Date.now()
        const failed = yield* Effect.scoped(RouterProcess.start(options(sb, { env }), [BACKEND])).pipe(Effect.flip)
        const elapsed = Date.now() - t0
        assert.strictEqual(failed._tag, "RouterExited")
        const e = failed as RouterExited
        assert.strictEqual(e.phase, "startup")
        assert.strictEqual(e.code, 1)
        assert.isAtMost(e.tail.length, 20)
        assert.include(e.message, "Extra inputs are not permitted")
        assert.include(e.message, "conversation_affinity")
        assert.include(e.message, "exited with code 1 before it was ready")
        assert.isBelow(elapsed, 5000, "fails as soon as the router exits, not at the timeout")
        assertNoLeaks(sb, 1)

        // The same router accepts the config without the key, plus other overrides.
        const h = yield* Effect.scoped(
          Effect.gen(function* () {
            const h = yield* RouterProcess.start(
              options(sb, { env, configOverrides: ["conversation_affinity=", "max_concurrent_connections=2", "cache_ttl=30"] }),
              [BACKEND],
              { peakConcurrency: 8 }
            )
            const written = YAML.parse(readFileSync(h.configPath, "utf8"))
            assert.notProperty(written, "conversation_affinity")
            assert.strictEqual(written.max_concurrent_connections, 2)
            assert.strictEqual(written.cache_ttl, 30)
            return h
          })
        )
        assert.isFalse(existsSync(h.tempDir))
        assertNoLeaks(sb, 2)
      })
    )
  )

  it.live("waits for a slow start, polling until any HTTP answer", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const t0 = Date.now()
        yield* Effect.scoped(RouterProcess.start(options(sb, { env: { FAKE_ROUTER_STARTUP_DELAY_MS: "1200" } }), [BACKEND]))
        const elapsed = Date.now() - t0
        assert.isAtLeast(elapsed, 1200)
        assert.isBelow(elapsed, 4000)
        assertNoLeaks(sb, 1)
      })
    )
  )

  it.live("a router that never answers: RouterNotReady after the start timeout, nothing left", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const t0 = Date.now()
        const e = yield* Effect.scoped(
          RouterProcess.start(options(sb, { startTimeoutSeconds: 1, env: { FAKE_ROUTER_STARTUP_DELAY_MS: "60000" } }), [BACKEND])
        ).pipe(Effect.flip)
        const elapsed = Date.now() - t0
        assert.strictEqual(e._tag, "RouterNotReady")
        assert.include(e.message, "did not answer")
        assert.include(e.message, "within 1 s")
        assert.include(e.message, "it printed nothing")
        assert.deepStrictEqual((e as RouterNotReady).tail, [])
        assert.isBelow(elapsed, 4000)
        assertNoLeaks(sb, 1)
      })
    )
  )

  it.live("a router that ignores SIGTERM is SIGKILLed after the grace period (workers too)", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        let stopStarted = 0
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* RouterProcess.start(options(sb, { workers: 2, graceSeconds: 0.5, env: { FAKE_ROUTER_IGNORE_SIGTERM: "1" } }), [BACKEND])
            yield* allStarted(sb, 3)
            yield* Effect.addFinalizer(() => Effect.sync(() => void (stopStarted = Date.now())))
          })
        )
        const teardownMs = Date.now() - stopStarted
        assert.isAtLeast(teardownMs, 450, "waited for the grace period")
        assert.isBelow(teardownMs, 3000, "then SIGKILL, not a hang")
        assertNoLeaks(sb, 3)
      })
    )
  )

  it.live("interrupted while it runs, a router that ignores SIGTERM still gets the grace and then SIGKILL", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const ready = yield* Deferred.make<number>()
        const fiber = yield* Effect.fork(
          Effect.scoped(
            Effect.gen(function* () {
              const h = yield* RouterProcess.start(options(sb, { cmd: stubbornRouterCmd, graceSeconds: 0.5 }), [BACKEND])
              yield* Deferred.succeed(ready, h.pid)
              return yield* Effect.never
            })
          )
        )
        const pid = yield* Deferred.await(ready)
        const t0 = Date.now()
        // The interruption closes the scope: the stop must not be cut short by it.
        const exit = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("10 seconds"))
        const ms = Date.now() - t0
        assert.isTrue(Exit.isInterrupted(exit))
        assert.isAtLeast(ms, 450, "the grace was given")
        assert.isBelow(ms, 4000, "then SIGKILL")
        assert.isFalse(RouterProcess.groupAlive(pid))
        assertNoLeaks(sb, 1)
      })
    )
  )

  it.live("SIGTERM teardown of a cooperative router with workers is quick", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        let stopStarted = 0
        yield* Effect.scoped(
          Effect.gen(function* () {
            yield* RouterProcess.start(options(sb, { workers: 2, graceSeconds: 5 }), [BACKEND])
            yield* allStarted(sb, 3)
            yield* Effect.addFinalizer(() => Effect.sync(() => void (stopStarted = Date.now())))
          })
        )
        const teardownMs = Date.now() - stopStarted
        assert.isBelow(teardownMs, 2000, `teardown took ${teardownMs} ms`)
        assertNoLeaks(sb, 3)
      })
    )
  )

  it.live("a crash mid-run: awaitExit fails at once with the exit code and output; orphaned workers are swept", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const h = yield* RouterProcess.start(options(sb, { workers: 2, env: { FAKE_ROUTER_CRASH_AFTER: "3" } }), [BACKEND])
            yield* allStarted(sb, 3)
            const watcher = yield* Effect.fork(Effect.flip(h.awaitExit))
            for (let i = 0; i < 3; i++) {
              yield* Effect.promise(() => httpPost(`${h.url}/api/chat`, { model: "m", stream: true }).catch(() => undefined))
            }
            const e = yield* Fiber.join(watcher).pipe(Effect.timeout("5 seconds"))
            assert.strictEqual(e.phase, "run")
            assert.strictEqual(e.code, 3)
            assert.include(e.message, "simulated crash after 3 requests")
            assert.include(e.message, "during the run")
            assert.isFalse(yield* h.isRunning)
            // The parent is gone but its workers still serve (orphans) until the scope closes.
            assert.isAtLeast(sb.pids().filter(isAlive).length, 1)
          })
        )
        assertNoLeaks(sb, 3)
      })
    )
  )

  it.live("drains a router that floods its output (an unread pipe would block it)", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const h = yield* RouterProcess.start(options(sb, { env: { FAKE_ROUTER_FLOOD_BYTES: String(4 * 1024 * 1024) } }), [BACKEND])
            // Ready means the router got past writing 4 MB: we read its pipe. The log file follows.
            const logged = yield* Effect.promise(() => waitUntil(() => statSync(h.logPath).size >= 4 * 1024 * 1024, 10_000))
            assert.isTrue(logged, "everything reached router.log")
            assert.include(readFileSync(h.logPath, "utf8"), "Uvicorn running on")
          })
        )
        assertNoLeaks(sb, 1)
      })
    )
  )

  it.live("router.log stops at logMaxBytes with a marker line; the pipe is still drained", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const cap = 64 * 1024
            const h = yield* RouterProcess.start(
              options(sb, { logMaxBytes: cap, env: { FAKE_ROUTER_FLOOD_BYTES: String(4 * 1024 * 1024) } }),
              [BACKEND]
            )
            // Ready after a 4 MB flood: the pipe kept being read past the cap.
            const marked = yield* Effect.promise(() => waitUntil(() => readFileSync(h.logPath, "utf8").includes("router.log reached"), 10_000))
            assert.isTrue(marked, "the marker line was written")
            const size = statSync(h.logPath).size
            assert.isAtMost(size, cap + 200)
            assert.isAtLeast(size, cap / 2)
            assert.include(readFileSync(h.logPath, "utf8"), `router.log reached ${cap} bytes`)
          })
        )
        assertNoLeaks(sb, 1)
      })
    )
  )

  it.live("the default command is `uvicorn router:app --host --port --workers` in the router folder", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const bin = path.join(sb.root, "bin")
        mkdirSync(bin)
        writeFileSync(path.join(bin, "uvicorn"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(FAKE_ROUTER)} "$@"\n`)
        chmodSync(path.join(bin, "uvicorn"), 0o755)
        const checkout = path.join(sb.root, "router")
        mkdirSync(checkout)
        const opts = RouterOptions.make({ dir: checkout, workers: 1, graceSeconds: 2, env: { ...sb.env, PATH: `${bin}:${process.env["PATH"]}` } })
        const h = yield* Effect.scoped(RouterProcess.start(opts, [BACKEND]))
        const info = sb.info()
        assert.deepStrictEqual(info.argv, ["router:app", "--host", "127.0.0.1", "--port", String(h.port), "--workers", "1"])
        assert.strictEqual(info.cwd, checkout)
        assert.strictEqual(h.command, `uvicorn router:app --host 127.0.0.1 --port ${h.port} --workers 1`)
        assertNoLeaks(sb, 1)

        // Without uvicorn on PATH: the hint, not a stack trace.
        const missing = RouterOptions.make({ dir: checkout, env: { PATH: path.join(sb.root, "empty") } })
        const e = yield* Effect.scoped(RouterProcess.start(missing, [BACKEND])).pipe(Effect.flip)
        assert.strictEqual(e._tag, "RouterSpawnFailed")
        assert.include(e.message, "uvicorn not found: run from the router's folder with its venv active, or pass --router-cmd")
        assert.deepStrictEqual(sb.leaks().leftovers, [])
      })
    )
  )

  it.live("launch failures are clear: unknown command, missing folder, port in use", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const e1 = yield* Effect.scoped(RouterProcess.start(options(sb, { cmd: "nomyo-no-such-router --x" }), [BACKEND])).pipe(Effect.flip)
        assert.strictEqual(e1._tag, "RouterSpawnFailed")
        assert.strictEqual((e1 as RouterSpawnFailed).reason, "NotFound")
        assert.include(e1.message, "command not found")
        assert.include(e1.message, "nomyo-no-such-router")

        const e2 = yield* Effect.scoped(RouterProcess.start(options(sb, { dir: path.join(sb.root, "nope") }), [BACKEND])).pipe(Effect.flip)
        assert.strictEqual(e2._tag, "RouterSpawnFailed")
        assert.include(e2.message, "--router-dir")
        assert.include(e2.message, "no such folder")

        const blocker = net.createServer()
        const port = yield* Effect.async<number>((resume) => {
          blocker.listen(0, "127.0.0.1", () => resume(Effect.succeed((blocker.address() as net.AddressInfo).port)))
        })
        const e3 = yield* Effect.scoped(RouterProcess.start(options(sb, { port }), [BACKEND])).pipe(Effect.flip)
        blocker.close()
        assert.strictEqual(e3._tag, "PortInUse")
        assert.include(e3.message, String(port))
        assertNoLeaks(sb, 0)
      })
    )
  )

  it.live("interrupted during a slow start: nothing left (the readiness wait is interruptible)", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.fork(
          Effect.scoped(RouterProcess.start(options(sb, { workers: 2, env: { FAKE_ROUTER_STARTUP_DELAY_MS: "30000" } }), [BACKEND]))
        )
        // Interrupt once the router is running (its pid is recorded before the delay).
        for (let i = 0; i < 200 && sb.pids().length === 0; i++) yield* Effect.sleep(20)
        const t0 = Date.now()
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        assert.isBelow(Date.now() - t0, 3000)
        assertNoLeaks(sb, 1)
      })
    )
  )

  it.live("--router-log echoes the router's output to stderr, prefixed", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const write = process.stderr.write.bind(process.stderr)
        yield* Effect.acquireUseRelease(
          Effect.sync(() => {
            process.stderr.write = ((chunk: any, ...rest: Array<any>) => {
              seen.push(String(chunk))
              return write(chunk, ...rest)
            }) as typeof process.stderr.write
          }),
          () => Effect.scoped(RouterProcess.start(options(sb, { log: true }), [BACKEND])),
          () => Effect.sync(() => void (process.stderr.write = write))
        )
        assert.include(seen.join(""), "[router] INFO:     Application startup complete.")
        assertNoLeaks(sb, 1)
      })
    )
  )

  it.live("--keep-config keeps the folder and says where the log is", () =>
    withSandbox((sb) =>
      Effect.gen(function* () {
        const h = yield* Effect.scoped(RouterProcess.start(options(sb, { keepConfig: true }), [BACKEND]))
        assert.isTrue(h.kept)
        assert.isTrue(existsSync(h.configPath) && existsSync(h.logPath) && existsSync(h.dbPath))
        assert.include(readFileSync(h.logPath, "utf8"), "Application startup complete")
        assert.deepStrictEqual(sb.leaks().alive, [])
        rmSync(h.tempDir, { recursive: true })
        assertNoLeaks(sb, 1)
        // A kept config's errors point at the log.
        const e = yield* Effect.scoped(
          RouterProcess.start(options(sb, { keepConfig: true, configOverrides: ["bogus_key=1"] }), [BACKEND])
        ).pipe(Effect.flip)
        assert.include(e.message, "router.log")
        assert.include(e.message, "bogus_key")
        const kept = sb.leaks().leftovers
        assert.strictEqual(kept.length, 1)
        rmSync(path.join(sb.tmp, kept[0]!), { recursive: true })
      })
    )
  )
})
