#!/usr/bin/env node
// Signals first: from here on SIGINT/SIGTERM exit 130 with a message (see process/Signals.ts),
// even while the modules below are still loading (~0.8 s under tsx).
import { installSignals } from "./process/Signals.ts"

const signals = installSignals()

const [NodeContext, { Effect }, { withPlainConsole }, { exitCode, reportCause }, { withoutHelpBoilerplate }, { cli }, { runMain }] =
  await Promise.all([
    import("@effect/platform-node/NodeContext"),
    import("effect"),
    import("./cli/Console.ts"),
    import("./cli/Exit.ts"),
    import("./cli/Help.ts"),
    import("./cli/Main.ts"),
    import("./process/RunMain.ts")
  ])

runMain(
  cli(process.argv).pipe(
    Effect.tapErrorCause(reportCause),
    withoutHelpBoilerplate,
    withPlainConsole,
    Effect.provide(NodeContext.layer)
  ),
  { signals, exitCode }
)
