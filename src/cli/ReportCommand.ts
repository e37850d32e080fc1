import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Console, Data, Effect, Option } from "effect"
import { renderHtml } from "../report/Html.ts"
import { checkWritable, bothFailed, writeOrSave } from "../results/AtomicWrite.ts"
import type { RunResult } from "../domain/Results.ts"
import { readResults } from "./AnalysisCommands.ts"

/**
 * The HTML report could not be written to `path` (missing folder, no permission, disk full);
 * it was saved to `savedTo` instead unless that failed too.
 */
export class ReportWriteFailed extends Data.TaggedError("ReportWriteFailed")<{
  readonly path: string
  readonly cause: unknown
  readonly savedTo?: string
}> {
  override get message() {
    const why = String((this.cause as Error)?.message ?? this.cause)
    return this.savedTo === undefined
      ? `cannot write the HTML report to ${this.path}: ${why}`
      : `cannot write the HTML report to ${this.path}: ${why}; saved it to ${this.savedTo} instead`
  }
}

/** Renders the run and writes it atomically; when the target cannot be written it is saved to the temp folder (see `writeOrSave`). */
export const writeHtmlReport = Effect.fn("nomyo-load/writeHtmlReport")(function* (path: string, run: RunResult) {
  const html = yield* Effect.sync(() => renderHtml(run))
  yield* writeOrSave(path, html).pipe(
    Effect.mapError((f) =>
      Option.isSome(f.savedTo)
        ? new ReportWriteFailed({ path, cause: f.cause, savedTo: f.savedTo.value })
        : new ReportWriteFailed({ path, cause: bothFailed(f) })
    )
  )
})

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
    yield* checkWritable(html, "--html")
    const run = yield* readResults(file)
    yield* writeHtmlReport(html, run)
    yield* Console.error(`report written to ${html}`)
  })
).pipe(Command.withDescription("Render a saved results file (--json) as a self-contained HTML report"))
