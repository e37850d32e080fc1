import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { LoadOptions, RampOptions } from "../../src/load/LoadOptions.ts"
import { MockOptions } from "../../src/mock/MockOptions.ts"
import { runWithRouter } from "../../src/router/Orchestrate.ts"
import { RouterOptions } from "../../src/router/RouterOptions.ts"
import { groupAlive } from "../../src/router/RouterProcess.ts"
import { isAlive, makeSandbox, NGINX_ROUTER } from "./helpers.ts"

/**
 * End to end through a real third-party proxy: nginx (Debian: apt-get install nginx-light),
 * started by the tool through --router-cmd, proxying to the mock with buffering off.
 */
const nginx = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v nginx || ls /usr/sbin/nginx"], { encoding: "utf8" }).trim().split("\n")[0] ?? ""
  } catch {
    return ""
  }
})()
if (!nginx) console.warn("nginx not found (apt-get install -y nginx-light): skipping the nginx end-to-end test")

/** Pids of a process group (from /proc). */
const groupMembers = (pgid: number): Array<number> =>
  readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, "latin1")
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid
      } catch {
        return false
      }
    })
    .map(Number)

describe.skipIf(!nginx)("--mock-backend through nginx", () => {
  for (const api of ["ollama", "openai"] as const) {
    for (const stream of [true, false]) {
      it.live(`${api}, ${stream ? "streamed" : "buffered"}: measured through nginx, then nginx is gone`, () =>
        Effect.acquireUseRelease(
          Effect.sync(() => makeSandbox()),
          (sb) =>
            Effect.gen(function* () {
              let pid = 0
              let members: Array<number> = []
              const r = yield* runWithRouter(
                {
                  mock: MockOptions.make({ ttftMs: 5, tokens: 12, tokMs: 2 }),
                  router: RouterOptions.make({
                    cmd: `sh ${NGINX_ROUTER} {host} {port} {workers} {config}`,
                    workers: 2,
                    graceSeconds: 3
                  }),
                  ramp: RampOptions.make({
                    load: LoadOptions.make({ api, stream, durationSeconds: 1, warmupSeconds: 0.3, timeoutSeconds: 10 }),
                    levels: [4]
                  }),
                  onInfo: (m) => {
                    const found = /\(pid (\d+)/.exec(m)
                    if (found) pid = Number(found[1])
                  }
                },
                { onStageStart: () => void (members = groupMembers(pid)) }
              )
              const s = r.stages[0]!
              assert.isAbove(s.ok, 10, JSON.stringify(s.errorsByClass))
              assert.strictEqual(s.errors, 0, `${JSON.stringify(s.errorsByClass)} ${JSON.stringify(s.errorSamples)}`)
              if (stream) assert.isAbove(s.ttft.count, 0)
              assert.isAtLeast(r.mock.stats.requests, s.ok)
              assert.isAtLeast(members.length, 3, "nginx master + 2 workers ran in one group")
              assert.strictEqual(r.router.pid, pid)
              assert.isFalse(groupAlive(pid))
              assert.deepStrictEqual(members.filter(isAlive), [])
              assert.isFalse(existsSync(r.router.tempDir))
              assert.deepStrictEqual(readdirSync(sb.tmp), [])
            }),
          (sb) => Effect.sync(() => sb.dispose())
        ).pipe(Effect.provide(NodeContext.layer))
      )
    }
  }
})
