import type { StagePhase } from "./Snapshot.ts"

/** The mutable control state of one running stage, shared by the shell and its driver. */
export class StageRun {
  phase: StagePhase = "warmup"
  /** performance.now() ms; 0 until the window opens. */
  windowStart = 0
  windowStartWall = new Date()
  /** performance.now() ms; 0 until a timed window closes. */
  windowEnd = 0
  /** Where a timed window ends (windowStart + duration), Infinity for --requests: exact, whenever the close is noticed. */
  plannedEnd = Infinity
  lastMeasuredEnd = 0
  /** Measured requests started (closed) or measured arrivals sent (open). */
  started = 0

  constructor(readonly requestsTarget: number | undefined) {}

  /** Closed loop: whether a client may send another request now; counts it for --requests. */
  mayStart(): boolean {
    if (this.phase === "warmup") return true
    if (this.phase !== "measure") return false
    if (this.plannedEnd !== Infinity && performance.now() >= this.plannedEnd) return false
    if (this.requestsTarget !== undefined && this.started >= this.requestsTarget) return false
    this.started++
    return true
  }

  /** Whether a request scheduled at `tSched` belongs to the measured window. */
  isMeasured(tSched: number): boolean {
    return this.windowStart > 0 && tSched >= this.windowStart && tSched < this.plannedEnd
  }

  /** Measured requests still to start under --requests (Infinity for a timed window). */
  get remainingRequests(): number {
    return this.requestsTarget === undefined ? Infinity : this.requestsTarget - this.started
  }

  /** Opens the measured window; `durationMs` for a timed one. */
  openWindow(durationMs: number | undefined): void {
    this.phase = "measure"
    this.windowStart = performance.now()
    this.windowStartWall = new Date()
    if (durationMs !== undefined) this.plannedEnd = this.windowStart + durationMs
  }

  closeWindow(): void {
    this.windowEnd = this.plannedEnd === Infinity ? performance.now() : this.plannedEnd
    this.phase = "drain"
  }

  finish(): void {
    this.phase = "done"
  }
}
