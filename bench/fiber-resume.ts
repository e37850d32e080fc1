/**
 * The cost of a fiber resume: N operations that each complete from an event-loop callback
 * (setImmediate, as an undici response does from socket I/O), awaited three ways:
 *
 *   callback  a plain callback chain (the floor: no Promise, no fiber)
 *   promise   `await new Promise(...)` in an async loop (the old driver's shape)
 *   fiber     `Effect.whileLoop` over one prebuilt `Effect.async` (the engine's shape:
 *             VirtualClient.request), so each operation is one fiber suspend + resume
 *   canceler  the same with a canceler returned from the register function (what the engine
 *             avoids: it made every request pay for interruptibility bookkeeping)
 *
 *   node --import tsx bench/fiber-resume.ts [--n 200000] [--reps 7]
 *
 * Prints wall-clock ns per operation (median of the reps, interleaved) and writes
 * bench/results/fiber-resume-latest.json. fiber − promise is what the engine adds per request.
 */
import { writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { Effect } from "effect"

const argv = process.argv.slice(2)
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : dflt
}
const N = opt("n", 200_000)
const REPS = opt("reps", 7)

const viaCallback = () =>
  new Promise<void>((done) => {
    let i = 0
    const next = () => (++i < N ? setImmediate(next) : done())
    setImmediate(next)
  })

const viaPromise = async () => {
  for (let i = 0; i < N; i++) await new Promise<void>((r) => setImmediate(r))
}

const resumeVoid = (resume: (e: Effect.Effect<void>) => void) => resume(Effect.void)
const op = Effect.async<void>((resume) => {
  setImmediate(resumeVoid, resume)
})
const noCancel = Effect.sync(() => {})
const opWithCanceler = Effect.async<void>((resume) => {
  setImmediate(resumeVoid, resume)
  return noCancel
})
const loop = (body: Effect.Effect<void>) => () => {
  let i = 0
  return Effect.runPromise(Effect.whileLoop({ while: () => i++ < N, body: () => body, step: () => {} }))
}

const contenders = { callback: viaCallback, promise: viaPromise, fiber: loop(op), canceler: loop(opWithCanceler) } as const
type Name = keyof typeof contenders
const samples: Record<Name, Array<number>> = { callback: [], promise: [], fiber: [], canceler: [] }
const names = Object.keys(contenders) as Array<Name>

const loadBefore = os.loadavg()

const main = async () => {
  for (const n of names) await contenders[n]() // warm up the JIT
  for (let rep = 0; rep < REPS; rep++) {
    // Rotate the order each repetition.
    for (let k = 0; k < names.length; k++) {
      const n = names[(rep + k) % names.length]!
      const t0 = process.hrtime.bigint()
      await contenders[n]()
      samples[n].push(Number(process.hrtime.bigint() - t0) / N)
    }
  }
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const ns = Object.fromEntries(names.map((n) => [n, Math.round(median(samples[n]))])) as Record<Name, number>
  const result = {
    benchmark: "fiber-resume",
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadavgBefore: loadBefore,
    loadavgAfter: os.loadavg(),
    n: N,
    reps: REPS,
    nsPerOp: ns,
    fiberMinusPromiseNs: ns.fiber - ns.promise,
    fiberMinusCallbackNs: ns.fiber - ns.callback,
    cancelerMinusFiberNs: ns.canceler - ns.fiber,
    samplesNs: samples
  }
  for (const n of names) console.log(`${n.padEnd(9)} ${ns[n]} ns/op`)
  console.log(
    `fiber − promise: ${result.fiberMinusPromiseNs} ns per request; fiber − callback: ${result.fiberMinusCallbackNs} ns; ` +
      `a canceler adds ${result.cancelerMinusFiberNs} ns`
  )
  writeFileSync(path.join(import.meta.dirname, "results", "fiber-resume-latest.json"), JSON.stringify(result, null, 2) + "\n")
}

main()
