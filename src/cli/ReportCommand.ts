import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Console, Data, Effect } from "effect"
import { renderHtml } from "../report/Html.ts"
import type { RunResult } from "../results/Results.ts"
import { readResults } from "./AnalysisCommands.ts"

/** The HTML report could not be written (missing folder, no permission, disk full). */
export class ReportWriteFailed extends Data.TaggedError("ReportWriteFailed")<{
  readonly path: string
  readonly cause: unknown
}> {
  override get message() {
    return `cannot write the HTML report to ${this.path}: ${String((this.cause as Error)?.message ?? this.cause)}`
  }
}

/** Renders the run and writes it atomically: a temp file beside the target, then rename. */
export const writeHtmlReport = Effect.fn("nomyo-load/writeHtmlReport")(function* (path: string, run: RunResult) {
  const fs = yield* FileSystem.FileSystem
  const p = yield* Path.Path
  const target = p.resolve(path)
  const tmp = p.join(p.dirname(target), `.${p.basename(target)}.${process.pid}.tmp`)
  const html = yield* Effect.sync(() => renderHtml(run))
  yield* fs.writeFileString(tmp, html).pipe(
    Effect.zipRight(fs.rename(tmp, target)),
    Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore)),
    Effect.mapError((cause) => new ReportWriteFailed({ path, cause }))
  )
})

/** `--report PATH.html` on the main command: also write the HTML report of the run. */
export const reportOption = Options.text("report").pipe(
  Options.withPseudoName("PATH.html"),
  Options.withDescription("[load] Also write a self-contained HTML report (charts, histograms, errors, settings) to this path"),
  Options.optional
)

/** `--quiet` / `-q` on the main command: no live progress line on stderr. */
export const quietOption = Options.boolean("quiet").pipe(
  Options.withAlias("q"),
  Options.withDescription("[load] No live progress line (it is shown only when stderr is a terminal anyway)")
)

/** `nomyo-load report results.json --html out.html` */
export const reportCommand = Command.make(
  "report",
  {
    file: Args.text({ name: "results.json" }).pipe(Args.withDescription("A results file written with --json")),
    html: Options.text("html").pipe(
      Options.withPseudoName("PATH"),
      Options.withDescription("Write the HTML report to this path (one self-contained file, no network access needed to view it)")
    )
  },
  Effect.fn("nomyo-load/report")(function* ({ file, html }) {
    const run = yield* readResults(file)
    yield* writeHtmlReport(html, run)
    yield* Console.error(`report written to ${html}`)
  })
).pipe(Command.withDescription("Render a saved results file (--json) as a self-contained HTML report"))
