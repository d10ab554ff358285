/**
 * The simulated cluster's clock. Everything in the sim (container start, run time, Job back-off and
 * deadlines) happens on a SimClock, so tests drive time by hand (ManualClock) and `npm start` can
 * run the cluster faster than real time (ScaledClock, RUNWAY_SIM_SPEED).
 */
import { MinHeap } from './util.js';

export interface SimClock {
  /** Milliseconds since the epoch on this clock. */
  now(): number;
  /** Runs fn once the clock reaches atMs (at once-ish if already past); returns a cancel function. */
  setTimer(atMs: number, fn: () => void): () => void;
}

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A virtual clock that only moves when told to: for tests, never waiting on wall-clock time. */
export class ManualClock implements SimClock {
  private t: number;
  private seq = 0;
  private live = 0;
  // Ties break by scheduling order, so timers set for the same instant run in the order they were set.
  private readonly heap = new MinHeap<ManualTimer>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));

  constructor(startMs: number = Date.UTC(2026, 0, 1)) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimer(atMs: number, fn: () => void): () => void {
    const timer: ManualTimer = { at: atMs, seq: this.seq++, fn, cancelled: false };
    this.heap.push(timer);
    this.live++;
    return () => {
      if (timer.cancelled) return;
      timer.cancelled = true;
      this.live--;
    };
  }

  /** Timers still waiting to run. */
  pendingTimers(): number {
    return this.live;
  }

  /** When the next live timer is due, if any. */
  nextTimerAt(): number | undefined {
    this.dropCancelled();
    return this.heap.peek()?.at;
  }

  /** Moves the clock forward by ms, running due timers in time order. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  /**
   * Moves the clock to t (never backwards), running every timer due by then in time order,
   * including timers that those timers set within the window. Returns how many ran.
   */
  advanceTo(t: number): number {
    let ran = 0;
    for (;;) {
      this.dropCancelled();
      const next = this.heap.peek();
      if (!next || next.at > t) break;
      this.heap.pop();
      next.cancelled = true;
      this.live--;
      if (next.at > this.t) this.t = next.at;
      ran++;
      next.fn();
    }
    if (t > this.t) this.t = t;
    return ran;
  }

  /**
   * Runs timers until none are left, or until the clock would pass now + maxMs (a guard against
   * timers that keep re-arming themselves). Returns how many ran.
   */
  runUntilIdle(maxMs: number = Number.POSITIVE_INFINITY): number {
    const limit = this.t + maxMs;
    let ran = 0;
    for (;;) {
      const at = this.nextTimerAt();
      if (at === undefined || at > limit) return ran;
      ran += this.advanceTo(at);
    }
  }

  private dropCancelled(): void {
    while (this.heap.peek()?.cancelled) this.heap.pop();
  }
}

// setTimeout cannot wait longer than this; longer waits are chained.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * A clock that runs `speed` times faster than the wall clock, starting from the wall clock's now.
 * Its timers are unref'd: a simulated cluster must never keep the process alive on its own.
 */
export class ScaledClock implements SimClock {
  private readonly startWall: number;
  private readonly handles = new Set<NodeJS.Timeout>();

  constructor(
    readonly speed: number = 1,
    private readonly wallNow: () => number = Date.now,
  ) {
    if (!Number.isFinite(speed) || speed <= 0) throw new RangeError(`clock speed must be a positive number, got ${speed}`);
    this.startWall = wallNow();
  }

  now(): number {
    return this.startWall + (this.wallNow() - this.startWall) * this.speed;
  }

  setTimer(atMs: number, fn: () => void): () => void {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (): void => {
      const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, Math.ceil((atMs - this.now()) / this.speed)));
      const h = setTimeout(() => {
        this.handles.delete(h);
        if (cancelled) return;
        // Node may fire a timer a millisecond early, which at high speed is seconds of virtual time;
        // re-arm rather than run a deadline before it is due.
        if (this.now() < atMs) arm();
        else fn();
      }, delay);
      h.unref();
      this.handles.add(h);
      handle = h;
    };
    arm();
    return () => {
      cancelled = true;
      if (handle) {
        clearTimeout(handle);
        this.handles.delete(handle);
      }
    };
  }

  /** Clears every pending timer. */
  close(): void {
    for (const h of this.handles) clearTimeout(h);
    this.handles.clear();
  }
}
