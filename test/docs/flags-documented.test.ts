import { assert, describe, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { ROOT, runCli } from "../support/Cli.ts"

// The docs are checked against the live CLI: flags come from `--help` as it prints today, never
// from a list kept here, so a new or renamed flag that no document mentions fails this test.

const readme = () => readFileSync(path.join(ROOT, "README.md"), "utf8")

const docFiles = () => [
  path.join(ROOT, "README.md"),
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join(ROOT, "docs", f))
]

/** Every `--flag` token in a text. A token ending in "-" (as in `--mock-*`) is a family, not a flag. */
const flagsIn = (text: string): Set<string> =>
  new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])/g)].map((m) => m[0]))

/** The output of one help invocation, e.g. ["merge", "--help"]. */
const helpOf = async (argv: ReadonlyArray<string>) => {
  const r = await runCli(argv, { timeoutMs: 120_000 })
  assert.strictEqual(r.code, 0, `nomyo-load ${argv.join(" ")} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

/**
 * Further help pages the main help points to ("nomyo-load help mock-backend",
 * "nomyo-load --help router", "nomyo-load merge --help"), so that a help split by mode or
 * subcommand is read whole. Each is returned as its command line.
 */
const helpPages = (text: string): Array<ReadonlyArray<string>> => [
  ...[...text.matchAll(/nomyo-load (help|--help) ([a-z][a-z-]*)/g)].map((m) => [m[1]!, m[2]!]),
  ...[...text.matchAll(/nomyo-load ([a-z][a-z-]*) --help/g)].map((m) => [m[1]!, "--help"])
]

/** Lines outside fenced code blocks, with the fence state tracked. */
const proseLines = (md: string): Array<string> => {
  const out: Array<string> = []
  let fenced = false
  for (const line of md.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    else if (!fenced) out.push(line)
  }
  return out
}

const headings = (md: string) =>
  proseLines(md)
    .map((l) => l.match(/^(#{1,6})\s+(.*?)\s*#*\s*$/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => ({ level: m[1]!.length, text: m[2]! }))

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-")

/** Markdown link targets `[text](target)` outside code blocks and inline code. */
const linkTargets = (md: string): Array<string> =>
  proseLines(md)
    .map((l) => l.replace(/`[^`]*`/g, ""))
    .flatMap((l) => [...l.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!))

const isRelative = (target: string) => !/^[a-z][a-z0-9+.-]*:/i.test(target)

/** The relative links of one Markdown file that point to no file, or to no heading of their file. */
const brokenLinks = (from: string): Array<string> => {
  const md = readFileSync(from, "utf8")
  const name = path.relative(ROOT, from)
  const anchorsOf = (file: string) => new Set(headings(readFileSync(file, "utf8")).map((h) => slug(h.text)))
  const broken: Array<string> = []
  for (const target of linkTargets(md).filter(isRelative)) {
    const [file, anchor] = target.split("#", 2) as [string, string | undefined]
    const abs = file === "" ? from : path.resolve(path.dirname(from), decodeURIComponent(file))
    if (!abs.startsWith(ROOT + path.sep) || !existsSync(abs)) broken.push(`${name}: ${target} (no such file)`)
    else if (anchor !== undefined && abs.endsWith(".md") && !anchorsOf(abs).has(anchor)) {
      broken.push(`${name}: ${target} (no such heading)`)
    }
  }
  return broken
}

describe("the documentation", () => {
  it("mentions every flag that --help (and each subcommand's --help) prints", async () => {
    const main = await helpOf(["--help"])
    const subcommands = [["merge", "--help"], ["compare", "--help"], ["report", "--help"]]
    const extra = new Map([...subcommands, ...helpPages(main)].map((argv) => [argv.join(" "), argv]))
    const pages = await Promise.all([...extra.values()].map(helpOf))
    const flags = flagsIn([main, ...pages].join("\n"))
    // a sanity floor, so that a help text this test cannot read fails instead of passing empty
    for (const known of ["--url", "--mock-direct", "--mock-backend", "--json", "--max-regress"]) {
      assert.isTrue(flags.has(known), `${known} not found in the --help output; the extraction is broken`)
    }
    const docs = docFiles().map((f) => flagsIn(readFileSync(f, "utf8")))
    const undocumented = [...flags].filter((flag) => !docs.some((d) => d.has(flag))).sort()
    assert.deepStrictEqual(undocumented, [], "flags printed by --help that neither README.md nor docs/*.md mentions")
  }, 240_000) // several CLI start-ups under tsx on a busy two-core machine

  it("keeps the README to one front page without repeated headings", () => {
    const md = readme()
    const lines = md.trimEnd().split("\n").length
    assert.isAtMost(lines, 320, "README.md lines")
    const seen = new Map<string, number>()
    for (const h of headings(md)) seen.set(h.text.toLowerCase(), (seen.get(h.text.toLowerCase()) ?? 0) + 1)
    const repeated = [...seen].filter(([, n]) => n > 1).map(([t]) => t)
    assert.deepStrictEqual(repeated, [], "headings that appear more than once in README.md")
  })

  it("shows examples/library.ts (the program a test runs against the CLI) verbatim as the README's library example", () => {
    const example = readFileSync(path.join(ROOT, "examples", "library.ts"), "utf8").replace('"../src/index.ts"', '"nomyo-load"')
    assert.include(readme(), "```ts\n" + example + "```", "README's library example differs from examples/library.ts")
  })

  it("links only to files and headings that exist, from the README and every docs/*.md", () => {
    const broken = docFiles().flatMap(brokenLinks)
    assert.isAbove(linkTargets(readme()).filter(isRelative).length, 5, "the README links to its docs")
    assert.deepStrictEqual(broken, [], "broken relative links")
  })
})
