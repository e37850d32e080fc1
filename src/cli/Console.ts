import { Console, Effect } from "effect"
import { colourFor } from "../report/Colour.ts"

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

/** Colour only on a terminal, and never with NO_COLOR set. */
export const useColour = (stream: NodeJS.WriteStream): boolean => colourFor(stream)

const strip = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? a.replace(ANSI, "") : a))

/**
 * Runs `self` with the current console minus ANSI colour codes where colour is off.
 * @effect/cli colours its help and messages unconditionally; this is where that is undone.
 */
export const withPlainConsole = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) => {
    const out = useColour(process.stdout)
    const err = useColour(process.stderr)
    if (out && err) return self
    const plain: Console.Console = {
      ...base,
      log: (...args) => base.log(...(out ? args : strip(args))),
      info: (...args) => base.info(...(out ? args : strip(args))),
      error: (...args) => base.error(...(err ? args : strip(args))),
      warn: (...args) => base.warn(...(err ? args : strip(args)))
    }
    return Effect.withConsole(self, plain)
  })
