import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import { ResultsWriteFailed } from "../Errors.ts"
import { encodeRunResult, type RunResult } from "./Results.ts"

/** Writes the results file atomically: a temp file beside the target, then rename. */
export const writeResults = Effect.fn("nomyo-load/writeResults")(function* (path: string, result: RunResult) {
  const fs = yield* FileSystem.FileSystem
  const p = yield* Path.Path
  const target = p.resolve(path)
  const tmp = p.join(p.dirname(target), `.${p.basename(target)}.${process.pid}.tmp`)
  const text = JSON.stringify(encodeRunResult(result), null, 2) + "\n"
  yield* fs.writeFileString(tmp, text).pipe(
    Effect.zipRight(fs.rename(tmp, target)),
    Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore)),
    Effect.mapError((cause) => new ResultsWriteFailed({ path, cause }))
  )
})

/** Fails early (before a long run) when the results file's folder is missing or not writable. */
export const checkWritable = Effect.fn("nomyo-load/checkWritable")(function* (path: string) {
  const fs = yield* FileSystem.FileSystem
  const p = yield* Path.Path
  const dir = p.dirname(p.resolve(path))
  const info = yield* fs.stat(dir).pipe(
    Effect.mapError((cause) => new ResultsWriteFailed({ path, cause: new Error(`folder ${dir} does not exist`, { cause }) }))
  )
  if (info.type !== "Directory") return yield* Effect.fail(new ResultsWriteFailed({ path, cause: new Error(`${dir} is not a folder`) }))
  yield* fs.access(dir, { writable: true }).pipe(
    Effect.mapError((cause) => new ResultsWriteFailed({ path, cause: new Error(`folder ${dir} is not writable`, { cause }) }))
  )
})
