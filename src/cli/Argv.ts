import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as Usage from "@effect/cli/Usage"
import { HashMap, Option } from "effect"
import { InvalidOptions } from "../Errors.ts"

/**
 * A first look at the command line, before @effect/cli parses it: @effect/cli answers every
 * unknown or misspelt flag, missing value, stray argument and repeated flag with "Invalid
 * subcommand … use one of 'merge', 'compare', 'report'". Here each of those becomes one line
 * naming the flag, with the nearest known one suggested.
 */

export interface FlagSpec {
  /** Every spelling: `--concurrency`, `-c`. The first is the canonical one. */
  readonly names: ReadonlyArray<string>
  readonly takesValue: boolean
  readonly repeatable: boolean
}

export interface CommandSpec {
  readonly name: string
  readonly flags: ReadonlyArray<FlagSpec>
  /** Whether the command takes positional arguments (their count is @effect/cli's to check). */
  readonly positionals: boolean
}

/** @effect/cli's own options; with one of these the line is left to @effect/cli. */
const BUILT_IN_EXITS = new Set(["--help", "-h", "--version", "--wizard", "--completions"])
const BUILT_IN_VALUES: ReadonlyArray<FlagSpec> = [{ names: ["--log-level"], takesValue: true, repeatable: false }]

/** The flags of a command's usage tree (names, whether each takes a value, whether it repeats). */
const specOfUsage = (usage: Usage.Usage, repeated = false): { flags: Array<FlagSpec>; positionals: boolean } => {
  switch (usage._tag) {
    case "Named": {
      const positional = usage.names.every((n) => n.startsWith("<"))
      if (positional) return { flags: [], positionals: true }
      return { flags: [{ names: usage.names, takesValue: Option.isSome(usage.acceptedValues), repeatable: repeated }], positionals: false }
    }
    case "Optional":
      return specOfUsage(usage.usage, repeated)
    case "Repeated":
      return specOfUsage(usage.usage, true)
    case "Alternation":
    case "Concat": {
      const l = specOfUsage(usage.left, repeated)
      const r = specOfUsage(usage.right, repeated)
      return { flags: [...l.flags, ...r.flags], positionals: l.positionals || r.positionals }
    }
    default:
      return { flags: [], positionals: false }
  }
}

/** The specs of a command's subcommands, read from @effect/cli's own descriptors. */
export const subcommandSpecs = <N extends string, R, E, A>(command: Command.Command<N, R, E, A>): ReadonlyArray<CommandSpec> =>
  HashMap.toEntries(Command.getSubcommands(command)).map(([name, d]) => {
    const spec = specOfUsage(Descriptor.getUsage(d))
    // The usage tree starts with the subcommand's own name.
    return { name, flags: spec.flags.filter((f) => !f.names.includes(name)), positionals: spec.positionals }
  })

/** Levenshtein distance, for "did you mean". */
const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]!
}

/** The known name nearest to `word`, if it is near enough to be a typo (or `word` is a prefix of it). */
export const nearest = (word: string, known: ReadonlyArray<string>): string | undefined => {
  const bare = word.replace(/^-+/, "")
  let best: { name: string; d: number } | undefined
  for (const name of known) {
    const d = distance(bare, name.replace(/^-+/, ""))
    if (best === undefined || d < best.d) best = { name, d }
  }
  if (best !== undefined && best.d <= Math.max(2, Math.floor(bare.length / 3))) return best.name
  const prefixed = known.filter((k) => k.startsWith(`--${bare}`) && bare.length >= 3)
  return prefixed.length === 1 ? prefixed[0] : undefined
}

const fail = (flag: string, detail: string) => new InvalidOptions({ flag, detail })

const didYouMean = (word: string, known: ReadonlyArray<string>) => {
  const near = nearest(word, known)
  return near !== undefined ? ` (did you mean ${near}?)` : ""
}

/** Checks the flags of one command's part of the line. */
const scanCommand = (
  tokens: ReadonlyArray<string>,
  spec: CommandSpec,
  root: string,
  commands: ReadonlyArray<string>
): InvalidOptions | undefined => {
  const flags = [...spec.flags, ...BUILT_IN_VALUES]
  const byName = new Map<string, FlagSpec>()
  for (const f of flags) for (const n of f.names) byName.set(n, f)
  const longNames = flags.flatMap((f) => f.names.filter((n) => n.startsWith("--")))
  const seen = new Map<FlagSpec, string>()
  const where = spec.name === root ? "" : ` for ${spec.name}`

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token === "--") return undefined
    if (!token.startsWith("-") || token === "-") {
      if (spec.positionals) continue
      const near = nearest(token, commands)
      return near !== undefined && !token.includes("/") && !token.includes(".")
        ? fail(token, `unknown command (did you mean ${near}?)`)
        : fail(token, `unexpected argument: ${root} takes flags only (commands: ${commands.join(", ")}); see ${root} --help`)
    }
    const eq = token.startsWith("--") ? token.indexOf("=") : -1
    const name = eq > 0 ? token.slice(0, eq) : token
    const flag = byName.get(name)
    if (flag === undefined) {
      const short = /^-([A-Za-z])(.+)$/.exec(token)
      if (short !== null && byName.get(`-${short[1]}`)?.takesValue === true) {
        return fail(token, `unknown flag${where} (did you mean -${short[1]} ${short[2]!.replace(/^=/, "")}?)`)
      }
      return fail(name, `unknown flag${where}${didYouMean(name, longNames) || `; see ${root}${where ? ` ${spec.name}` : ""} --help`}`)
    }
    const canonical = flag.names.find((n) => n.startsWith("--")) ?? name
    const earlier = seen.get(flag)
    if (earlier !== undefined && !flag.repeatable) {
      return fail(name, earlier === name ? "given twice; give it once" : `given twice (as ${earlier} and ${name}); give it once`)
    }
    seen.set(flag, name)
    if (!flag.takesValue) {
      if (eq > 0) return fail(name, "takes no value")
      continue
    }
    if (eq > 0) continue
    const value = tokens[i + 1]
    if (value === undefined || (value.startsWith("-") && (byName.has(value.split("=")[0]!) || BUILT_IN_EXITS.has(value)))) {
      return fail(canonical, `needs a value${value !== undefined ? ` (got the flag ${value})` : ""}`)
    }
    i++
  }
  return undefined
}

/**
 * Finds the first fault in `args` (the arguments after the program name), or undefined when the
 * line is well formed as far as flags go. The first word naming a subcommand switches to that
 * subcommand's flags.
 */
export const scanArgs = (
  args: ReadonlyArray<string>,
  root: CommandSpec,
  subcommands: ReadonlyArray<CommandSpec>
): InvalidOptions | undefined => {
  if (args.some((a) => BUILT_IN_EXITS.has(a))) return undefined
  const byName = new Map(subcommands.map((s) => [s.name, s]))
  const commands = subcommands.map((s) => s.name).sort()
  const rootValues = new Set(root.flags.filter((f) => f.takesValue).flatMap((f) => f.names))
  // The subcommand is the first word that is not a flag or a flag's value.
  let split = -1
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") break
    if (a.startsWith("-")) {
      if (rootValues.has(a)) i++
      continue
    }
    if (byName.has(a)) split = i
    break
  }
  if (split < 0) return scanCommand(args, root, root.name, commands)
  return scanCommand(args.slice(0, split), root, root.name, commands) ?? scanCommand(args.slice(split + 1), byName.get(args[split]!)!, root.name, commands)
}
