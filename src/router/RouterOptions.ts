import { Schema } from "effect"
import { BOUNDS, intIn, nonEmptyText, numberAbove, numberIn, Port } from "../domain/Bounds.ts"
import { parseOverride } from "./RouterConfig.ts"

const PositiveInt = Schema.Int.pipe(Schema.positive())

/** A shell command: surrounding spaces are dropped, nothing else is touched. */
const Command = Schema.compose(Schema.Trim, nonEmptyText)

/** `KEY=VALUE` (VALUE parsed as YAML) or `KEY=` (remove the key); see RouterConfig.parseOverride. */
export const ConfigOverride = Schema.String.pipe(
  Schema.filter((s) => {
    const r = parseOverride(s)
    return r._tag === "Right" ? true : `--router-config: ${r.left.replace(/\s*\n\s*/g, " ")}`
  })
)

/**
 * How `--mock-backend` starts the router subprocess. Shared by the CLI (src/cli/Flags.ts)
 * and the library (RouterProcess.start, Orchestrate.runWithRouter).
 */
export class RouterOptions extends Schema.Class<RouterOptions>("RouterOptions")({
  /**
   * Shell command replacing `uvicorn router:app`. Placeholders `{host}` `{port}` `{workers}`
   * `{config}` are substituted; with none of `{host}` `{port}` `{workers}` present,
   * `--host H --port P --workers N` is appended. Run through `/bin/sh -c`.
   */
  cmd: Schema.optional(Command),
  /** Working folder of the router (default: the current folder). */
  dir: Schema.optional(nonEmptyText),
  host: Schema.optionalWith(Schema.NonEmptyString, { default: () => "127.0.0.1" }),
  /** Port for the router; 0 picks a free one. */
  port: Schema.optionalWith(Port, { default: () => 0 }),
  /** uvicorn `--workers`. */
  workers: Schema.optionalWith(intIn(1, BOUNDS.routerWorkers.max), { default: () => 1 }),
  /** `max_concurrent_connections` in the generated config (default: the run's peak concurrency). */
  maxConc: Schema.optional(intIn(1, BOUNDS.routerMaxConc.max)),
  /** Top-level config adjustments, applied in order after the generated keys. */
  configOverrides: Schema.optionalWith(Schema.Array(ConfigOverride), { default: () => [] }),
  /** How long to wait for the router's first HTTP answer. */
  startTimeoutSeconds: Schema.optionalWith(numberAbove(0, BOUNDS.routerStartTimeoutSeconds.max, "seconds"), { default: () => 60 }),
  /** After SIGTERM to the router's process group, how long before SIGKILL. */
  graceSeconds: Schema.optionalWith(numberIn(0, BOUNDS.graceSeconds.max, "seconds"), { default: () => 5 }),
  /** Keep the temp folder (config.yaml, router.log, token DB) after the run. */
  keepConfig: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Echo the router's output to stderr, prefixed `[router] ` (it always goes to router.log). */
  log: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /**
   * router.log keeps at most this many bytes; after that a marker line is written and the rest is
   * read and dropped (the error tails still see it), so a long run with an access log cannot
   * fill the disk.
   */
  logMaxBytes: Schema.optionalWith(PositiveInt, { default: () => 256 * 1024 * 1024 }),
  /** Extra environment for the router (on top of ours and the NOMYO_ROUTER_* variables). */
  env: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) })
}) {}
