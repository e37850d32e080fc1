import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
// The package entry, as an Effect app or a CI job imports it.
import { LoadOptions, MockBackend, MockOptions, RampOptions, runRamp, runStage, type StageResult } from "../../src/index.ts"

describe("library API", () => {
  it.scopedLive("runs a ramp against the in-process mock without the CLI", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 5, tokens: 8, tokMs: 1 }))
      const ended: Array<StageResult> = []
      const load = LoadOptions.make({ url: mock.url, requests: 40, warmupSeconds: 0, expectTokens: 8 })
      const stages = yield* runRamp(RampOptions.make({ load, levels: [2, 4] }), { onStageEnd: (s) => void ended.push(s) })
      assert.strictEqual(stages.length, 2)
      assert.deepStrictEqual(
        stages.map((s) => s.concurrency),
        [2, 4]
      )
      for (const s of stages) {
        assert.strictEqual(s.requests, 40)
        assert.strictEqual(s.ok, 40)
        assert.strictEqual(s.errors, 0)
        assert.strictEqual(s.reportedTokens, 40 * 8)
        assert.isAtLeast(s.ttft.p50, 5)
        assert.isAbove(s.rps, 0)
      }
      assert.strictEqual(ended.length, 2, "onStageEnd once per stage")
    })
  )

  it.scopedLive("openai API, buffered, through the same entry points", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 4, tokMs: 0, models: ["alpha", "beta"] }))
      const s = yield* runStage(
        LoadOptions.make({ url: mock.url, api: "openai", stream: false, model: "beta", concurrency: 3, requests: 30, warmupSeconds: 0 })
      )
      assert.strictEqual(s.ok, 30)
      assert.strictEqual(s.ttft.count, 0, "no TTFT for buffered responses")
      assert.strictEqual(s.reportedTokens, 30 * 4)
    })
  )

  it.scopedLive("an unknown model is counted as http_404, not thrown", () =>
    Effect.gen(function* () {
      const mock = yield* MockBackend.make(MockOptions.make({ ttftMs: 0, tokens: 2, tokMs: 0 }))
      const s = yield* runStage(LoadOptions.make({ url: mock.url, model: "nope", concurrency: 2, requests: 10, warmupSeconds: 0 }))
      assert.strictEqual(s.ok, 0)
      assert.deepStrictEqual(s.errorsByClass, { http_404: 10 })
    })
  )
})

// ── run(RunOptions): the CLI's result, from a library call ─────────────────────────────────

import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Either } from "effect"
import {
  Closed,
  decodeRunOptions,
  decodeRunResult,
  Drive,
  MockDirect,
  MockRouter,
  Open,
  RouterOptions,
  run,
  RunOptions,
  type RunResult,
  resultsJsonSchema,
  settingsOf
} from "../../src/index.ts"
import { collect, ROOT, runCli } from "../support/Cli.ts"
import { spawn } from "node:child_process"
import { checkJsonSchema } from "../cli/JsonSchemaCheck.ts"

/** The fields of a RunResult that do not depend on timing: equal for two runs of the same options. */
const untimed = (r: RunResult) => ({
  schemaVersion: r.schemaVersion,
  mode: r.mode,
  settings: r.settings,
  interrupted: r.interrupted,
  error: r.error,
  hasKnee: r.knee !== undefined,
  environment: { ...r.environment, startedAt: "…" },
  stages: r.stages.map((s) => ({
    index: s.index, loadModel: s.loadModel, concurrency: s.concurrency, rate: s.rate, api: s.api, stream: s.stream,
    interrupted: s.interrupted, requests: s.requests, ok: s.ok, errors: s.errors, errorsByClass: s.errorsByClass,
    warmupRequests: s.warmupRequests, outputChunks: s.outputChunks, reportedTokens: s.reportedTokens,
    tokenMismatches: s.tokenMismatches, lateStarts: s.lateStarts, latencyCount: s.latency.count, ttftCount: s.ttft.count,
    keys: Object.keys(s).sort()
  })),
  keys: Object.keys(r).sort()
})

const EXAMPLE_FLAGS = [
  "--mock-direct", "--ramp", "2,4", "--requests", "40", "--warmup", "0",
  "--mock-ttft-ms", "2", "--mock-tokens", "8", "--mock-tok-ms", "1", "-q"
]

describe("run(RunOptions)", () => {
  it("examples/library.ts gets the RunResult the CLI writes for the same flags (up to timings)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "nomyo-lib-"))
    try {
      const json = path.join(dir, "cli.json")
      const example = collect(
        spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "examples/library.ts")], {
          cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"]
        }),
        120_000
      )
      const [lib, cli] = await Promise.all([example, runCli([...EXAMPLE_FLAGS, "--json", json], { timeoutMs: 120_000 })])
      assert.strictEqual(lib.code, 0, lib.stderr)
      assert.strictEqual(cli.code, 0, cli.stderr)
      const fromLib = await Effect.runPromise(decodeRunResult(JSON.parse(lib.stdout)))
      const fromCli = await Effect.runPromise(decodeRunResult(JSON.parse(readFileSync(json, "utf8"))))
      assert.deepStrictEqual(untimed(fromLib), untimed(fromCli))
      // Not vacuous: both measured what the flags say.
      assert.deepStrictEqual(fromCli.stages.map((s) => [s.concurrency, s.ok, s.reportedTokens]), [[2, 40, 320], [4, 40, 320]])
      assert.strictEqual(fromCli.settings["mode"], "mock-direct")
      assert.notProperty(fromCli.settings, "url", "no unused default URL in a mock mode")

      // The JSON Schema generated from the results Schema accepts the real file, and refuses a broken one.
      const schema = resultsJsonSchema()
      const file = JSON.parse(readFileSync(json, "utf8"))
      assert.deepStrictEqual(checkJsonSchema(schema, file), [])
      const broken = { ...file, stages: [{ ...file.stages[0], ok: "forty" }], interrupted: undefined }
      assert.isAbove(checkJsonSchema(schema, JSON.parse(JSON.stringify(broken))).length, 1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)

  it.live("runs the mock-direct mode and returns knee, settings and environment", () =>
    Effect.gen(function* () {
      const options = RunOptions.make({
        mode: MockDirect.make({ mock: MockOptions.make({ ttftMs: 0, tokens: 3, tokMs: 0 }) }),
        shape: Closed.make({ levels: [1, 2] }),
        requests: 10,
        warmupSeconds: 0,
        slo: "p99<60000"
      })
      const started: Array<number> = []
      const result = yield* run(options, { onStageStart: (s) => void started.push(s.concurrency) })
      assert.deepStrictEqual(started, [1, 2])
      assert.strictEqual(result.mode, "mock-direct")
      assert.deepStrictEqual(result.stages.map((s) => s.ok), [10, 10])
      assert.isDefined(result.knee)
      assert.strictEqual(result.slo?.bestLevel, 2)
      assert.strictEqual(result.settings["model"], "mock")
      assert.strictEqual(result.environment.tool, "nomyo-load")
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it.live("an interrupted run hands what was measured to onPartial", () =>
    Effect.gen(function* () {
      const options = RunOptions.make({
        mode: MockDirect.make({ mock: MockOptions.make({ ttftMs: 0, tokens: 2, tokMs: 0 }) }),
        shape: Closed.make({ levels: [1, 1] }),
        durationSeconds: 600,
        warmupSeconds: 0
      })
      const partials: Array<RunResult> = []
      // Interrupted inside the first stage's 10-minute window.
      const started = yield* Effect.makeLatch(false)
      const fiber = yield* run(options, {
        onStageStart: () => Effect.runSync(started.open),
        onPartial: (r) => Effect.sync(() => void partials.push(r))
      }).pipe(Effect.fork)
      yield* started.await
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(partials.length, 1)
      assert.isTrue(partials[0]!.interrupted)
      assert.strictEqual(partials[0]!.error, "interrupted")
      assert.strictEqual(partials[0]!.stages.length, 1, "the cut-short stage is reported")
      assert.isTrue(partials[0]!.stages[0]!.interrupted)
    }).pipe(Effect.provide(NodeContext.layer))
  )

  it("refuses what the CLI refuses: --compare-direct with several backends, --requests in the open loop, bad bounds", () => {
    assert.throws(() => MockRouter.make({ backends: 2, compareDirect: true }), /needs a single mock backend/)
    const cases: ReadonlyArray<[unknown, string]> = [
      [{ mode: { _tag: "MockRouter", backends: 2, compareDirect: true } }, "mode.compareDirect: needs a single mock backend"],
      [{ shape: { _tag: "Open", rates: [5] }, requests: 10 }, "requests: cannot be combined with an open loop"],
      [{ shape: { _tag: "Closed", levels: [1e20] } }, "shape.levels.0: must be an integer from 1 to 100000"],
      [{ shape: { _tag: "Closed", levels: Array.from({ length: 101 }, () => 1) } }, "shape.levels: at most 100 levels"],
      [{ shape: { _tag: "Open", rates: [2e6] } }, "shape.rates.0: must be a number > 0 and at most 1000000"],
      [{ timeoutSeconds: 0 }, "timeoutSeconds: must be a number from 0.001 to 86400"],
      [{ mode: { _tag: "MockDirect", mock: { tokMs: 1e12 } } }, "mode.mock.tokMs: must be a number from 0 to 600000"],
      [{ model: "" }, "model: must not be empty"],
      [{ mode: { _tag: "Drive", url: "ftp://x" } }, "mode.url: must be an http:// or https:// URL"]
    ]
    for (const [input, message] of cases) {
      const r = decodeRunOptions(input)
      assert.isTrue(Either.isLeft(r), JSON.stringify(input))
      if (Either.isLeft(r)) assert.include(r.left.message, message)
    }
    assert.isTrue(Either.isRight(decodeRunOptions({ shape: { _tag: "Open", rates: [5] } })))
  })

  it("settings: the mode actually used, no secrets", () => {
    const drive = settingsOf(RunOptions.make({ mode: Drive.make({ url: "http://user:hunter2@127.0.0.1:9/" }) }))
    assert.strictEqual(drive["url"], "http://***:***@127.0.0.1:9/")
    assert.notProperty(drive, "mock")
    const routed = settingsOf(
      RunOptions.make({
        mode: MockRouter.make({
          router: RouterOptions.make({
            cmd: "OPENAI_API_KEY=sk-123 uvicorn router:app --api-key s3cret",
            configOverrides: ["api_key=sk-456", "cache_ttl=60"],
            env: { NOMYO_TOKEN: "t0k" }
          })
        }),
        shape: Open.make({ rates: [5, 10], maxInFlight: 77 })
      })
    )
    const text = JSON.stringify(routed)
    for (const secret of ["hunter2", "sk-123", "s3cret", "sk-456", "t0k"]) assert.notInclude(text, secret)
    assert.include(text, "cache_ttl=60")
    assert.notProperty(routed, "url")
    assert.strictEqual((routed["router"] as { maxConc: number }).maxConc, 77, "the max_concurrent_connections the run writes")
    assert.strictEqual(routed["mockBackends"], 1)
    assert.deepStrictEqual(routed["levels"], [5, 10])
  })
})
