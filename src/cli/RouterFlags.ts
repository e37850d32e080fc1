import * as Options from "@effect/cli/Options"
import { Effect, Either, Option } from "effect"
import { parseOverride } from "../router/RouterConfig.ts"
import { invalid, numberFlag } from "./Flags.ts"
import { RouterOptions } from "../router/RouterOptions.ts"

const intIn = (name: string, pseudo: string, min: number, max: number, expects: string) =>
  numberFlag(name, pseudo, (n) => Number.isInteger(n) && n >= min && n <= max, expects)

// ── the router flags (used with --mock-backend) ──────────────────────────────────────────

const cmd = Options.text("router-cmd").pipe(
  Options.withPseudoName("COMMAND"),
  Options.withDescription(
    "[router] Command that starts the router, run through /bin/sh in --router-dir (default: uvicorn router:app). " +
      "Placeholders {host} {port} {workers} {config} are substituted; without {host}/{port}/{workers}, " +
      "--host H --port P --workers N are appended. E.g. --router-cmd \".venv/bin/uvicorn router:app --loop uvloop\""
  ),
  Options.mapEffect((s) => (s.trim().length > 0 ? Effect.succeed(s) : Effect.fail(invalid("--router-cmd must not be empty")))),
  Options.optional
)

const dir = Options.text("router-dir").pipe(
  Options.withPseudoName("DIR"),
  Options.withDescription("[router] Working folder of the router: its checkout, holding router.py and static/ (default: the current folder)"),
  Options.mapEffect((s) => (s.trim().length > 0 ? Effect.succeed(s) : Effect.fail(invalid("--router-dir must not be empty")))),
  Options.optional
)

const port = intIn("router-port", "PORT", 1, 65535, "a port number from 1 to 65535").pipe(
  Options.withDescription("[router] Fixed port for the router (default: a free port)"),
  Options.optional
)

const workers = intIn("router-workers", "N", 1, 1024, "an integer from 1 to 1024").pipe(
  Options.withDescription("[router] uvicorn --workers for the router (default 1)"),
  Options.optional
)

const maxConc = intIn("router-max-conc", "N", 1, 1_000_000, "a positive integer").pipe(
  Options.withDescription(
    "[router] max_concurrent_connections in the generated config (default: the run's peak concurrency). " +
      "Set it low (e.g. 2) to see the router's admission limit; see the README"
  ),
  Options.optional
)

const config = Options.text("router-config").pipe(
  Options.withPseudoName("KEY=VALUE"),
  Options.repeated,
  Options.mapEffect((entries) => {
    for (const s of entries) {
      const r = parseOverride(s)
      if (Either.isLeft(r)) return Effect.fail(invalid(`--router-config: ${r.left}`))
    }
    return Effect.succeed(entries)
  }),
  Options.withDescription(
    "[router] KEY=VALUE (VALUE as YAML) sets a top-level key of the generated config; KEY= removes it. Repeatable. " +
      "E.g. --router-config conversation_affinity= for router v0.7.1, which rejects that key"
  )
)

const startTimeout = numberFlag("router-start-timeout", "SECONDS", (n) => n > 0, "a number of seconds > 0").pipe(
  Options.withDescription("[router] Seconds to wait for the router's first HTTP answer (default 60)"),
  Options.optional
)

const log = Options.boolean("router-log").pipe(
  Options.withDescription("[router] Echo the router's output to stderr, prefixed [router] (it always goes to router.log in the temp folder)")
)

const keepConfig = Options.boolean("keep-config").pipe(
  Options.withDescription("[router] Keep the temp folder with the generated config.yaml, router.log and token DB, and print where it is")
)

const backends = intIn("mock-backends", "N", 1, 64, "an integer from 1 to 64").pipe(
  Options.withDescription(
    "[router] Start N mock backends behind the router (all shaped by the --mock-* flags; with --mock-port P they listen on P, P+1, …). " +
      "Each stage then shows how the router spread the requests over them (default 1)"
  ),
  Options.optional
)

/** Every router flag, as one record (`Command.make(..., { router: RouterFlags.router }, ...)`). */
export const router = Options.all({ cmd, dir, port, workers, maxConc, config, startTimeout, log, keepConfig, backends })

type OptionValue<T> = T extends Options.Options<infer A> ? A : never
export type RouterFlags = OptionValue<typeof router>

/** The router flags the user actually gave (to reject them without --mock-backend). */
export const givenRouterFlags = (flags: RouterFlags): ReadonlyArray<string> =>
  [
    Option.isSome(flags.cmd) && "--router-cmd",
    Option.isSome(flags.dir) && "--router-dir",
    Option.isSome(flags.port) && "--router-port",
    Option.isSome(flags.workers) && "--router-workers",
    Option.isSome(flags.maxConc) && "--router-max-conc",
    flags.config.length > 0 && "--router-config",
    Option.isSome(flags.startTimeout) && "--router-start-timeout",
    flags.log && "--router-log",
    flags.keepConfig && "--keep-config",
    Option.isSome(flags.backends) && "--mock-backends"
  ].filter((x): x is string => typeof x === "string")

/** The parsed flags as library options (values were validated by the flags themselves). */
export const toRouterOptions = (flags: RouterFlags): RouterOptions =>
  RouterOptions.make({
    cmd: Option.getOrUndefined(flags.cmd),
    dir: Option.getOrUndefined(flags.dir),
    port: Option.getOrElse(flags.port, () => 0),
    workers: Option.getOrElse(flags.workers, () => 1),
    maxConc: Option.getOrUndefined(flags.maxConc),
    configOverrides: flags.config,
    startTimeoutSeconds: Option.getOrElse(flags.startTimeout, () => 60),
    keepConfig: flags.keepConfig,
    log: flags.log
  })
