/**
 * Queued jobs grouped the way the cycle takes them: per (tenant, queue, job priority) pair, a FIFO list
 * (queuedAt, then id), with the smallest requests among its jobs. The cycle walks pairs, not jobs, to
 * build its order, so a caller that keeps its waiting jobs in a QueueIndex (adding and removing as
 * they change) hands each cycle its queue in O(pairs) instead of O(jobs); `pairsOf` groups a plain list
 * for callers that have one (tests, one-off snapshots).
 */
import { fifoCompare } from './fair-share.js';
import type { Resources } from './resources.js';
import type { QueuedJob } from './types.js';

/** One tenant's jobs of one queue at one job priority, FIFO. */
export interface QueuedPair {
  readonly tenant: string;
  readonly queue: string;
  /** The jobs' own priority (the cycle adds the queue's). */
  readonly priority: number;
  /** FIFO (queuedAt, then id); every job has this pair's tenant, queue and priority. */
  readonly jobs: readonly QueuedJob[];
  /**
   * Lower bounds of the smallest per-pod request and of the smallest total (replicas x per pod) among
   * `jobs`. The cycle uses them only to stop early; a bound that is too small costs it time, never a
   * different decision (so removing a job need not raise them).
   */
  readonly minPod: Resources;
  readonly minReq: Resources;
}

interface MutablePair extends QueuedPair {
  readonly jobs: QueuedJob[];
  readonly minPod: Resources;
  readonly minReq: Resources;
  /** A job at a bound left: the bounds may be low (still valid) and are made exact again on the next pairs(). */
  stale: boolean;
}

const INF: Resources = Object.freeze({ cpuMilli: Infinity, memoryMb: Infinity, gpu: Infinity });

function newPair(job: QueuedJob): MutablePair {
  return { tenant: job.tenant, queue: job.queue, priority: job.priority, jobs: [], minPod: { ...INF }, minReq: { ...INF }, stale: false };
}

/** Whether `job` sets one of the pair's bounds (removing it may raise them). */
function atBound(pair: MutablePair, job: QueuedJob): boolean {
  const p = job.perPod;
  const n = job.replicas;
  const mp = pair.minPod;
  const mr = pair.minReq;
  return (
    p.cpuMilli === mp.cpuMilli || p.memoryMb === mp.memoryMb || p.gpu === mp.gpu ||
    p.cpuMilli * n === mr.cpuMilli || p.memoryMb * n === mr.memoryMb || p.gpu * n === mr.gpu
  );
}

/** Exact bounds again, from the pair's jobs. */
function tighten(pair: MutablePair): void {
  Object.assign(pair.minPod, INF);
  Object.assign(pair.minReq, INF);
  for (const job of pair.jobs) lower(pair, job);
  pair.stale = false;
}

function lower(pair: MutablePair, job: QueuedJob): void {
  const p = job.perPod;
  const n = job.replicas;
  const mp = pair.minPod;
  const mr = pair.minReq;
  if (p.cpuMilli < mp.cpuMilli) mp.cpuMilli = p.cpuMilli;
  if (p.memoryMb < mp.memoryMb) mp.memoryMb = p.memoryMb;
  if (p.gpu < mp.gpu) mp.gpu = p.gpu;
  if (p.cpuMilli * n < mr.cpuMilli) mr.cpuMilli = p.cpuMilli * n;
  if (p.memoryMb * n < mr.memoryMb) mr.memoryMb = p.memoryMb * n;
  if (p.gpu * n < mr.gpu) mr.gpu = p.gpu * n;
}

const keyOf = (job: QueuedJob): string => `${job.tenant}\u0000${job.queue}\u0000${job.priority}`;

/** Where `job` is or goes in a FIFO list. */
function fifoIndex(list: readonly QueuedJob[], job: QueuedJob): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fifoCompare(list[mid] as QueuedJob, job) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A plain list of queued jobs (any order) as pairs, with exact bounds. */
export function pairsOf(queued: readonly QueuedJob[]): QueuedPair[] {
  const byKey = new Map<string, MutablePair>();
  for (const job of queued) {
    const key = keyOf(job);
    let pair = byKey.get(key);
    if (pair === undefined) byKey.set(key, (pair = newPair(job)));
    pair.jobs.push(job);
    lower(pair, job);
  }
  const out = [...byKey.values()];
  for (const pair of out) {
    const jobs = pair.jobs;
    for (let i = 1; i < jobs.length; i++) {
      if (fifoCompare(jobs[i - 1] as QueuedJob, jobs[i] as QueuedJob) > 0) {
        jobs.sort(fifoCompare);
        break;
      }
    }
  }
  return out;
}

/**
 * Waiting jobs kept as pairs as they come and go: add and remove cost a binary search and a splice in
 * the job's pair. A job is replaced by adding it again (same id).
 */
export class QueueIndex {
  private readonly pairsByKey = new Map<string, MutablePair>();
  private readonly byId = new Map<string, { job: QueuedJob; pair: MutablePair }>();
  /** Jobs with a notBefore (retry backoff): few, so the earliest is found by a scan of them alone. */
  private readonly backoff = new Map<string, number>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): QueuedJob | undefined {
    return this.byId.get(id)?.job;
  }

  add(job: QueuedJob): void {
    this.remove(job.id);
    const key = keyOf(job);
    let pair = this.pairsByKey.get(key);
    if (pair === undefined) this.pairsByKey.set(key, (pair = newPair(job)));
    pair.jobs.splice(fifoIndex(pair.jobs, job), 0, job);
    lower(pair, job);
    this.byId.set(job.id, { job, pair });
    if (job.notBefore !== undefined) this.backoff.set(job.id, job.notBefore);
  }

  /** False when the job was not there. */
  remove(id: string): boolean {
    const entry = this.byId.get(id);
    if (entry === undefined) return false;
    this.byId.delete(id);
    this.backoff.delete(id);
    const { job, pair } = entry;
    const jobs = pair.jobs;
    const i = fifoIndex(jobs, job);
    if (jobs[i] === job) jobs.splice(i, 1);
    if (jobs.length === 0) this.pairsByKey.delete(keyOf(job));
    else if (!pair.stale && atBound(pair, job)) pair.stale = true;
    return true;
  }

  /**
   * The pairs for a snapshot, without the jobs in `exclude` (a pair holding one is copied without it).
   * The lists are the index's own: valid until it next changes (a cycle runs before that).
   */
  pairs(exclude?: ReadonlySet<string>): QueuedPair[] {
    const out: QueuedPair[] = [];
    let filtered: Map<MutablePair, QueuedPair> | undefined;
    if (exclude !== undefined && exclude.size > 0) {
      for (const id of exclude) {
        const entry = this.byId.get(id);
        if (entry === undefined) continue;
        filtered ??= new Map();
        const base = filtered.get(entry.pair) ?? entry.pair;
        filtered.set(entry.pair, { ...base, jobs: base.jobs.filter((j) => j.id !== id) });
      }
    }
    for (const pair of this.pairsByKey.values()) {
      // Loose bounds would only cost the cycle time (it stops early by them): tighten them now.
      if (pair.stale) tighten(pair);
      const p = filtered?.get(pair) ?? pair;
      if (p.jobs.length > 0) out.push(p);
    }
    return out;
  }

  /** Every job, pair by pair. */
  *jobs(): IterableIterator<QueuedJob> {
    for (const pair of this.pairsByKey.values()) yield* pair.jobs;
  }

  /** The earliest notBefore after `nowMs`, if any job has one. */
  nextBackoffEnd(nowMs: number): number | undefined {
    let earliest: number | undefined;
    for (const t of this.backoff.values()) if (t > nowMs && (earliest === undefined || t < earliest)) earliest = t;
    return earliest;
  }
}
