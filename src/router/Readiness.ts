import * as http from "node:http"
import { Effect, Schedule } from "effect"

const POLL_MS = 100
/**
 * Per probe. Generous: with uvicorn --workers the parent binds and a probe waits in the listen
 * backlog until the first worker has imported the app and accepts; then it is answered at once.
 */
const PROBE_TIMEOUT_MS = 5000

/** True when anything answers HTTP on host:port (any status; `GET /favicon.ico` touches no backend). */
export const probe = (host: string, port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    let done = false
    const finish = (ok: boolean) => {
      if (done) return
      done = true
      req.destroy()
      resume(Effect.succeed(ok))
    }
    const req = http.get({ host, port, path: "/favicon.ico", agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume()
      finish(true)
    })
    req.on("error", () => finish(false))
    req.on("timeout", () => finish(false))
    return Effect.sync(() => {
      done = true
      req.destroy()
    })
  })

/** Probes every POLL_MS until an answer; fails with `onTimeout()` after `timeoutSeconds`. Interruptible. */
export const waitReady = <E>(host: string, port: number, timeoutSeconds: number, onTimeout: () => E): Effect.Effect<void, E> =>
  probe(host, port).pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced(POLL_MS) }),
    Effect.asVoid,
    Effect.timeoutFail({ duration: timeoutSeconds * 1000, onTimeout })
  )
