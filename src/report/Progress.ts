import { Duration, Effect, Schedule, type Scope, SubscriptionRef } from "effect"
import type { StageHooks } from "../load/Hooks.ts"
import type { StageSnapshot } from "../load/Snapshot.ts"
import { colourFor } from "./Colour.ts"

export { combineHooks } from "../load/Hooks.ts"

/**
 * The live progress line: a listener on the stage hooks, never part of the engine. It reads
 * the stage's published snapshots (never its recorder) and redraws one `\r`-line on stderr a
 * few times a second, erased before anything else is printed.
 */

/** What the reporter writes to: `process.stderr`, or a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean | undefined
  /** Terminal width; the line is cut to fit so it never wraps (a wrapped line cannot be rewritten). */
  readonly columns?: number | undefined
  write(chunk: string): boolean
}

export interface ProgressLineOptions {
  /** Number of stages in the run, for "stage 2/5". */
  readonly stages?: number | undefined
  readonly colour?: boolean | undefined
  /** Cut trailing fields so the line fits in this many columns. */
  readonly width?: number | undefined
}

export interface ProgressOptions {
  /** Normally `process.stderr`: progress never goes to stdout, where the table and JSON go. */
  readonly stream: ProgressStream
  /** `--quiet`: no progress line at all. */
  readonly quiet?: boolean | undefined
  /** Number of stages in the run (levels of the ramp), for "stage 2/5". */
  readonly stages?: number | undefined
  /** Redraw interval; default 250 ms. */
  readonly intervalMs?: number | undefined
  /** Default: the stream is a TTY and NO_COLOR is unset. */
  readonly colour?: boolean | undefined
}

/** Stage hooks that draw the progress line, plus a way to print around it. */
export interface ProgressReporter extends Required<StageHooks> {
  /** False when the stream is not a TTY or with --quiet: the hooks then do nothing. */
  readonly enabled: boolean
  /** Prints a message on its own line (erasing the progress line first; it is redrawn at the next tick). */
  readonly log: (message: string) => void
  /** Erases the progress line now, e.g. before printing the table. */
  readonly clear: () => void
}

/** Progress is drawn only on a terminal and never with --quiet. */
export const progressEnabled = (stream: ProgressStream, quiet = false): boolean => stream.isTTY === true && !quiet

/** Colour only on a terminal, and never with NO_COLOR set. */
export const progressColour = (stream: ProgressStream): boolean => colourFor(stream)

const CLEAR = "\r\u001b[K"
const paint = (on: boolean, code: string, text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text)

const seconds = (s: number) => `${s.toFixed(1)}s`
const millis = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms < 1000 ? ms.toFixed(1) : ms.toFixed(0))

/**
 * One progress line (no `\r`, no newline), e.g.
 * `stage 2/5 conc 16 | measure 12.3s, 7.7s left | in flight 16 | ok 1234 err 3 | 456.7 req/s | p99 123.4 ms`.
 * req/s is the snapshot's completions per second over about the last second (warmup
 * included), `-` until known; p99 is of the ok requests measured so far.
 */
export const formatProgressLine = (live: StageSnapshot, options: ProgressLineOptions = {}): string => {
  const c = options.colour === true
  const fields: Array<{ plain: string; text: string }> = []
  const add = (plain: string, text = plain) => fields.push({ plain, text })

  const stage = options.stages !== undefined ? `stage ${live.index + 1}/${options.stages}` : `stage ${live.index + 1}`
  const level = live.rate !== undefined ? `rate ${live.rate}/s` : `conc ${live.concurrency}`
  add(`${stage} ${level}`, `${paint(c, "1", stage)} ${level}`)

  switch (live.phase) {
    case "warmup":
      add("warmup", paint(c, "33", "warmup"))
      break
    case "measure": {
      const done = live.ok + live.errors
      const where =
        live.requestsTarget !== undefined
          ? `${done}/${live.requestsTarget} req`
          : `${seconds(live.elapsedSeconds)}, ${seconds(live.remainingSeconds ?? 0)} left`
      add(`measure ${where}`, `${paint(c, "32", "measure")} ${where}`)
      break
    }
    case "drain":
      add(`drain ${seconds(live.elapsedSeconds)}`, `${paint(c, "36", "drain")} ${seconds(live.elapsedSeconds)}`)
      break
    case "done":
      add("done")
      break
  }

  add(`in flight ${live.inFlight}`)
  const err = `err ${live.errors}`
  add(`ok ${live.ok} ${err}`, `ok ${live.ok} ${live.errors > 0 ? paint(c, "31", err) : err}`)

  add(`${live.completedPerSecond === undefined ? "-" : live.completedPerSecond.toFixed(1)} req/s`)
  add(live.latencyP99Ms !== undefined ? `p99 ${millis(live.latencyP99Ms)} ms` : "p99 -")

  const sep = " | "
  const width = options.width !== undefined && options.width > 0 ? options.width - 1 : Infinity
  let used = 0
  const out: Array<string> = []
  for (const f of fields) {
    const extra = (out.length > 0 ? sep.length : 0) + f.plain.length
    if (out.length > 0 && used + extra > width) break
    used += extra
    out.push(f.text)
  }
  return out.join(c ? paint(c, "2", sep) : sep)
}

const disabled = (stream: ProgressStream): ProgressReporter => ({
  enabled: false,
  onStageStart: () => {},
  onStageEnd: () => {},
  log: (message) => void stream.write(`${message}\n`),
  clear: () => {}
})

/**
 * The live progress reporter. When enabled (a TTY, not --quiet) it forks a ticker into the
 * scope that redraws the line every `intervalMs` while a stage runs; the line is erased when
 * each stage ends and when the scope closes, so the table printed afterwards starts clean.
 * Disabled, it forks nothing and never writes (but `log` still prints).
 *
 * @example
 * ```ts
 * const progress = yield* progressReporter({ stream: process.stderr, quiet, stages: levels.length })
 * yield* runRamp(ramp, combineHooks(progress, { onStageEnd: (r) => void stages.push(r) }))
 * ```
 */
export const progressReporter = (options: ProgressOptions): Effect.Effect<ProgressReporter, never, Scope.Scope> =>
  Effect.gen(function* () {
    const stream = options.stream
    if (!progressEnabled(stream, options.quiet)) return disabled(stream)
    const colour = options.colour ?? progressColour(stream)
    const intervalMs = options.intervalMs ?? 250

    let current: SubscriptionRef.SubscriptionRef<StageSnapshot> | undefined
    let drawn = false

    const clear = () => {
      if (drawn) stream.write(CLEAR)
      drawn = false
    }

    const draw = (snapshot: StageSnapshot) => {
      if (snapshot.phase === "done") return
      const line = formatProgressLine(snapshot, { stages: options.stages, colour, width: stream.columns })
      stream.write(`\r${line}\u001b[K`)
      drawn = true
    }

    const reporter: ProgressReporter = {
      enabled: true,
      onStageStart: (info) => {
        current = info.snapshots
      },
      onStageEnd: () => {
        current = undefined
        clear()
      },
      log: (message) => {
        clear()
        stream.write(`${message}\n`)
      },
      clear
    }

    // Registered before the ticker is forked, so it runs after the ticker was interrupted.
    yield* Effect.addFinalizer(() => Effect.sync(clear))
    yield* Effect.suspend(() => (current === undefined ? Effect.void : Effect.map(SubscriptionRef.get(current), draw))).pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(intervalMs))),
      Effect.forkScoped
    )
    return reporter
  })
