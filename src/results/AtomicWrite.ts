import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Exit, Option } from "effect"
import { InvalidOptions } from "../Errors.ts"
import { onForcedExit } from "../process/ForcedExit.ts"
import { TOOL } from "../Version.ts"

/**
 * Output files (results JSON, HTML report) are written so that they are never half-written
 * and never lost: checked before a run, written through a temp file and a rename, and saved to
 * the system temp folder when the target still cannot be written at the end.
 */

let serial = 0

/**
 * Writes `text` to `path` atomically: a temp file beside it, then a rename. The temp file is
 * removed when the write fails or is interrupted, and registered with `onForcedExit` while it
 * exists, so a forced exit (a second Ctrl-C) does not leave it behind either.
 */
export const writeFileAtomic = Effect.fn("AtomicWrite.writeFileAtomic")(function* (path: string, text: string) {
  const fs = yield* FileSystem.FileSystem
  const p = yield* Path.Path
  const target = p.resolve(path)
  const tmp = p.join(p.dirname(target), `.${p.basename(target)}.${process.pid}.${++serial}.tmp`)
  yield* Effect.acquireUseRelease(
    Effect.sync(() => onForcedExit(() => rmSync(tmp, { force: true }))),
    () => fs.writeFileString(tmp, text, { flag: "wx" }).pipe(Effect.zipRight(fs.rename(tmp, target))),
    (unregister, exit) =>
      (Exit.isSuccess(exit) ? Effect.void : fs.remove(tmp).pipe(Effect.ignore)).pipe(Effect.ensuring(Effect.sync(unregister)))
  )
})

/** Where output that could not be written to `path` is saved instead: a new file in the system temp folder. */
const fallbackPath = (p: Path.Path, path: string): string => {
  const base = p.basename(p.resolve(path)).replace(/[^\w.-]/g, "_") || "output"
  return p.join(tmpdir(), `${TOOL}-${Date.now()}-${process.pid}-${++serial}-${base}`)
}

/** Why writing failed, and where the text was saved instead (none when that failed too). */
export interface WriteFailure {
  readonly cause: PlatformError
  readonly savedTo: Option.Option<string>
  readonly fallbackCause: Option.Option<PlatformError>
}

/**
 * Writes `text` to `path` atomically; when that fails, saves it to a new file in the system
 * temp folder so it is never lost, and fails with where it went.
 */
export const writeOrSave = Effect.fn("AtomicWrite.writeOrSave")(function* (path: string, text: string) {
  const p = yield* Path.Path
  const failed = yield* writeFileAtomic(path, text).pipe(Effect.flip, Effect.option)
  if (Option.isNone(failed)) return
  const cause = failed.value
  const fallback = fallbackPath(p, path)
  const saved = yield* writeFileAtomic(fallback, text).pipe(Effect.either)
  return yield* Effect.fail<WriteFailure>(
    saved._tag === "Right"
      ? { cause, savedTo: Option.some(fallback), fallbackCause: Option.none() }
      : { cause, savedTo: Option.none(), fallbackCause: Option.some(saved.left) }
  )
})

/** The error of a write whose fallback failed too: both causes, one line. */
export const bothFailed = (f: WriteFailure): Error =>
  new Error(`${f.cause.message}; saving to the temp folder failed too (${Option.match(f.fallbackCause, { onNone: () => "?", onSome: (e) => e.message })})`)

/**
 * Fails before a long run (so its output is not lost at the end) when `path` cannot be
 * written: its folder is missing, not a folder or not writable, the path is a folder or not
 * a regular file, or an existing file there cannot be replaced (another user's file in a
 * sticky folder such as /tmp). Tries a temp file and a rename in that folder, as the real
 * write will. Fails with `InvalidOptions` naming `flag` and the path: exit 2.
 */
export const checkWritable = Effect.fn("AtomicWrite.checkWritable")(function* (path: string, flag?: string) {
  const fs = yield* FileSystem.FileSystem
  const p = yield* Path.Path
  const bad = (detail: string) => new InvalidOptions({ flag: flag === undefined ? path : `${flag} ${path}`, detail })
  const target = p.resolve(path)
  const dir = p.dirname(target)
  const dirInfo = yield* fs.stat(dir).pipe(Effect.mapError(() => bad(`folder ${dir} does not exist`)))
  if (dirInfo.type !== "Directory") return yield* bad(`${dir} is not a folder`)
  yield* fs.access(dir, { writable: true }).pipe(Effect.mapError(() => bad(`folder ${dir} is not writable`)))
  const existing = yield* fs.stat(target).pipe(Effect.option)
  if (Option.isSome(existing)) {
    const info = existing.value
    if (info.type === "Directory") return yield* bad("is a folder; give a file path")
    if (info.type !== "File") return yield* bad(`is not a regular file (${info.type.toLowerCase()}); give a file path`)
    const uid = process.getuid?.()
    const owner = Option.getOrUndefined(info.uid)
    const dirOwner = Option.getOrUndefined(dirInfo.uid)
    // In a sticky folder only the file's or the folder's owner may replace (rename over) a file.
    if ((dirInfo.mode & 0o1000) !== 0 && uid !== undefined && uid !== 0 && owner !== uid && dirOwner !== uid) {
      return yield* bad("cannot be replaced: it belongs to another user and its folder is sticky (like /tmp)")
    }
  }
  // What the write will do (create a temp file, rename it), on a probe that leaves nothing behind.
  const probe = p.join(dir, `.${p.basename(target)}.${process.pid}.${++serial}.probe`)
  const moved = `${probe}.moved`
  yield* Effect.acquireUseRelease(
    Effect.sync(() => onForcedExit(() => (rmSync(probe, { force: true }), rmSync(moved, { force: true })))),
    () => fs.writeFileString(probe, "", { flag: "wx" }).pipe(Effect.zipRight(fs.rename(probe, moved))),
    (unregister) =>
      Effect.all([fs.remove(probe), fs.remove(moved)], { mode: "either" }).pipe(Effect.ensuring(Effect.sync(unregister)))
  ).pipe(Effect.mapError((e) => bad(`cannot write there (${e.message})`)))
})
