import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Data, Effect, Option } from "effect"
import { ResultsWriteFailed } from "../Errors.ts"
import { bothFailed, writeFileAtomic, writeOrSave } from "./AtomicWrite.ts"
import { encodeRunResult, type RunResult } from "../domain/Results.ts"

/** The results could not be written to the path given, so they were saved to `savedTo` (exit 1, nothing lost). */
export class ResultsSavedElsewhere extends Data.TaggedError("ResultsSavedElsewhere")<{
  readonly path: string
  readonly savedTo: string
  readonly cause: unknown
}> {
  override get message() {
    return `cannot write results to ${this.path}: ${String((this.cause as Error)?.message ?? this.cause)}; saved them to ${this.savedTo} instead`
  }
}

/**
 * Writes the results file atomically (a temp file beside the target, then a rename). When
 * that fails the results are saved to a file in the system temp folder and the error says
 * where (`ResultsSavedElsewhere`); `ResultsWriteFailed` only when that failed too.
 */
export const writeResults = Effect.fn("nomyo-load/writeResults")(function* (path: string, result: RunResult) {
  yield* writeOrSave(path, resultsText(result)).pipe(
    Effect.mapError((f) =>
      Option.isSome(f.savedTo)
        ? new ResultsSavedElsewhere({ path, savedTo: f.savedTo.value, cause: f.cause })
        : new ResultsWriteFailed({ path, cause: bothFailed(f) })
    )
  )
})

/** The results file's text: the encoded run, indented, with a final newline. */
const resultsText = (result: RunResult): string => JSON.stringify(encodeRunResult(result), null, 2) + "\n"

/**
 * Writes `result` to `path` atomically, quietly, with no fallback and no failure: the
 * checkpoint after each stage. The final write (writeResults) reports and falls back.
 */
export const checkpointResults = (path: string, result: RunResult): Effect.Effect<void, never, FileSystem.FileSystem | Path.Path> =>
  writeFileAtomic(path, resultsText(result)).pipe(Effect.ignore)

/** Fails before a long run when the file cannot be written there: `InvalidOptions`, exit 2. */
export { checkWritable } from "./AtomicWrite.ts"
