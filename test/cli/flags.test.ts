import { assert, describe, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { scanArgs, type CommandSpec } from "../../src/cli/Argv.ts"
import { assemble, FLAGS, flagByName, flagSpecs, type Given } from "../../src/cli/Flags.ts"
import { command } from "../../src/cli/Main.ts"
import { subcommandSpecs } from "../../src/cli/Argv.ts"
import { MockRouter, Open, RunOptions } from "../../src/options/RunOptions.ts"
import { VERSION } from "../../src/Version.ts"
import { ROOT, runCli } from "../support/Cli.ts"

/** The given-flags list for `assemble`, as the parsed command line would produce it. */
const given = (entries: ReadonlyArray<readonly [string, string | ReadonlyArray<string> | true]>): Given =>
  entries.map(([name, raw]) => {
    const flag = flagByName.get(name)
    if (flag === undefined) throw new Error(`no flag ${name}`)
    return { flag, raw }
  })

const ok = (entries: ReadonlyArray<readonly [string, string | ReadonlyArray<string> | true]>) => {
  const r = assemble(given(entries))
  if (Either.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

describe("flags: one definition each, decoded by RunOptions", () => {
  it("every flag name and alias is defined once", () => {
    const names = FLAGS.flatMap((f) => [f.name, ...(f.alias !== undefined ? [f.alias] : []), ...(f.negation !== undefined ? [f.negation] : [])])
    assert.deepStrictEqual(names.filter((n, i) => names.indexOf(n) !== i), [])
  })

  it("no flags: exactly the Schema's defaults", () => {
    const { options, output } = ok([])
    assert.deepStrictEqual(options, RunOptions.make({}))
    assert.deepStrictEqual(output, { json: undefined, report: undefined, quiet: false, columns: [], assert: undefined })
  })

  it("maps every router flag into the mode (and nothing is re-defaulted by the CLI)", () => {
    const { options } = ok([
      ["mock-backend", true],
      ["router-cmd", " python -m uvicorn router:app "],
      ["router-dir", "/srv/router"],
      ["router-port", "12434"],
      ["router-workers", "4"],
      ["router-max-conc", "2"],
      ["router-config", ["conversation_affinity=", "cache_ttl=60"]],
      ["router-start-timeout", "90"],
      ["router-log", true],
      ["keep-config", true],
      ["mock-backends", "3"],
      ["mock-tokens", "7"]
    ])
    assert.instanceOf(options.mode, MockRouter)
    if (options.mode._tag !== "MockRouter") return
    const r = options.mode.router
    assert.strictEqual(r.cmd, "python -m uvicorn router:app", "surrounding spaces dropped")
    assert.strictEqual(r.dir, "/srv/router")
    assert.strictEqual(r.port, 12434)
    assert.strictEqual(r.workers, 4)
    assert.strictEqual(r.maxConc, 2)
    assert.deepStrictEqual(r.configOverrides, ["conversation_affinity=", "cache_ttl=60"])
    assert.strictEqual(r.startTimeoutSeconds, 90)
    assert.isTrue(r.log)
    assert.isTrue(r.keepConfig)
    assert.strictEqual(r.graceSeconds, 5, "the Schema's default")
    assert.strictEqual(options.mode.backends, 3)
    assert.strictEqual(options.mode.mock.tokens, 7)
    assert.strictEqual(options.mode.mock.ttftMs, 20, "the Schema's default")
  })

  it("open loop: --ramp-rate with --arrival, --seed and --max-inflight", () => {
    const { options, output } = ok([
      ["ramp-rate", "2.5,5"],
      ["arrival", "poisson"],
      ["seed", "-7"],
      ["max-inflight", "9"],
      ["columns", "late,inflight"],
      ["assert", "err=0"],
      ["quiet", true]
    ])
    assert.deepStrictEqual(options.shape, Open.make({ rates: [2.5, 5], arrival: "poisson", seed: -7, maxInFlight: 9 }))
    assert.deepStrictEqual(output.columns, ["late", "inflight"])
    assert.strictEqual(output.assert, "err=0")
    assert.isTrue(output.quiet)
  })

  it("a refused value names the flag the user typed, with what was typed", () => {
    const r = assemble(given([["ramp", "8,99999999999999999999"]]))
    assert.isTrue(Either.isLeft(r))
    if (Either.isLeft(r)) assert.strictEqual(r.left.message, '--ramp: must be an integer from 1 to 100000, got "8,99999999999999999999"')
    const c = assemble(given([["concurrency", "0"]]))
    if (Either.isLeft(c)) assert.strictEqual(c.left.message, '--concurrency: must be an integer from 1 to 100000, got "0"')
    else assert.fail("-c 0 accepted")
  })
})

describe("argv pre-scan", () => {
  const root: CommandSpec = { name: "nomyo-load", positionals: false, flags: flagSpecs }
  const subs = subcommandSpecs(command)
  const scan = (args: ReadonlyArray<string>) => scanArgs(args, root, subs)?.message

  it("reads the subcommands' flags from @effect/cli itself", () => {
    const merge = subs.find((s) => s.name === "merge")
    assert.isDefined(merge)
    assert.includeMembers(merge!.flags.flatMap((f) => f.names), ["--json", "--slo", "--assert"])
    assert.isTrue(merge!.positionals)
    assert.includeMembers(subs.map((s) => s.name), ["merge", "compare", "report", "schema"])
  })

  it("accepts well-formed lines", () => {
    for (const args of [
      [],
      ["-c", "8", "--ramp-rate=5,10", "--router-config", "a=1", "--router-config", "b=2"],
      ["--prompt", "-starts with a dash"],
      ["--quiet", "merge", "a.json", "b.json", "--json", "out.json"],
      ["compare", "a.json", "b.json", "--max-regress", "5%"],
      ["-c", "0", "--help"],
      ["--", "anything"]
    ]) {
      assert.isUndefined(scan(args), args.join(" "))
    }
  })

  it("names the fault and suggests the nearest flag", () => {
    assert.strictEqual(scan(["--concurency", "5"]), "--concurency: unknown flag (did you mean --concurrency?)")
    assert.strictEqual(scan(["--mock-model", "x"]), "--mock-model: unknown flag (did you mean --mock-models?)")
    assert.strictEqual(scan(["--conc", "5"]), "--conc: unknown flag (did you mean --concurrency?)")
    assert.strictEqual(scan(["--frobnicate"]), "--frobnicate: unknown flag; see nomyo-load --help")
    assert.strictEqual(scan(["-c", "2", "-n"]), "--requests: needs a value")
    assert.strictEqual(scan(["--router-config", "a=1", "-c", "1", "--concurrency", "2"]), "--concurrency: given twice (as -c and --concurrency); give it once")
    assert.strictEqual(scan(["report", "--html"]), "--html: needs a value")
  })
})

describe("CLI surface", () => {
  it("help lists every flag with its group, default and range", async () => {
    const r = await runCli(["--help"], { timeoutMs: 90_000 })
    assert.strictEqual(r.code, 0)
    for (const f of FLAGS) assert.include(r.stdout, `--${f.name}`)
    assert.notInclude(r.stdout, "A user-defined piece of text")
    assert.include(r.stdout, "[load] Router base URL to drive")
    assert.include(r.stdout, "Range: 1..100,000")
    assert.include(r.stdout, "Default: 32")
  }, 120_000)

  it("--version prints the package version", async () => {
    const r = await runCli(["--version"], { timeoutMs: 90_000 })
    assert.strictEqual(r.code, 0)
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"))
    assert.strictEqual(pkg.version, VERSION)
    assert.include(r.stdout, VERSION)
  }, 120_000)

  it("`schema` prints the JSON Schema of the results file", async () => {
    const r = await runCli(["schema"], { timeoutMs: 90_000 })
    assert.strictEqual(r.code, 0, r.stderr)
    const schema = JSON.parse(r.stdout)
    assert.strictEqual(schema.$schema, "http://json-schema.org/draft-07/schema#")
    assert.includeMembers(schema.$defs.RunResult.required, ["schemaVersion", "stages", "settings"])
  }, 120_000)

  it("docs/options.md documents every flag", () => {
    const doc = readFileSync(path.join(ROOT, "docs/options.md"), "utf8")
    const missing = FLAGS.filter((f) => !doc.includes(`--${f.name}`)).map((f) => f.name)
    assert.deepStrictEqual(missing, [])
    assert.isTrue(Option.isSome(Option.fromNullable(doc.match(/## Combination rules/))))
  })
})
