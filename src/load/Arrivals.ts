/**
 * Arrival schedules for open-loop load: the gap in ms before each next request. Poisson uses
 * a seeded PRNG (mulberry32) so the same --seed gives the same schedule.
 */
export interface Arrivals {
  /** Milliseconds from this arrival to the next. */
  nextGapMs(): number
}

export const constantArrivals = (ratePerSecond: number): Arrivals => {
  const gap = 1000 / ratePerSecond
  return { nextGapMs: () => gap }
}

export const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Exponential gaps with mean 1/rate: a Poisson process. */
export const poissonArrivals = (ratePerSecond: number, seed: number): Arrivals => {
  const random = mulberry32(seed)
  const mean = 1000 / ratePerSecond
  return { nextGapMs: () => -Math.log(1 - random()) * mean }
}
