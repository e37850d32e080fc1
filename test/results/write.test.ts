/**
 * Output files are never lost and never left half-written: a path that cannot be written is
 * refused before the run (exit 2), a write that still fails at the end saves the file to the
 * temp folder and says where, and the temp file of an atomic write is removed on failure, on
 * interruption and by a forced exit (second Ctrl-C).
 */
import { NodeContext, NodeFileSystem } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { renderHtml } from "../../src/report/Html.ts"
import { exitCode } from "../../src/cli/Exit.ts"
import { writeHtmlReport } from "../../src/cli/ReportCommand.ts"
import { runForcedExit } from "../../src/process/ForcedExit.ts"
import { checkWritable, writeFileAtomic } from "../../src/results/AtomicWrite.ts"
import { decodeRunResult, encodeRunResult } from "../../src/domain/Results.ts"
import { writeResults } from "../../src/results/WriteResults.ts"
import { makeRun, ramp } from "../analysis/Synthetic.ts"
import { collect, spawnCli } from "../support/Cli.ts"

const run = makeRun(ramp([[8, 100, 400], [16, 180, 700]]))
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "nomyo-write-"))
const withDir = <A, E, R>(f: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.sync(tmp), f, (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))

describe("checkWritable: refused before the run, exit 2", () => {
  it.effect("a folder, a missing folder, a file as folder, a device: InvalidOptions naming flag and path", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const file = path.join(dir, "f.json")
        fs.writeFileSync(file, "{}")
        const cases: ReadonlyArray<readonly [string, RegExp]> = [
          [dir, /^--json .*: is a folder; give a file path$/],
          [path.join(dir, "nope", "r.json"), /^--json .*: folder .*nope does not exist$/],
          [path.join(file, "r.json"), /^--json .*: .*f\.json is not a folder$/],
          ["/dev/null", /^--json \/dev\/null: is not a regular file \(characterdevice\)/]
        ]
        for (const [target, message] of cases) {
          const exit = yield* Effect.exit(checkWritable(target, "--json"))
          assert.strictEqual(exitCode(exit), 2, target)
          assert.isTrue(Exit.isFailure(exit))
          const error = yield* Effect.flip(checkWritable(target, "--json"))
          assert.strictEqual(error._tag, "InvalidOptions")
          assert.match(error.message, message)
        }
        // Without a flag name the path alone is named.
        assert.match((yield* Effect.flip(checkWritable(dir))).message, /^\/.*: is a folder; give a file path$/)
      })
    ).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("a new path or an existing file passes, and the probe leaves nothing behind", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        yield* checkWritable(path.join(dir, "new.json"), "--json")
        fs.writeFileSync(path.join(dir, "old.json"), "{}")
        yield* checkWritable(path.join(dir, "old.json"), "--json")
        assert.deepStrictEqual(fs.readdirSync(dir), ["old.json"])
        assert.strictEqual(fs.readFileSync(path.join(dir, "old.json"), "utf8"), "{}", "the existing file is untouched")
      })
    ).pipe(Effect.provide(NodeContext.layer))
  )
})

describe("a write that still fails at the end saves the output to the temp folder", () => {
  it.effect("results: ResultsSavedElsewhere names the saved file, which reads back as the same run", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        // The check passed earlier; then a folder appeared at the target.
        const target = path.join(dir, "r.json")
        fs.mkdirSync(target)
        const error = yield* Effect.flip(writeResults(target, run))
        assert.strictEqual(error._tag, "ResultsSavedElsewhere")
        if (error._tag !== "ResultsSavedElsewhere") return
        try {
          assert.match(error.message, new RegExp(`^cannot write results to ${target}: .*; saved them to ${error.savedTo} instead$`))
          assert.isTrue(error.savedTo.startsWith(os.tmpdir()))
          const back = yield* decodeRunResult(JSON.parse(fs.readFileSync(error.savedTo, "utf8")))
          assert.strictEqual(JSON.stringify(encodeRunResult(back)), JSON.stringify(encodeRunResult(run)))
          assert.deepStrictEqual(fs.readdirSync(dir), ["r.json"], "no temp file beside the target")
        } finally {
          fs.rmSync(error.savedTo, { force: true })
        }
      })
    ).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("results: when the temp folder fails too, ResultsWriteFailed says both", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const target = path.join(dir, "r.json")
        fs.mkdirSync(target)
        const saved = process.env.TMPDIR
        process.env.TMPDIR = path.join(dir, "no-such-tmp")
        const error = yield* Effect.flip(writeResults(target, run)).pipe(
          Effect.ensuring(Effect.sync(() => (saved === undefined ? delete process.env.TMPDIR : (process.env.TMPDIR = saved))))
        )
        assert.strictEqual(error._tag, "ResultsWriteFailed")
        assert.match(error.message, /^cannot write results to .*r\.json: .*; saving to the temp folder failed too \(/)
      })
    ).pipe(Effect.provide(NodeContext.layer))
  )

  it.effect("HTML report: ReportWriteFailed names the saved file, which holds the report", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const target = path.join(dir, "r.html")
        fs.mkdirSync(target)
        const error = yield* Effect.flip(writeHtmlReport(target, run))
        assert.strictEqual(error._tag, "ReportWriteFailed")
        assert.isString(error.savedTo)
        try {
          assert.match(error.message, new RegExp(`^cannot write the HTML report to ${target}: .*; saved it to ${error.savedTo} instead$`))
          assert.strictEqual(fs.readFileSync(error.savedTo!, "utf8"), renderHtml(run))
        } finally {
          fs.rmSync(error.savedTo!, { force: true })
        }
      })
    ).pipe(Effect.provide(NodeContext.layer))
  )
})

/** The Node file system, except that `rename` signals `entered` and then waits for `release`. */
const gatedRename = (entered: Deferred.Deferred<void>, release: Deferred.Deferred<void>) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) => ({
      ...fs,
      rename: (from: string, to: string) =>
        Deferred.succeed(entered, undefined).pipe(Effect.zipRight(Deferred.await(release)), Effect.zipRight(fs.rename(from, to)))
    }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

describe("the temp file of an atomic write", () => {
  for (const how of ["a forced exit", "an interruption"] as const) {
    it.live(`is removed by ${how} while it exists`, () =>
      withDir((dir) =>
        Effect.gen(function* () {
          const entered = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const target = path.join(dir, "r.json")
          const fiber = yield* writeFileAtomic(target, "{}\n").pipe(
            // The gated file system wins over NodeContext's (the inner provide), Path comes from NodeContext.
            Effect.provide(gatedRename(entered, release)),
            Effect.provide(NodeContext.layer),
            Effect.fork
          )
          yield* Deferred.await(entered)
          const [temp] = fs.readdirSync(dir)
          assert.match(temp!, /^\.r\.json\.\d+\.\d+\.tmp$/, "the temp file exists beside the target")
          if (how === "a forced exit") {
            runForcedExit()
            assert.deepStrictEqual(fs.readdirSync(dir), [], "removed by the forced-exit cleanup")
          }
          yield* Fiber.interrupt(fiber)
          assert.deepStrictEqual(fs.readdirSync(dir), [])
        })
      ),
      20_000
    )
  }

  it.effect("is gone after a successful write, and the target holds the whole text", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const target = path.join(dir, "r.json")
        fs.writeFileSync(target, "old")
        yield* writeFileAtomic(target, "new text\n")
        assert.deepStrictEqual(fs.readdirSync(dir), ["r.json"])
        assert.strictEqual(fs.readFileSync(target, "utf8"), "new text\n")
      })
    ).pipe(Effect.provide(NodeContext.layer))
  )
})

describe("the CLI never loses results", () => {
  it("--json naming a folder is refused before the run (exit 2, one line)", async () => {
    const dir = tmp()
    try {
      const r = await collect(spawnCli(["--mock-direct", "-c", "1", "--duration", "30", "--warmup", "0", "--json", dir]), 60_000)
      assert.strictEqual(r.code, 2, r.stderr)
      assert.strictEqual(r.stderr, `nomyo-load: --json ${dir}: is a folder; give a file path\n`)
      assert.notInclude(r.stdout + r.stderr, "mock backend", "refused before anything started")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)

  it("a --json target that breaks during the run: the results are saved to the temp folder and the path printed", async () => {
    const dir = tmp()
    const target = path.join(dir, "r.json")
    try {
      const child = spawnCli(["--mock-direct", "-c", "2", "--duration", "2", "--warmup", "0", "--mock-tokens", "4", "--json", target])
      const done = collect(child, 60_000)
      let stderr = ""
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on("data", (d) => {
          stderr += d
          if (/mock backend/.test(stderr)) resolve()
        })
        child.once("exit", () => reject(new Error(`exited before starting: ${stderr}`)))
      })
      // The pre-run check has passed; now a folder takes the target's place.
      fs.mkdirSync(target)
      const r = await done
      assert.strictEqual(r.code, 1, r.stderr)
      const m = /saved them to (\S+) instead/.exec(r.stderr)
      assert.isNotNull(m, r.stderr)
      const saved = m![1]!
      try {
        const back = await Effect.runPromise(decodeRunResult(JSON.parse(fs.readFileSync(saved, "utf8"))))
        assert.strictEqual(back.stages.length, 1)
        assert.isAbove(back.stages[0]!.ok, 0)
      } finally {
        fs.rmSync(saved, { force: true })
      }
      assert.deepStrictEqual(fs.readdirSync(dir), ["r.json"], "no temp file beside the target")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
