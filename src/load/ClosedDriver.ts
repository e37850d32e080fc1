import { Effect, FiberSet } from "effect"
import type { StageRun } from "./StageRun.ts"
import type { VirtualClient } from "./VirtualClient.ts"

const noop = () => {}

/** One virtual client: wait its turn in the stagger, then send back to back until the stage says stop. */
const clientLoop = (client: VirtualClient, run: StageRun, startDelayMs: number): Effect.Effect<void> => {
  const loop = Effect.whileLoop({
    while: () => run.mayStart(),
    body: () => client.request(performance.now(), run.phase === "measure"),
    step: noop
  })
  return startDelayMs > 0 ? Effect.zipRight(Effect.sleep(startDelayMs), loop) : loop
}

/**
 * Closed loop: one fiber per virtual client in `fibers` (a FiberSet of the stage's scope, so
 * closing the scope interrupts every client, stagger sleep and request at once). Clients start
 * `staggerMs` apart. Succeeds when every client has stopped on its own: the window closed (or
 * --requests reached) and its last request ended.
 */
export const closedDriver = (
  clients: ReadonlyArray<VirtualClient>,
  run: StageRun,
  staggerMs: number,
  fibers: FiberSet.FiberSet
): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (let i = 0; i < clients.length; i++) yield* FiberSet.run(fibers, clientLoop(clients[i]!, run, i * staggerMs))
    yield* FiberSet.awaitEmpty(fibers)
  })
