/**
 * Wall-clock stamps for response bodies, formatted at most once per millisecond: every line
 * written in the same tick shares one `created_at` string.
 */
let lastMs = -1
let lastIso = ""

/** `new Date().toISOString()`, cached for the current millisecond. */
export const isoNow = (): string => {
  const ms = Date.now()
  if (ms !== lastMs) {
    lastMs = ms
    lastIso = new Date(ms).toISOString()
  }
  return lastIso
}

/** Unix time in whole seconds (OpenAI's `created`). */
export const unixSeconds = (): number => Math.floor(Date.now() / 1000)
