/**
 * The order the cycle takes queued jobs in, built from pairs (queue-index.ts).
 *
 * Cycle order: effective priority (queue priority + job priority), highest first; within one
 * priority, each tenant's (tenant, queue) pairs are one fair-share entry whose next job is the oldest
 * of their heads (FIFO: queuedAt, then id). Building it walks the pairs, not the jobs: levels in
 * O(pairs), and a level's entries only when the cycle gets to that level, which without explanations
 * is often never for the lower ones.
 */
import { fifoCompare, type FairShareKey } from './fair-share.js';
import type { QueuedPair } from './queue-index.js';
import type { QueuedJob } from './types.js';

/** What the grouping needs of a queue. */
export interface QueueKey {
  readonly name: string;
  readonly priority: number;
  /** Position among the cycle's queues (0, 1, 2, ...): indexes per-queue arrays. */
  readonly index: number;
  readonly preemptive: boolean;
}

/** What the grouping needs of a tenant: a slot for its entry of the level being built. */
export interface TenantKey {
  readonly name: string;
  /** Its turn at the level `turnLevel` names (set by Grouping.turns; saves a map per level). */
  turn: unknown;
  turnLevel: number;
}

/** One priority level: its pairs. */
export interface Level {
  readonly prio: number;
  readonly pairs: QueuedPair[];
  /** With `mins`: per queue (3 x its index), lower bounds of the smallest cpu, memory and GPUs per pod at this level. */
  readonly queueMin: number[];
  /** Jobs of queues that may preempt. */
  preemptors: number;
}

/** A tenant's jobs of one queue at one level: jobs[pos, end), FIFO; with lower bounds of their requests. */
export class Pair<T extends TenantKey, Q extends QueueKey> {
  pos = 0;
  end: number;
  /** Smallest total request (replicas x per pod) and smallest pod, per dimension (lower bounds; filled with `mins`). */
  minReqCpu = Infinity;
  minReqMem = Infinity;
  minReqGpu = Infinity;
  minPodCpu = Infinity;
  minPodMem = Infinity;
  minPodGpu = Infinity;

  constructor(
    readonly tenant: T,
    readonly queue: Q,
    readonly jobs: readonly QueuedJob[],
  ) {
    this.end = jobs.length;
  }

  get head(): QueuedJob {
    return this.jobs[this.pos] as QueuedJob;
  }
}

/** A tenant's pairs at one level, as one fair-share heap entry: its next job is the oldest of their heads. */
export class TenantTurn<T extends TenantKey, Q extends QueueKey> implements FairShareKey {
  share = 0;
  /** The open pair whose head goes next. */
  next: Pair<T, Q>;
  readonly pairs: Pair<T, Q>[];

  constructor(first: Pair<T, Q>) {
    this.pairs = [first];
    this.next = first;
  }

  get tenant(): T {
    return this.next.tenant;
  }

  get head(): QueuedJob {
    return this.next.head;
  }

  /** After `next` advanced or was dropped: picks the pair with the oldest head; false when none is left. */
  refresh(): boolean {
    const pairs = this.pairs;
    let best: Pair<T, Q> | undefined;
    for (let i = 0; i < pairs.length; i++) {
      const p = pairs[i] as Pair<T, Q>;
      if (p.pos >= p.end) {
        pairs[i] = pairs[pairs.length - 1] as Pair<T, Q>;
        pairs.pop();
        i--;
        continue;
      }
      if (best === undefined || fifoCompare(p.head, best.head) < 0) best = p;
    }
    if (best === undefined) return false;
    this.next = best;
    return true;
  }

  /** Drops `next` (none of its jobs can do anything more this cycle). */
  dropNext(): boolean {
    this.next.pos = this.next.end;
    return this.refresh();
  }
}

export class Grouping<T extends TenantKey, Q extends QueueKey> {
  /** Marks the level a TenantKey.turn belongs to; never reused within a cycle. */
  private levelsBuilt = 0;

  constructor(
    private readonly tenant: (name: string) => T,
    private readonly queue: (name: string) => Q,
    /** Whether to compute the smallest requests (the cycle without explanations uses them to stop early). */
    private readonly mins: boolean,
  ) {}

  /** The levels of the queued pairs, highest priority first. */
  levels(pairs: readonly QueuedPair[]): Level[] {
    const byPrio = new Map<number, Level>();
    for (const pair of pairs) {
      const n = pair.jobs.length;
      if (n === 0) continue;
      const q = this.queue(pair.queue);
      const prio = q.priority + pair.priority;
      let level = byPrio.get(prio);
      if (level === undefined) byPrio.set(prio, (level = { prio, pairs: [], queueMin: [], preemptors: 0 }));
      level.pairs.push(pair);
      if (q.preemptive) level.preemptors += n;
      if (this.mins) {
        const min = level.queueMin;
        const k = 3 * q.index;
        while (min.length < k + 3) min.push(Infinity);
        const pp = pair.minPod;
        if (pp.cpuMilli < (min[k] as number)) min[k] = pp.cpuMilli;
        if (pp.memoryMb < (min[k + 1] as number)) min[k + 1] = pp.memoryMb;
        if (pp.gpu < (min[k + 2] as number)) min[k + 2] = pp.gpu;
      }
    }
    return [...byPrio.values()].sort((a, b) => b.prio - a.prio);
  }

  /** The level's pairs, grouped by tenant (one fair-share entry each). */
  turns(level: Level): TenantTurn<T, Q>[] {
    const turns: TenantTurn<T, Q>[] = [];
    const mark = ++this.levelsBuilt;
    for (const qp of level.pairs) {
      const t = this.tenant(qp.tenant);
      const pair = new Pair(t, this.queue(qp.queue), qp.jobs);
      if (this.mins) {
        pair.minReqCpu = qp.minReq.cpuMilli;
        pair.minReqMem = qp.minReq.memoryMb;
        pair.minReqGpu = qp.minReq.gpu;
        pair.minPodCpu = qp.minPod.cpuMilli;
        pair.minPodMem = qp.minPod.memoryMb;
        pair.minPodGpu = qp.minPod.gpu;
      }
      const turn = t.turnLevel === mark ? (t.turn as TenantTurn<T, Q>) : undefined;
      if (turn === undefined) {
        const created = new TenantTurn(pair);
        t.turn = created;
        t.turnLevel = mark;
        turns.push(created);
      } else {
        turn.pairs.push(pair);
        if (fifoCompare(pair.head, turn.next.head) < 0) turn.next = pair;
      }
    }
    return turns;
  }
}
