import { Data } from "effect"

/**
 * Fatal, user-actionable conditions. Per-request failures are never these: they are counted
 * by class in the stage results (see domain/ErrorClass.ts).
 */

export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{
  readonly flag: string
  readonly detail: string
}> {
  override get message() {
    return `${this.flag}: ${this.detail}`
  }
}

export class PortInUse extends Data.TaggedError("PortInUse")<{
  readonly host: string
  readonly port: number
  readonly what: string
}> {
  override get message() {
    return `${this.what} cannot listen on ${this.host}:${this.port}: the port is in use (pick another or omit it for a free port)`
  }
}

export class ServerStartFailed extends Data.TaggedError("ServerStartFailed")<{
  readonly what: string
  readonly cause: unknown
}> {
  override get message() {
    return `${this.what} failed to start: ${String((this.cause as Error)?.message ?? this.cause)}`
  }
}

export class TargetUnreachable extends Data.TaggedError("TargetUnreachable")<{
  readonly url: string
  readonly detail: string
}> {
  override get message() {
    return `every request to ${this.url} failed (${this.detail}); is the router running and is --url right?`
  }
}

export class AllRequestsFailed extends Data.TaggedError("AllRequestsFailed")<{
  readonly url: string
  readonly errorsByClass: Readonly<Record<string, number>>
}> {
  override get message() {
    const classes = Object.entries(this.errorsByClass)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")
    return `every measured request to ${this.url} failed (${classes})`
  }
}

export class ResultsWriteFailed extends Data.TaggedError("ResultsWriteFailed")<{
  readonly path: string
  readonly cause: unknown
}> {
  override get message() {
    return `cannot write results to ${this.path}: ${String((this.cause as Error)?.message ?? this.cause)}`
  }
}

/** A malformed command line (a usage error @effect/cli found); exit 2. */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly detail: string
}> {
  override get message() {
    return this.detail
  }
}
