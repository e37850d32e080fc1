import { Console, Effect } from "effect"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"

const example = (what: string, cmd: string) =>
  HelpDoc.descriptionList([[Span.text(what), HelpDoc.p(Span.code(cmd))]])

/** The command's description: the modes and a runnable example for each. */
export const description = HelpDoc.blocks([
  HelpDoc.p(
    "Load generator and mock LLM backend for the NOMYO Router and any Ollama/OpenAI-compatible proxy: how many concurrent connections can the router sustain on this box, and what does it cost in latency?"
  ),
  HelpDoc.h2("Modes"),
  HelpDoc.descriptionList([
    [Span.text("(default) --url URL"), HelpDoc.p("drive an already-running router")],
    [Span.text("--serve-mock"), HelpDoc.p("run only the mock backend until Ctrl-C")],
    [Span.text("--mock-direct"), HelpDoc.p("drive an in-process mock directly, no router (self-test)")],
    [Span.text("--mock-backend"), HelpDoc.p("start mock + router subprocess, drive through the router, tear both down")]
  ]),
  HelpDoc.h2("Examples"),
  example("ramp against a running router", "nomyo-load --url http://127.0.0.1:12434 --ramp 8,32,64 --json results.json"),
  example("open loop, Poisson arrivals", "nomyo-load --url http://127.0.0.1:12434 --ramp-rate 5,10,20 --arrival poisson"),
  example("only the mock", "nomyo-load --serve-mock --mock-port 11434 --mock-models llama3.2 --mock-tok-ms 25"),
  example("mock + router, from the router's folder", "nomyo-load --mock-backend --ramp 8,32,64 --router-workers 2"),
  example("self-test on the built-in mock", "nomyo-load --mock-direct --ramp 8,32,64 --duration 5"),
  HelpDoc.p("Flags are grouped: [load] [open loop] [output] [mock] [router] [ci]. Exit codes: 0 ok, 1 run failed, 2 bad flags, 130 interrupted."),
  HelpDoc.p(
    "A value outside its flag's Range, a flag the chosen mode or load shape does not use, or two flags that set the same thing are refused with one line naming the flag (exit 2)."
  )
])

/**
 * @effect/cli prints "A user-defined piece of text." under every text flag and argument (the
 * primitive's own help, which no option can replace); our descriptions say what each one is.
 */
const TEXT_BOILERPLATE = /^[ \t]*A user-defined piece of text\.\r?\n\r?\n/gm

/** Runs `self` with a console that drops that line from what it logs (the help screens). */
export const withoutHelpBoilerplate = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) =>
    Effect.withConsole(self, {
      ...base,
      log: (...args) => base.log(...args.map((a) => (typeof a === "string" ? a.replace(TEXT_BOILERPLATE, "") : a)))
    })
  )
