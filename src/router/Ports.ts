import * as net from "node:net"
import { Effect } from "effect"
import { PortInUse } from "../Errors.ts"
import { RouterSetupFailed } from "./RouterErrors.ts"

const listenOnce = (host: string, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once("error", reject)
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address()
      const bound = typeof address === "object" && address !== null ? address.port : port
      server.close(() => resolve(bound))
    })
  })

/**
 * A port that was free a moment ago: listen on port 0, read the port, close. Another process
 * may take it before the router binds (a small race); the router then fails to bind and
 * `start` reports RouterExited with its "address already in use" output.
 */
export const freePort = (host = "127.0.0.1"): Effect.Effect<number, RouterSetupFailed> =>
  Effect.tryPromise({
    try: () => listenOnce(host, 0),
    catch: (e) => new RouterSetupFailed({ what: `finding a free port on ${host}`, detail: String((e as Error)?.message ?? e) })
  })

/** Fails with PortInUse if something already listens on host:port (so readiness cannot hit a stranger). */
export const checkPortFree = (host: string, port: number, what = "the router"): Effect.Effect<void, PortInUse | RouterSetupFailed> =>
  Effect.tryPromise({
    try: () => listenOnce(host, port),
    catch: (e) =>
      (e as NodeJS.ErrnoException)?.code === "EADDRINUSE"
        ? new PortInUse({ host, port, what })
        : new RouterSetupFailed({ what: `checking port ${host}:${port}`, detail: String((e as Error)?.message ?? e) })
  }).pipe(Effect.asVoid)

/** `http://host:port`, with an IPv6 host in brackets. */
export const urlOf = (host: string, port: number): string => `http://${host.includes(":") ? `[${host}]` : host}:${port}`
