import { peakConcurrency } from "../router/Orchestrate.ts"
import { levelsOf, modeName, modelOf, rampOf, type RunOptions } from "../options/RunOptions.ts"

/**
 * The `settings` of a results file: exactly what the run used in its mode (no URL in the mock
 * modes, the router's options in the router mode, open-loop options only in the open loop),
 * and never a secret: URL credentials, secret-looking config keys, shell assignments and the
 * router's extra environment are masked.
 */

const MASK = "***"
const SECRET_KEY = /(key|token|secret|passw|auth|credential)/i

/** http://user:pass@host/ → http://***:***@host/ */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.username === "" && u.password === "") return url
    if (u.username !== "") u.username = MASK
    if (u.password !== "") u.password = MASK
    return u.toString()
  } catch {
    return url
  }
}

/** `OPENAI_API_KEY=sk-… uvicorn …` → `OPENAI_API_KEY=*** uvicorn …` (any secret-looking NAME=value or --name value). */
export const redactCommand = (cmd: string): string =>
  cmd
    .replace(/([A-Za-z0-9_.-]*(?:key|token|secret|passw\w*|auth\w*|credential\w*)\s*=\s*)("[^"]*"|'[^']*'|\S+)/gi, `$1${MASK}`)
    .replace(/(--[A-Za-z0-9-]*(?:key|token|secret|passw|auth|credential)[A-Za-z0-9-]*\s+)("[^"]*"|'[^']*'|\S+)/gi, `$1${MASK}`)

/** `KEY=VALUE` overrides: the value of a secret-looking key is masked. */
const redactOverride = (entry: string): string => {
  const eq = entry.indexOf("=")
  const key = eq < 0 ? entry : entry.slice(0, eq)
  return SECRET_KEY.test(key) && eq >= 0 && eq < entry.length - 1 ? `${key}=${MASK}` : entry
}

export const settingsOf = (options: RunOptions): Record<string, unknown> => {
  const mode = options.mode
  const shape = options.shape
  const load = rampOf(options, "http://127.0.0.1/").load
  return {
    mode: modeName(mode),
    ...(mode._tag === "Drive" ? { url: redactUrl(mode.url) } : {}),
    loadModel: shape._tag === "Closed" ? "closed" : "open",
    vary: shape._tag === "Closed" ? "concurrency" : "rate",
    levels: [...levelsOf(shape)],
    ...(shape._tag === "Open" ? { arrival: shape.arrival, seed: shape.seed, maxInFlight: shape.maxInFlight } : {}),
    api: options.api,
    stream: options.stream,
    ...(options.requests !== undefined ? { requests: options.requests } : { durationSeconds: options.durationSeconds }),
    warmupSeconds: options.warmupSeconds,
    timeoutSeconds: options.timeoutSeconds,
    model: modelOf(options),
    prompt: options.prompt,
    ...(options.slo !== undefined ? { slo: options.slo, goodputSlo: load.goodputSlo } : {}),
    ...(mode._tag !== "Drive" ? { mock: { ...mode.mock }, expectTokens: mode.mock.tokens } : {}),
    ...(mode._tag === "MockRouter"
      ? {
          mockBackends: mode.backends,
          compareDirect: mode.compareDirect,
          router: {
            ...mode.router,
            ...(mode.router.cmd !== undefined ? { cmd: redactCommand(mode.router.cmd) } : {}),
            // What the generated config gets: the flag, or the run's peak concurrency.
            maxConc: mode.router.maxConc ?? peakConcurrency(rampOf(options, "http://127.0.0.1/")),
            configOverrides: mode.router.configOverrides.map(redactOverride),
            env: Object.fromEntries(Object.keys(mode.router.env).map((k) => [k, MASK]))
          }
        }
      : {})
  }
}
