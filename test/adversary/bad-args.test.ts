import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { BIN, collect, ROOT, runCli, type CliRun } from "../support/Cli.ts"

/**
 * The adversary table: bad command lines against the real CLI, a spawned process. Each must
 * end by itself within the bound with its exit code and exactly one line on stderr that names
 * the fault: no stack, no "internal error", no @effect/cli "Invalid subcommand" catch-all,
 * nothing on stdout. The lines run five at a time (vitest's concurrency).
 *
 * Speed: under `node --import tsx` every start costs ~4 s of CPU (tsx's loader hooks on each of
 * effect's modules), ~7× what the same source costs bundled. So src/bin.ts is bundled once with
 * esbuild (the compiler tsx itself uses) and the table runs on that bundle; a sample of lines
 * also runs through `node --import tsx src/bin.ts` and must print exactly the same.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), "nomyo-adversary-"))
const bundle = path.join(dir, "nomyo-load.mjs")
beforeAll(async () => {
  const { build } = await import("esbuild")
  await build({
    // NOMYO_ADVERSARY_ENTRY: run the table against another checkout's bin.ts (e.g. the code before a fix).
    entryPoints: [process.env["NOMYO_ADVERSARY_ENTRY"] ?? BIN],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: bundle,
    logLevel: "error",
    // Some CommonJS dependencies call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __nomyoRequire } from 'node:module'; const require = __nomyoRequire(import.meta.url);" }
  })
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const runBundled = (args: ReadonlyArray<string>, timeoutMs: number): Promise<CliRun> =>
  collect(spawn(process.execPath, [bundle, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] }), timeoutMs)
// A results file whose JSON parse error quotes a line break (it used to print on two lines).
const badJson = path.join(dir, "bad.json")
writeFileSync(badJson, '{\n  "schemaVersion": nope\n}\n')

/** A run never gets as far as a request: every line is refused before anything starts. */
const BOUND_MS = 45_000
const USAGE = 2

const hundredAndOne = Array.from({ length: 101 }, (_, i) => i + 1).join(",")

const table: ReadonlyArray<readonly [args: ReadonlyArray<string>, code: number, fragment: string]> = [
  // unknown and misspelt flags, with the nearest one suggested
  [["--concurency", "5"], USAGE, "--concurency: unknown flag (did you mean --concurrency?)"],
  [["--mock-direct", "--mock-tokn", "5"], USAGE, "did you mean --mock-tokens?"],
  [["--rampp", "1,2"], USAGE, "did you mean --ramp?"],
  [["--max-inflite", "3"], USAGE, "did you mean --max-inflight?"],
  [["--xyzzy"], USAGE, "--xyzzy: unknown flag"],
  [["-x"], USAGE, "-x: unknown flag"],
  [["-c2"], USAGE, "did you mean -c 2?"],
  [["merg", "a.json"], USAGE, "merg: unknown command (did you mean merge?)"],
  [["stray"], USAGE, "stray: unexpected argument"],
  [["merge", "--jsn", "x.json", "a.json"], USAGE, "--jsn: unknown flag for merge (did you mean --json?)"],
  [["compare", "a.json", "b.json", "--max-regres", "5"], USAGE, "did you mean --max-regress?"],
  [["report", "x.json", "--htm", "y.html"], USAGE, "did you mean --html?"],
  // missing values
  [["-c"], USAGE, "--concurrency: needs a value"],
  [["--json"], USAGE, "--json: needs a value"],
  [["--url", "--api", "openai"], USAGE, "--url: needs a value (got the flag --api)"],
  [["--ramp", "-c", "3"], USAGE, "--ramp: needs a value (got the flag -c)"],
  [["report", "x.json", "--html"], USAGE, "--html: needs a value"],
  // repeated flags
  [["-c", "1", "-c", "2"], USAGE, "-c: given twice"],
  [["--concurrency", "1", "-c", "2"], USAGE, "given twice (as --concurrency and -c)"],
  [["--stream", "--no-stream"], USAGE, "given twice (as --stream and --no-stream)"],
  [["--mock-direct", "--mock-direct"], USAGE, "--mock-direct: given twice"],
  [["--quiet=1"], USAGE, "--quiet: takes no value"],
  // bounds, integers past 2^53, non-numbers
  [["-c", "99999999999999999999"], USAGE, '--concurrency: must be an integer from 1 to 100000, got "99999999999999999999"'],
  [["-c", "0"], USAGE, "--concurrency: must be an integer from 1 to 100000"],
  [["-c", "100001"], USAGE, "--concurrency: must be an integer from 1 to 100000"],
  [["-c", "abc"], USAGE, '--concurrency: must be an integer from 1 to 100000, got "abc"'],
  [["-c", "1.5"], USAGE, "--concurrency: must be an integer"],
  [["-n", "1e20"], USAGE, "--requests: must be an integer from 1 to 1000000000"],
  [["-n", "0"], USAGE, "--requests: must be an integer"],
  [["--mock-direct", "--mock-tokens", "1e20"], USAGE, "--mock-tokens: must be an integer from 1 to 1000000"],
  [["--ramp", "99999999999999999999"], USAGE, "--ramp: must be an integer from 1 to 100000"],
  [["--ramp", "8,,x"], USAGE, "--ramp: must be an integer"],
  [["--ramp", "8,0"], USAGE, "--ramp: must be an integer from 1"],
  [["--ramp", hundredAndOne], USAGE, "--ramp: at most 100 levels, got 101"],
  [["--rate", "0"], USAGE, "--rate: must be a number > 0 and at most 1000000 requests/s"],
  [["--rate", "1000000000"], USAGE, "--rate: must be a number > 0 and at most 1000000"],
  [["--ramp-rate", "5,-1"], USAGE, "--ramp-rate: must be a number > 0"],
  [["--duration", "0"], USAGE, "--duration: must be a number > 0 and at most 604800 seconds"],
  [["--duration", "1e9"], USAGE, "--duration: must be a number > 0 and at most 604800"],
  [["--warmup", "-2"], USAGE, "--warmup: must be a number from 0 to 86400 seconds"],
  [["--warmup", "1e10"], USAGE, "--warmup: must be a number from 0 to 86400"],
  [["--timeout", "0.0001"], USAGE, "--timeout: must be a number from 0.001 to 86400 seconds"],
  [["--timeout", "soon"], USAGE, '--timeout: must be a number from 0.001 to 86400 seconds, got "soon"'],
  [["--timeout", "1e6"], USAGE, "--timeout: must be a number from 0.001"],
  [["--mock-direct", "--mock-tok-ms", "1e12"], USAGE, "--mock-tok-ms: must be a number from 0 to 600000 ms"],
  [["--mock-direct", "--mock-ttft-ms", "-1"], USAGE, "--mock-ttft-ms: must be a number from 0 to 600000"],
  [["--mock-direct", "--mock-slots", "100001"], USAGE, "--mock-slots: must be an integer from 0 to 100000"],
  [["--mock-direct", "--mock-slots", "1.5"], USAGE, "--mock-slots: must be an integer"],
  [["--mock-direct", "--mock-port", "70000"], USAGE, "--mock-port: must be an integer from 0 to 65535"],
  [["--mock-backend", "--mock-backends", "65"], USAGE, "--mock-backends: must be an integer from 1 to 64"],
  [["--mock-backend", "--mock-backends", "0"], USAGE, "--mock-backends: must be an integer from 1 to 64"],
  [["--rate", "5", "--max-inflight", "0"], USAGE, "--max-inflight: must be an integer from 1 to 100000"],
  [["--rate", "5", "--max-inflight", "100001"], USAGE, "--max-inflight: must be an integer from 1 to 100000"],
  [["--rate", "5", "--arrival", "burst"], USAGE, '--arrival: must be constant or poisson, got "burst"'],
  [["--rate", "5", "--seed", "99999999999999999999"], USAGE, "--seed: must be an integer"],
  [["--api", "grpc"], USAGE, '--api: must be ollama or openai, got "grpc"'],
  [["--url", "ftp://x"], USAGE, "--url: must be an http:// or https:// URL"],
  [["--url", "not a url"], USAGE, "--url: must be an http:// or https:// URL"],
  [["--model", ""], USAGE, '--model: must not be empty, got ""'],
  [["--model="], USAGE, "--model: must not be empty"],
  [["--mock-direct", "--mock-models", "a,,b"], USAGE, "--mock-models: each model name must be non-empty"],
  [["--mock-backend", "--router-cmd", " "], USAGE, "--router-cmd: must not be empty"],
  [["--mock-backend", "--router-workers", "0"], USAGE, "--router-workers: must be an integer from 1 to 1024"],
  [["--mock-backend", "--router-workers", "2.5"], USAGE, "--router-workers: must be an integer"],
  [["--mock-backend", "--router-port", "70000"], USAGE, "--router-port: must be an integer from 0 to 65535"],
  [["--mock-backend", "--router-port", "abc"], USAGE, "--router-port: must be an integer"],
  [["--mock-backend", "--router-max-conc", "0"], USAGE, "--router-max-conc: must be an integer from 1"],
  [["--mock-backend", "--router-config", "conversation_affinity"], USAGE, "--router-config: expects KEY=VALUE"],
  [["--mock-backend", "--router-config", "x=[1,"], USAGE, "--router-config: the value of x is not valid YAML"],
  [["--mock-backend", "--router-start-timeout", "0"], USAGE, "--router-start-timeout: must be a number > 0"],
  [["--mock-backend", "--router-start-timeout", "1e10"], USAGE, "--router-start-timeout: must be a number > 0 and at most 86400"],
  [["--columns", "foo"], USAGE, '--columns: unknown column "foo"'],
  [["--assert", "p99"], USAGE, '--assert: "p99": expected METRIC OP NUMBER'],
  [["--slo", "xx<1"], USAGE, '--slo: "xx<1": unknown metric "xx"'],
  [["--json", ""], USAGE, "--json: must not be empty"],
  // flag and mode combinations: one rule, refused with the reason
  [["--rate", "5", "-n", "10"], USAGE, "--requests: cannot be combined with an open loop"],
  [["--ramp", "1,2", "-c", "3"], USAGE, "--concurrency and --ramp: pick one way to set the load levels"],
  [["--rate", "5", "--ramp-rate", "1,2"], USAGE, "--rate and --ramp-rate: pick one way to set the load levels"],
  [["--ramp", "1,2", "--rate", "5"], USAGE, "--ramp and --rate: pick one way"],
  [["--mock-tokens", "3"], USAGE, "--mock-tokens: only used with --serve-mock, --mock-direct or --mock-backend"],
  [["--mock-slots", "2"], USAGE, "--mock-slots: only used with --serve-mock, --mock-direct or --mock-backend"],
  [["--router-log"], USAGE, "--router-log: only used with --mock-backend"],
  [["--mock-direct", "--router-workers", "2"], USAGE, "--router-workers: only used with --mock-backend"],
  [["--compare-direct"], USAGE, "--compare-direct: only used with --mock-backend"],
  [["--mock-backends", "2"], USAGE, "--mock-backends: only used with --mock-backend"],
  [["--serve-mock", "-c", "3"], USAGE, "--concurrency: not used with --serve-mock"],
  [["--serve-mock", "--json", "x.json"], USAGE, "--json: not used with --serve-mock"],
  [["--arrival", "poisson"], USAGE, "--arrival: only used in the open loop"],
  [["--max-inflight", "5"], USAGE, "--max-inflight: only used in the open loop"],
  [["--serve-mock", "--mock-direct"], USAGE, "--serve-mock and --mock-direct: pick one mode"],
  [["--mock-direct", "--url", "http://127.0.0.1:1"], USAGE, "--url and --mock-direct: pick one mode"],
  [["--mock-backend", "--mock-backends", "2", "--compare-direct"], USAGE, "--compare-direct: needs a single mock backend"],
  // subcommands and files
  [["compare", "a.json"], USAGE, "Missing argument <new>"],
  [["report", "x.json"], USAGE, "--html"],
  [["merge"], USAGE, "Missing argument <file>"],
  [["merge", badJson], USAGE, `results file ${badJson}: not JSON`],
  [["report", path.join(dir, "missing.json"), "--html", path.join(dir, "x.html")], USAGE, "missing.json: no such file"],
  [["--url", "http://127.0.0.1:9", "--json", "/nonexistent-dir/x/out.json"], USAGE, "--json /nonexistent-dir/x/out.json: folder /nonexistent-dir/x does not exist"],
  [["--url", "http://127.0.0.1:9", "--report", "/nonexistent-dir/x/out.html"], USAGE, "--report /nonexistent-dir/x/out.html: folder /nonexistent-dir/x does not exist"]
]

describe.concurrent("adversary: bad command lines", () => {
  it("has at least 60 lines", () => {
    assert.isAtLeast(table.length, 60)
  })

  for (const [args, code, fragment] of table) {
    it(`${args.join(" ").slice(0, 80) || "(empty)"} → exit ${code}`, async () => {
      const started = performance.now()
      const r = await runBundled(args, BOUND_MS + 15_000)
      const elapsed = performance.now() - started
      const lines = r.stderr.split("\n").filter((l) => l.trim().length > 0)
      assert.strictEqual(r.code, code, `exit code (signal ${r.signal}); stderr: ${r.stderr}`)
      assert.isBelow(elapsed, BOUND_MS, "ends by itself within the bound")
      assert.lengthOf(lines, 1, `one line on stderr, got: ${r.stderr}`)
      assert.include(lines[0], fragment)
      assert.match(lines[0]!, /^nomyo-load: /)
      assert.notInclude(r.stderr, "internal error")
      assert.notInclude(r.stderr, "Invalid subcommand")
      assert.notMatch(r.stderr, /\n\s+at /, "no stack trace")
      assert.strictEqual(r.stdout, "", "nothing on stdout")
    }, BOUND_MS + 30_000)
  }

  // The bundle is the same program as `node --import tsx src/bin.ts`: a sample of lines, same output.
  for (const i of [0, 22, 78]) {
    const [args] = table[i]!
    it(`under tsx too: ${args.join(" ").slice(0, 60)}`, async () => {
      const [viaTsx, bundled] = await Promise.all([runCli(args, { timeoutMs: 90_000 }), runBundled(args, 60_000)])
      assert.strictEqual(viaTsx.code, bundled.code)
      assert.strictEqual(viaTsx.stderr, bundled.stderr)
      assert.strictEqual(viaTsx.stdout, bundled.stdout)
    }, 120_000)
  }
})
