/**
 * Synchronous last-resort cleanups for a forced exit (a second Ctrl-C, or `process.exit`
 * while finalizers are still pending): kill a child's process group, delete a temp dir or a
 * results temp file. Effect finalizers are the normal path; these run only when the process
 * is about to die without them. Each action must be synchronous, idempotent and never throw.
 */
const actions = new Set<() => void>()

/** Registers `action`; the returned function unregisters it (call it from the normal finalizer). */
export const onForcedExit = (action: () => void): (() => void) => {
  actions.add(action)
  return () => void actions.delete(action)
}

/** Runs every registered action once, newest first, swallowing errors. */
export const runForcedExit = (): void => {
  const all = [...actions].reverse()
  actions.clear()
  for (const action of all) {
    try {
      action()
    } catch {
      // Best effort: the process is going down; one failed cleanup must not stop the others.
    }
  }
}
