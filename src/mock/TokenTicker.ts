/**
 * One shared clock for every open response. Thousands of slow streams must not each own a
 * timer, so work is kept in 1 ms buckets keyed by due time (a min-heap holds the bucket keys)
 * and a single `setTimeout` is armed for the earliest bucket. A firing runs every bucket that is
 * due, in due order; items reschedule themselves from inside `tick`.
 *
 * An item is never run early: a bucket's key is its due time rounded up, and a bucket only runs
 * once `now >= key` (Node timers can fire up to a millisecond early against `performance.now`;
 * the ticker then re-arms for the remainder). Cancelled items are skipped lazily when their
 * bucket comes up (`done`), so cancelling is O(1).
 */

export interface Tickable {
  /** True once the item needs no more ticks (finished, or its client went away). */
  readonly done: boolean
  /** Runs the item's due step. Must not throw; may call `schedule` again. */
  tick(now: number): void
}

/** Empty bucket arrays kept for reuse, so steady load allocates no arrays. */
const SPARE_BUCKETS = 1024

export class TokenTicker {
  private readonly buckets = new Map<number, Array<Tickable>>()
  /** Min-heap of the keys in `buckets`. */
  private readonly keys: Array<number> = []
  private readonly spare: Array<Array<Tickable>> = []
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private armedKey = Number.POSITIVE_INFINITY
  private firing = false
  private closed = false
  private readonly onTimer = () => this.fire()

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Runs `item.tick` at `due` (a `performance.now()` time) or as soon after as possible. */
  schedule(item: Tickable, due: number): void {
    if (this.closed) return
    const key = Math.ceil(due)
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      bucket = this.spare.pop() ?? []
      this.buckets.set(key, bucket)
      heapPush(this.keys, key)
      if (!this.firing && key < this.armedKey) this.arm(key)
    }
    bucket.push(item)
  }

  /** Buckets waiting to run (for tests and diagnostics). */
  get pendingBuckets(): number {
    return this.keys.length
  }

  /** Stops the clock and forgets everything scheduled. */
  close(): void {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.armedKey = Number.POSITIVE_INFINITY
    this.buckets.clear()
    this.keys.length = 0
    this.spare.length = 0
  }

  private arm(key: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.armedKey = key
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(key - this.clock())))
  }

  private fire(): void {
    this.timer = undefined
    this.armedKey = Number.POSITIVE_INFINITY
    if (this.closed) return
    const now = this.clock()
    const keys = this.keys
    this.firing = true
    try {
      while (keys.length > 0 && keys[0]! <= now) {
        const key = heapPop(keys)
        const bucket = this.buckets.get(key)!
        this.buckets.delete(key)
        for (let i = 0; i < bucket.length; i++) {
          const item = bucket[i]!
          if (!item.done) item.tick(now)
        }
        bucket.length = 0
        if (this.spare.length < SPARE_BUCKETS) this.spare.push(bucket)
        if (this.closed) return
      }
    } finally {
      this.firing = false
      if (!this.closed && keys.length > 0) this.arm(keys[0]!)
    }
  }
}

const heapPush = (heap: Array<number>, value: number): void => {
  let i = heap.length
  heap.push(value)
  while (i > 0) {
    const parent = (i - 1) >> 1
    const p = heap[parent]!
    if (p <= value) break
    heap[i] = p
    i = parent
  }
  heap[i] = value
}

const heapPop = (heap: Array<number>): number => {
  const top = heap[0]!
  const last = heap.pop()!
  const n = heap.length
  if (n > 0) {
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && heap[r]! < heap[l]! ? r : l
      if (heap[c]! >= last) break
      heap[i] = heap[c]!
      i = c
    }
    heap[i] = last
  }
  return top
}
