// The run `nomyo-load --mock-direct --ramp 2,4 --requests 40 --warmup 0 --mock-ttft-ms 2
// --mock-tokens 8 --mock-tok-ms 1 --json out.json` makes, as an Effect program: it prints the
// same RunResult document on stdout (from a package install, import from "nomyo-load").
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect } from "effect"
import { Closed, encodeRunResult, MockDirect, MockOptions, run, RunOptions } from "../src/index.ts"

const options = RunOptions.make({
  mode: MockDirect.make({ mock: MockOptions.make({ ttftMs: 2, tokens: 8, tokMs: 1 }) }),
  shape: Closed.make({ levels: [2, 4] }),
  requests: 40,
  warmupSeconds: 0
})

const program = Effect.gen(function* () {
  const result = yield* run(options, {
    onStageEnd: (s) => console.error(`conc ${s.concurrency}: ${s.ok}/${s.requests} ok, p99 ${s.latency.p99} ms`)
  })
  if (result.knee !== undefined) yield* Console.error(`knee: ${result.knee.reason}`)
  yield* Console.log(JSON.stringify(encodeRunResult(result), null, 2))
})

program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
