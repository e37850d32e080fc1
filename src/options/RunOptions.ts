import { Either, Match, ParseResult, Schema, Struct } from "effect"
import { parseExpr } from "../analysis/Expr.ts"
import { InvalidOptions } from "../Errors.ts"
import { LoadOptions, RampOptions } from "../load/LoadOptions.ts"
import { MockOptions } from "../mock/MockOptions.ts"
import { RouterOptions } from "../router/RouterOptions.ts"
import { BOUNDS, Concurrency, intIn, listOf, nonEmptyText, Rate } from "../domain/Bounds.ts"

/**
 * Everything one run needs, as one Schema: the CLI assembles a record from its flags and decodes
 * it with `RunOptions`; a library user builds the same value with `RunOptions.make`. Defaults
 * and cross-field rules live here (and in the per-part Schemas it is built from), nowhere else.
 */

// ── mode ──────────────────────────────────────────────────────────────────────────────────

const mockField = Schema.optionalWith(MockOptions, { default: () => MockOptions.make({}) })

/** Drive a running router (or any Ollama/OpenAI-compatible server) at `url`. */
export class Drive extends Schema.TaggedClass<Drive>()("Drive", { url: LoadOptions.fields.url }) {}

/** Only run the mock backend until interrupted (`--serve-mock`). */
export class ServeMock extends Schema.TaggedClass<ServeMock>()("ServeMock", { mock: mockField }) {}

/** Start the mock in-process and drive it directly, no router (`--mock-direct`). */
export class MockDirect extends Schema.TaggedClass<MockDirect>()("MockDirect", { mock: mockField }) {}

/** Start the mock(s) and the router as a subprocess; drive load through the router (`--mock-backend`). */
export class MockRouter extends Schema.TaggedClass<MockRouter>()(
  "MockRouter",
  Schema.Struct({
    mock: mockField,
    router: Schema.optionalWith(RouterOptions, { default: () => RouterOptions.make({}) }),
    /** Mock backends behind the router, all shaped by `mock`. */
    backends: Schema.optionalWith(intIn(1, BOUNDS.mockBackends.max), { default: () => 1 }),
    /** After each stage through the router, run it directly against the mock: the router's overhead. */
    compareDirect: Schema.optionalWith(Schema.Boolean, { default: () => false })
  }).pipe(
    Schema.filter((m) =>
      m.compareDirect && m.backends > 1
        ? { path: ["compareDirect"], message: "needs a single mock backend (the direct stage has one target); drop --mock-backends" }
        : undefined
    )
  )
) {}

export const Mode = Schema.Union(Drive, ServeMock, MockDirect, MockRouter)
export type Mode = typeof Mode.Type

/** The `mode` written to the results file. */
export const modeName = (mode: Mode): "drive" | "serve-mock" | "mock-direct" | "mock-backend" =>
  Match.value(mode).pipe(
    Match.tagsExhaustive({
      Drive: () => "drive" as const,
      ServeMock: () => "serve-mock" as const,
      MockDirect: () => "mock-direct" as const,
      MockRouter: () => "mock-backend" as const
    })
  )

/** The mock options of a mode that starts one. */
export const mockOf = (mode: Mode): MockOptions | undefined => (mode._tag === "Drive" ? undefined : mode.mock)

// ── load shape ────────────────────────────────────────────────────────────────────────────

/** Closed loop: one stage per level of virtual clients, each sending back to back. */
export class Closed extends Schema.TaggedClass<Closed>()("Closed", {
  levels: Schema.optionalWith(listOf(Concurrency, BOUNDS.levels, "levels"), {
    default: () => [LoadOptions.make({}).concurrency] as const
  })
}) {}

/** Open loop: one stage per arrival rate (requests/s), sent on schedule whatever the responses do. */
export class Open extends Schema.TaggedClass<Open>()("Open", {
  rates: listOf(Rate, BOUNDS.levels, "rates"),
  arrival: LoadOptions.fields.arrival,
  seed: LoadOptions.fields.seed,
  maxInFlight: LoadOptions.fields.maxInFlight
}) {}

export const LoadShape = Schema.Union(Closed, Open)
export type LoadShape = typeof LoadShape.Type

/** The levels of the ramp, whatever they are. */
export const levelsOf = (shape: LoadShape): readonly [number, ...Array<number>] => (shape._tag === "Closed" ? shape.levels : shape.rates)

// ── the whole run ─────────────────────────────────────────────────────────────────────────

/** A `--slo` / `--assert` expression, e.g. `p99<800,err=0`. */
export const Expression = Schema.String.pipe(
  Schema.filter((text) => {
    const parsed = parseExpr(text)
    return Either.isRight(parsed) || parsed.left.message
  })
)

const requestFields = Struct.pick(LoadOptions.fields, "api", "stream", "durationSeconds", "requests", "warmupSeconds", "timeoutSeconds", "prompt")

export class RunOptions extends Schema.Class<RunOptions>("RunOptions")(
  Schema.Struct({
    mode: Schema.optionalWith(Mode, { default: () => Drive.make({}) }),
    shape: Schema.optionalWith(LoadShape, { default: () => Closed.make({}) }),
    ...requestFields,
    /** Model to request; default: the mock's first model in mock modes, else LoadOptions' default. */
    model: Schema.optional(nonEmptyText),
    /** Service-level objective: the highest level meeting it is reported, and its per-request bounds count goodput. */
    slo: Schema.optional(Expression)
  }).pipe(
    Schema.filter((o) =>
      o.shape._tag === "Open" && o.requests !== undefined
        ? {
            path: ["requests"],
            message: "cannot be combined with an open loop (--rate/--ramp-rate): an open-loop stage sends on schedule for --duration"
          }
        : undefined
    )
  )
) {}

/** The model the run requests. */
export const modelOf = (options: RunOptions): string => options.model ?? mockOf(options.mode)?.models[0] ?? LoadOptions.make({}).model

/** The ramp of `options` aimed at `url` (the mock's tokens are expected when the mock is ours). */
export const rampOf = (options: RunOptions, url: string, goodputSlo?: LoadOptions["goodputSlo"]): RampOptions => {
  const shape = options.shape
  const mock = mockOf(options.mode)
  const load = LoadOptions.make({
    url,
    api: options.api,
    stream: options.stream,
    durationSeconds: options.durationSeconds,
    requests: options.requests,
    warmupSeconds: options.warmupSeconds,
    timeoutSeconds: options.timeoutSeconds,
    model: modelOf(options),
    prompt: options.prompt,
    expectTokens: mock?.tokens,
    goodputSlo,
    ...(shape._tag === "Closed"
      ? { concurrency: shape.levels[0] }
      : { rate: shape.rates[0], arrival: shape.arrival, seed: shape.seed, maxInFlight: shape.maxInFlight })
  })
  return RampOptions.make({ load, levels: levelsOf(shape), vary: shape._tag === "Closed" ? "concurrency" : "rate" })
}

// ── decoding ──────────────────────────────────────────────────────────────────────────────

/** One issue of a failed decode: where (property path) and what. */
export interface OptionIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/** The first issue of a ParseError, its message on one line. */
export const firstIssue = (error: ParseResult.ParseError): OptionIssue => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return { path: issue?.path ?? [], message: (issue?.message ?? error.message).replace(/\s*\n\s*/g, " ") }
}

const decodeEither = Schema.decodeUnknownEither(RunOptions, { errors: "first", onExcessProperty: "error" })

/**
 * Decodes run options from plain data (e.g. a JSON file); every failure is one InvalidOptions
 * naming the property path, e.g. `shape.levels.0: must be an integer from 1 to 100000`.
 */
export const decodeRunOptions = (input: unknown): Either.Either<RunOptions, InvalidOptions> =>
  Either.mapLeft(decodeEither(input), (e) => {
    const issue = firstIssue(e)
    return new InvalidOptions({ flag: issue.path.length > 0 ? issue.path.join(".") : "RunOptions", detail: issue.message })
  })

/** The raw decode, for the CLI, which maps the issue's path back to the flag that set it. */
export const decodeRunOptionsRaw = decodeEither
