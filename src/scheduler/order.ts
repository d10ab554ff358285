/**
 * The order the cycle takes queued jobs in, and the input order it takes as it is.
 *
 * Cycle order (see Snapshot.queued): effective priority (queue priority + job priority), highest
 * first; within one priority, the jobs of each (tenant, queue) pair together and FIFO (queuedAt, then
 * id); the pairs in any order. One pass checks that order at a few nanoseconds a job, with no
 * allocation and one map lookup per pair, and finds where each priority level starts. Input in any
 * other order is first regrouped into it (one pass with maps, plus a sort of any pair that is not
 * FIFO): the decisions are the same either way, only the cost differs.
 *
 * A level's pairs are made only when the cycle gets to that level, which without explanations is
 * often never for the lower ones.
 */
import { fifoCompare, type FairShareKey } from './fair-share.js';
import type { QueuedJob } from './types.js';

/** What the grouping needs of a queue. */
export interface QueueKey {
  readonly name: string;
  readonly priority: number;
  /** Position among the cycle's queues (0, 1, 2, ...): indexes per-queue arrays. */
  readonly index: number;
  readonly preemptive: boolean;
}

/** What the grouping needs of a tenant: per queue index, the mark of the level its pair was last seen in. */
export interface TenantKey {
  readonly name: string;
  readonly seen: number[];
}

/** One priority level: jobs[start, end) of the ordered jobs. */
export interface Level {
  readonly prio: number;
  readonly start: number;
  end: number;
  /** With `mins`: per queue (3 x its index), the smallest cpu, memory and GPUs per pod at this level. */
  readonly queueMin: number[];
  /** Jobs of queues that may preempt. */
  preemptors: number;
}

export interface Ordered {
  readonly jobs: readonly QueuedJob[];
  /** Highest priority first. */
  readonly levels: Level[];
}

/** A tenant's jobs of one queue at one level: jobs[pos, end), FIFO; with the smallest requests among them. */
export class Pair<T extends TenantKey, Q extends QueueKey> {
  pos: number;
  end: number;
  /** Smallest total request (replicas x per pod) and smallest pod, per dimension (filled with `mins`). */
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
    start: number,
  ) {
    this.pos = start;
    this.end = start;
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
  /** Marks levels for TenantKey.seen; never reused within a cycle. */
  private mark = 0;

  constructor(
    private readonly tenant: (name: string) => T,
    private readonly queue: (name: string) => Q,
    /** Whether to compute the smallest requests (the cycle without explanations uses them to stop early). */
    private readonly mins: boolean,
  ) {}

  /** The jobs in cycle order (the input itself when it is in that order) and its levels. */
  order(queued: readonly QueuedJob[]): Ordered {
    const levels = this.levels(queued);
    if (levels !== undefined) return { jobs: queued, levels };
    const jobs = this.regroup(queued);
    return { jobs, levels: this.levels(jobs) as Level[] };
  }

  /** The levels of `jobs` if they are in cycle order, else undefined. */
  private levels(jobs: readonly QueuedJob[]): Level[] | undefined {
    const levels: Level[] = [];
    let level: Level | undefined;
    let levelMark = 0;
    let q: Q | undefined;
    let prev: QueuedJob | undefined;
    let min: number[] = [];
    let k = 0;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i] as QueuedJob;
      if (prev !== undefined && q !== undefined && job.queue === prev.queue && job.tenant === prev.tenant && job.priority === prev.priority) {
        // Same pair: FIFO.
        if (job.queuedAt < prev.queuedAt || (job.queuedAt === prev.queuedAt && prev.id > job.id)) return undefined;
      } else {
        q = this.queue(job.queue);
        const prio = q.priority + job.priority;
        if (level === undefined || prio < level.prio) {
          if (level !== undefined) level.end = i;
          level = { prio, start: i, end: jobs.length, queueMin: [], preemptors: 0 };
          levels.push(level);
          levelMark = ++this.mark;
          min = level.queueMin;
        } else if (prio > level.prio) {
          return undefined;
        }
        // Each pair in one run per level.
        const seen = this.tenant(job.tenant).seen;
        if (seen[q.index] === levelMark) return undefined;
        while (seen.length <= q.index) seen.push(0);
        seen[q.index] = levelMark;
        k = 3 * q.index;
        if (this.mins) while (min.length < k + 3) min.push(Infinity);
      }
      if (this.mins) {
        const pp = job.perPod;
        if (pp.cpuMilli < (min[k] as number)) min[k] = pp.cpuMilli;
        if (pp.memoryMb < (min[k + 1] as number)) min[k + 1] = pp.memoryMb;
        if (pp.gpu < (min[k + 2] as number)) min[k + 2] = pp.gpu;
      }
      if (q.preemptive) (level as Level).preemptors++;
      prev = job;
    }
    return levels;
  }

  /** The jobs regrouped into cycle order: levels highest first, pairs in order of first appearance. */
  private regroup(queued: readonly QueuedJob[]): QueuedJob[] {
    const byLevel = new Map<number, Map<T, Map<Q, QueuedJob[]>>>();
    for (const job of queued) {
      const q = this.queue(job.queue);
      const t = this.tenant(job.tenant);
      const prio = q.priority + job.priority;
      let tenants = byLevel.get(prio);
      if (tenants === undefined) byLevel.set(prio, (tenants = new Map()));
      let pairs = tenants.get(t);
      if (pairs === undefined) tenants.set(t, (pairs = new Map()));
      const list = pairs.get(q);
      if (list === undefined) pairs.set(q, [job]);
      else list.push(job);
    }
    const out: QueuedJob[] = [];
    for (const prio of [...byLevel.keys()].sort((a, b) => b - a)) {
      for (const pairs of (byLevel.get(prio) as Map<T, Map<Q, QueuedJob[]>>).values()) {
        for (const list of pairs.values()) {
          if (!isFifo(list)) list.sort(fifoCompare);
          for (const job of list) out.push(job);
        }
      }
    }
    return out;
  }

  /** The level's pairs, grouped by tenant (one fair-share entry each). */
  turns(ordered: Ordered, level: Level): TenantTurn<T, Q>[] {
    const jobs = ordered.jobs;
    const turns: TenantTurn<T, Q>[] = [];
    const byTenant = new Map<T, TenantTurn<T, Q>>();
    const mins = this.mins;
    let pair: Pair<T, Q> | undefined;
    for (let i = level.start; i < level.end; i++) {
      const job = jobs[i] as QueuedJob;
      if (pair === undefined || job.queue !== pair.queue.name || job.tenant !== pair.tenant.name) {
        const t = this.tenant(job.tenant);
        pair = new Pair(t, this.queue(job.queue), jobs, i);
        const turn = byTenant.get(t);
        if (turn === undefined) {
          const created = new TenantTurn(pair);
          byTenant.set(t, created);
          turns.push(created);
        } else {
          turn.pairs.push(pair);
          if (fifoCompare(pair.head, turn.next.head) < 0) turn.next = pair;
        }
      }
      pair.end = i + 1;
      if (mins) {
        const pp = job.perPod;
        const n = job.replicas;
        if (pp.cpuMilli * n < pair.minReqCpu) pair.minReqCpu = pp.cpuMilli * n;
        if (pp.memoryMb * n < pair.minReqMem) pair.minReqMem = pp.memoryMb * n;
        if (pp.gpu * n < pair.minReqGpu) pair.minReqGpu = pp.gpu * n;
        if (pp.cpuMilli < pair.minPodCpu) pair.minPodCpu = pp.cpuMilli;
        if (pp.memoryMb < pair.minPodMem) pair.minPodMem = pp.memoryMb;
        if (pp.gpu < pair.minPodGpu) pair.minPodGpu = pp.gpu;
      }
    }
    return turns;
  }
}

function isFifo(jobs: readonly QueuedJob[]): boolean {
  for (let i = 1; i < jobs.length; i++) if (fifoCompare(jobs[i - 1] as QueuedJob, jobs[i] as QueuedJob) > 0) return false;
  return true;
}
