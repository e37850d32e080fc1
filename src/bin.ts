#!/usr/bin/env node
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { withPlainConsole } from "./cli/Console.ts"
import { exitCode, reportCause } from "./cli/Exit.ts"
import { withoutHelpBoilerplate } from "./cli/Help.ts"
import { cli } from "./cli/Main.ts"

// runMain interrupts the program on the first SIGINT/SIGTERM (finalizers run) and then
// removes its handlers, so a second Ctrl-C kills at once.
process.once("SIGINT", () => process.stderr.write("\nstopping… (Ctrl-C again to force)\n"))

cli(process.argv).pipe(
  Effect.tapErrorCause(reportCause),
  withoutHelpBoilerplate,
  withPlainConsole,
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(exitCode(exit))
  })
)
