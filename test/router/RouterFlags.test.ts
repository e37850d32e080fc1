import * as CliConfig from "@effect/cli/CliConfig"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as RouterFlags from "../../src/cli/RouterFlags.ts"

const parse = (args: ReadonlyArray<string>) =>
  Options.processCommandLine(RouterFlags.router, args, CliConfig.defaultConfig).pipe(
    Effect.map(([, , value]) => value),
    Effect.mapError((e) => HelpDoc.toAnsiText(e.error).trim()),
    Effect.either,
    Effect.provide(NodeContext.layer)
  )

describe("RouterFlags", () => {
  it.effect("defaults: free port, 1 worker, 60 s, peak concurrency, nothing kept", () =>
    Effect.gen(function* () {
      const r = yield* parse([])
      assert.isTrue(Either.isRight(r))
      if (Either.isLeft(r)) return
      const o = RouterFlags.toRouterOptions(r.right)
      assert.strictEqual(o.port, 0)
      assert.strictEqual(o.workers, 1)
      assert.strictEqual(o.startTimeoutSeconds, 60)
      assert.isUndefined(o.maxConc)
      assert.isUndefined(o.cmd)
      assert.isFalse(o.keepConfig)
      assert.isFalse(o.log)
      assert.deepStrictEqual(o.configOverrides, [])
      assert.deepStrictEqual(RouterFlags.givenRouterFlags(r.right), [])
    })
  )

  it.effect("maps every flag", () =>
    Effect.gen(function* () {
      const r = yield* parse([
        "--router-cmd", "python -m uvicorn router:app",
        "--router-dir", "/srv/router",
        "--router-port", "12434",
        "--router-workers", "4",
        "--router-max-conc", "2",
        "--router-config", "conversation_affinity=",
        "--router-config", "cache_ttl=60",
        "--router-start-timeout", "90",
        "--router-log",
        "--keep-config",
        "--mock-backends", "3"
      ])
      assert.isTrue(Either.isRight(r), String(Either.isLeft(r) && r.left))
      if (Either.isLeft(r)) return
      const o = RouterFlags.toRouterOptions(r.right)
      assert.strictEqual(o.cmd, "python -m uvicorn router:app")
      assert.strictEqual(o.dir, "/srv/router")
      assert.strictEqual(o.port, 12434)
      assert.strictEqual(o.workers, 4)
      assert.strictEqual(o.maxConc, 2)
      assert.deepStrictEqual(o.configOverrides, ["conversation_affinity=", "cache_ttl=60"])
      assert.strictEqual(o.startTimeoutSeconds, 90)
      assert.isTrue(o.log)
      assert.isTrue(o.keepConfig)
      assert.strictEqual(r.right.backends._tag === "Some" && r.right.backends.value, 3)
      assert.strictEqual(RouterFlags.givenRouterFlags(r.right).length, 10)
    })
  )

  const bad: ReadonlyArray<[ReadonlyArray<string>, string]> = [
    [["--router-workers", "0"], "--router-workers"],
    [["--router-port", "70000"], "--router-port"],
    [["--router-port", "0"], "--router-port"],
    [["--router-max-conc", "0"], "--router-max-conc"],
    [["--router-config", "conversation_affinity"], "--router-config"],
    [["--router-config", "x=[1,"], "--router-config"],
    [["--router-start-timeout", "0"], "--router-start-timeout"],
    [["--router-cmd", " "], "--router-cmd"],
    [["--router-port", "abc"], "--router-port"],
    [["--router-workers", "2.5"], "--router-workers"],
    [["--mock-backends", "0"], "--mock-backends"],
    [["--mock-backends", "65"], "--mock-backends"]
  ]
  for (const [args, flag] of bad) {
    it.effect(`rejects ${args.join(" ")} with one line naming ${flag}`, () =>
      Effect.gen(function* () {
        const r = yield* parse(args)
        assert.isTrue(Either.isLeft(r))
        if (Either.isRight(r)) return
        if (process.env["SHOW_MESSAGES"]) console.log(r.left)
        assert.include(r.left, flag)
        assert.notInclude(r.left, "\n")
      })
    )
  }
})
