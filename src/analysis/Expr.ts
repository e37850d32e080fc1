import { Data, Either } from "effect"
import type { StageResult } from "../domain/Results.ts"
import { lookupMetric, metricNames, type MetricDef } from "./Metrics.ts"

/**
 * Check expressions for `--assert` and `--slo`: comma-separated `METRIC OP NUMBER` terms,
 * e.g. `p99<800,err=0,rps>=50,ttftP99<300`. Numbers are plain, in the metric's unit (ms,
 * req/s, tok/s, count, percent); `%` may follow an errRate bound and changes nothing.
 */

export type Op = "<" | "<=" | ">" | ">=" | "=" | "!="

export interface Check {
  /** The term as written, trimmed (`p99<800`). */
  readonly term: string
  /** The metric's canonical name. */
  readonly metric: string
  readonly op: Op
  readonly bound: number
}

export interface Expr {
  /** The expression as given. */
  readonly text: string
  readonly checks: ReadonlyArray<Check>
}

export interface CheckResult extends Check {
  /** Undefined when the stage has no data for the metric; such a check fails. */
  readonly value: number | undefined
  readonly pass: boolean
}

/** A malformed expression; `message` names the offending term. */
export class ExprInvalid extends Data.TaggedError("ExprInvalid")<{
  readonly text: string
  readonly detail: string
}> {
  override get message() {
    return this.detail
  }
}

const TERM = /^([A-Za-z][A-Za-z0-9]*)\s*(<=|>=|==|!=|<|>|=)\s*(.*)$/
const NUMBER = /^(\d+\.?\d*|\.\d+)(%?)$/
const OPS = "< <= > >= = !="

const parseTerm = (term: string): Either.Either<Check, string> => {
  const m = TERM.exec(term)
  if (m === null) return Either.left(`"${term}": expected METRIC OP NUMBER, e.g. p99<800 (ops: ${OPS})`)
  const [, name, rawOp, rawBound] = m as unknown as [string, string, string, string]
  const def: MetricDef | undefined = lookupMetric(name)
  if (def === undefined) return Either.left(`"${term}": unknown metric "${name}"; choose from ${metricNames.join(", ")}`)
  const bound = NUMBER.exec(rawBound.trim())
  if (bound === null) {
    return Either.left(`"${term}": "${rawBound.trim()}" is not a plain number (${def.name} is in ${def.unit}, write no unit)`)
  }
  if (bound[2] === "%" && def.name !== "errRate") return Either.left(`"${term}": % is only allowed on errRate`)
  const op: Op = rawOp === "==" ? "=" : (rawOp as Op)
  return Either.right({ term, metric: def.name, op, bound: Number(bound[1]) })
}

/**
 * Parses a check expression; the error message is one line and quotes the offending term.
 *
 * @example
 * parseExpr("p99<800,err=0") // Right({ text, checks: [{ metric: "p99", op: "<", bound: 800 }, …] })
 */
export const parseExpr = (text: string): Either.Either<Expr, ExprInvalid> => {
  const fail = (detail: string) => Either.left(new ExprInvalid({ text, detail }))
  if (text.trim() === "") return fail(`empty expression; expected comma-separated checks like p99<800,err=0`)
  const checks: Array<Check> = []
  const terms = text.split(",")
  for (let i = 0; i < terms.length; i++) {
    const term = terms[i]!.trim()
    if (term === "") return fail(`empty check ${i + 1} in "${text}" (stray comma?)`)
    const parsed = parseTerm(term)
    if (Either.isLeft(parsed)) return fail(parsed.left)
    checks.push(parsed.right)
  }
  return Either.right({ text, checks })
}

/** Parses or throws the `ExprInvalid` (for literals in code and tests). */
export const parseExprSync = (text: string): Expr => Either.getOrThrowWith(parseExpr(text), (e) => e)

const compare = (value: number, op: Op, bound: number): boolean => {
  switch (op) {
    case "<":
      return value < bound
    case "<=":
      return value <= bound
    case ">":
      return value > bound
    case ">=":
      return value >= bound
    case "=":
      return value === bound
    case "!=":
      return value !== bound
  }
}

/** One check on one stage; a metric the stage has no data for fails. */
export const evaluateCheck = (stage: StageResult, check: Check): CheckResult => {
  const value = lookupMetric(check.metric)?.get(stage)
  return { ...check, value, pass: value !== undefined && compare(value, check.op, check.bound) }
}

/** Every check of the expression on one stage, in order. */
export const evaluateExpr = (stage: StageResult, expr: Expr): ReadonlyArray<CheckResult> =>
  expr.checks.map((c) => evaluateCheck(stage, c))
