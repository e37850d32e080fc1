import * as ValidationError from "@effect/cli/ValidationError"
import { Cause, Effect, Exit } from "effect"
import { TOOL } from "../Version.ts"

const isUsageError = (e: unknown): boolean =>
  ValidationError.isValidationError(e) || (typeof e === "object" && e !== null && ((e as any)._tag === "InvalidOptions" || (e as any)._tag === "UsageError"))

/** Prints an expected failure as one line; a defect as "internal error" plus the cause. */
export const reportCause = <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Effect.sync(() => {
    if (Cause.isInterruptedOnly(cause)) return
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      const e = failure.value as any
      // @effect/cli has already printed its own usage errors.
      if (ValidationError.isValidationError(e)) return
      // One line, always: a message quoting a file or a YAML value may carry newlines.
      process.stderr.write(`${TOOL}: ${String(e?.message ?? e).replace(/\s*\n\s*/g, " ").trim()}\n`)
      return
    }
    process.stderr.write(`${TOOL}: internal error\n${Cause.pretty(cause)}\n`)
  })

/** 0 ok, 2 bad input, 130 interrupted, 1 anything else. */
export const exitCode = <E, A>(exit: Exit.Exit<A, E>): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return 130
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some" && isUsageError(failure.value)) return 2
  return 1
}
