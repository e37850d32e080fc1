import { Data } from "effect"

/** The router's last output lines, indented under a heading (or a note that it printed nothing). */
const formatTail = (tail: ReadonlyArray<string>, logPath: string | undefined): string => {
  const where = logPath !== undefined ? ` (full log: ${logPath})` : ""
  if (tail.length === 0) return `; it printed nothing${where}`
  return `; its last output${where}:\n${tail.map((l) => `  | ${l}`).join("\n")}`
}

/** The router could not be launched at all: command not found, folder missing, not executable. */
export class RouterSpawnFailed extends Data.TaggedError("RouterSpawnFailed")<{
  /** The command as shown to the user. */
  readonly command: string
  readonly dir: string
  readonly reason: "NotFound" | "DirNotFound" | "PermissionDenied" | "Other"
  readonly detail: string
  /** True when the command is the default `uvicorn router:app ...`. */
  readonly isDefault: boolean
  readonly tail: ReadonlyArray<string>
}> {
  override get message(): string {
    const tail = this.tail.length > 0 ? formatTail(this.tail, undefined) : ""
    switch (this.reason) {
      case "DirNotFound":
        return `--router-dir ${this.dir}: no such folder`
      case "NotFound":
        return this.isDefault
          ? `uvicorn not found: run from the router's folder with its venv active, or pass --router-cmd (e.g. --router-cmd ".venv/bin/uvicorn router:app")`
          : `cannot start the router: command not found (${this.command}, in ${this.dir})${tail}`
      case "PermissionDenied":
        return `cannot start the router: permission denied (${this.command}, in ${this.dir})${tail}`
      case "Other":
        return `cannot start the router (${this.command}, in ${this.dir}): ${this.detail}${tail}`
    }
  }
}

/** The temp folder, config or log file could not be prepared. */
export class RouterSetupFailed extends Data.TaggedError("RouterSetupFailed")<{
  readonly what: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot prepare the router: ${this.what}: ${this.detail}`
  }
}

/** The router did not answer any HTTP request within the start timeout (it was then stopped). */
export class RouterNotReady extends Data.TaggedError("RouterNotReady")<{
  readonly url: string
  readonly timeoutSeconds: number
  readonly command: string
  readonly tail: ReadonlyArray<string>
  readonly logPath?: string | undefined
}> {
  override get message(): string {
    return (
      `the router did not answer at ${this.url} within ${this.timeoutSeconds} s ` +
      `(raise --router-start-timeout if it is just slow to start; command: ${this.command})` +
      formatTail(this.tail, this.logPath)
    )
  }
}

/**
 * The router process exited on its own: before it was ready (`phase: "startup"`, e.g. a
 * rejected config key) or while load was running (`phase: "run"`, a crash).
 */
export class RouterExited extends Data.TaggedError("RouterExited")<{
  readonly phase: "startup" | "run"
  /** Exit code, or null when it was killed by a signal. */
  readonly code: number | null
  readonly signal: string | null
  readonly command: string
  readonly tail: ReadonlyArray<string>
  readonly logPath?: string | undefined
}> {
  get status(): string {
    return this.code !== null ? `with code ${this.code}` : `killed by ${this.signal ?? "a signal"}`
  }
  override get message(): string {
    const when = this.phase === "startup" ? "before it was ready" : "during the run (partial results kept)"
    return `the router exited ${this.status} ${when} (command: ${this.command})` + formatTail(this.tail, this.logPath)
  }
}

export type RouterError = RouterSpawnFailed | RouterSetupFailed | RouterNotReady | RouterExited
