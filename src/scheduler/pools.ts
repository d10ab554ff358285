/**
 * One pool's room during a cycle: the aggregate free vector, the ComputeCluster caps, the per-node
 * free space that gang pods are packed onto, and the room held for waiting jobs (preemptors, aged
 * jobs). Also the static question "could this ever run here?", which the submit path asks too.
 *
 * Aggregate free is min(allocatable - admitted usage, sum of nodesFree): admitted jobs whose pods are
 * not placed yet do not show in nodesFree but must not be admitted twice over. Nodes are copied, and
 * admissions pack their pods first-fit in node order (all pods of a gang are identical, so first-fit
 * decreasing is first-fit, and it is exact for "do N pods fit": sum over nodes of the pods each takes).
 */
import { Holders } from './holders.js';
import { DIMS, amount, describe, num, podsIn, zero, type Resources } from './resources.js';
import type { AdmittedJob, PoolState, WaitReason } from './types.js';

/**
 * Why a pool cannot take a job now (after 'ok' the node packing decides: 'node' if it fails):
 * 'cap' maxJobs/maxGpus, 'held' room there but held for an earlier job, 'agg' not enough free.
 */
export type AggregateFit = 'ok' | 'cap' | 'held' | 'agg';

/** Why `n` pods of `perPod` can never run in this pool, even empty; undefined when they could. */
export function poolNeverFits(pool: PoolState, perPod: Resources, n: number): string | undefined {
  if (pool.maxGpus !== undefined && perPod.gpu * n > pool.maxGpus) {
    return `needs ${amount('gpu', perPod.gpu * n)} but pool ${pool.name} is limited to ${pool.maxGpus}`;
  }
  const nodes = pool.nodesFree.length;
  if (nodes === 0) return `pool ${pool.name} has no nodes`;
  for (const d of DIMS) {
    if (perPod[d] > pool.largestNode[d]) {
      return `a pod needs ${amount(d, perPod[d])} but the largest node in pool ${pool.name} has ${num(d, pool.largestNode[d])}`;
    }
  }
  for (const d of DIMS) {
    if (perPod[d] * n > pool.allocatable[d]) {
      return `needs ${amount(d, perPod[d] * n)} but pool ${pool.name} has ${num(d, pool.allocatable[d])} in total`;
    }
  }
  // largestNode bounds every node component-wise, so no node takes more pods than it would.
  const most = podsIn(pool.largestNode.cpuMilli, pool.largestNode.memoryMb, pool.largestNode.gpu, perPod) * nodes;
  if (most < n) {
    return `needs ${n} pods (${describe(perPod)} each) at once but pool ${pool.name} can hold at most ${most}`;
  }
  return undefined;
}

export class PoolRun extends Holders {
  readonly name: string;
  readonly hasGpu: boolean;
  /** Aggregate free room, less this cycle's admissions. */
  readonly free: Resources;
  /** GPUs used (for maxGpus) and jobs admitted (for maxJobs), this cycle's included. */
  usedGpu = 0;
  jobs = 0;
  /** Room held out of `free` for waiting jobs considered earlier (see hold()). */
  readonly held: Resources = zero();
  heldJobs = 0;
  heldCapGpu = 0;
  /** First job that holds room here this cycle, named in the messages of those it blocks. */
  holder: string | undefined;
  /** Whether an aged job already holds room here (one per pool per cycle). */
  agedHold = false;
  /** What waiting jobs considered so far need here (jobs ahead, for ETAs). */
  readonly demand: Resources = zero();
  demandJobs = 0;
  /** Room being released here (PoolState.releasing) not yet counted on by a preemptor this cycle. */
  readonly releasing: Resources;

  private readonly nodeCpu: Float64Array;
  private readonly nodeMem: Float64Array;
  private readonly nodeGpu: Float64Array;
  private readonly usage: Resources = zero();
  private readonly maxFree: Resources = zero();
  private maxFreeStale = true;
  /** Bumped on every admission: node-packing answers cached under an older version are stale. */
  private version = 0;
  private readonly packCache = new Map<number | string, { version: number; count: number; exact: boolean }>();
  /**
   * Bumped on every admission and hold: what a blocked job is told about this pool depends only on
   * this state and its pod shape, so the cycle caches the sentence per (shape, replicas, state).
   */
  stateVersion = 0;
  readonly explained = new Map<number | string, { version: number; n: number; fit: string; reason: WaitReason['reason']; message: string }>();
  /** Nodes before this index cannot hold the smallest pod still to come (see setSmallestPod). */
  private usefulFrom = 0;
  private minCpu = 0;
  private minMem = 0;
  private minGpu = 0;
  /** Pod shapes (cpu, mem, gpu, replicas) whose pods did not pack this cycle, most recent last. */
  private readonly failed: number[] = [];

  constructor(
    readonly state: PoolState,
    /** Position in the snapshot's pools. */
    readonly index = 0,
  ) {
    super();
    this.name = state.name;
    this.hasGpu = state.allocatable.gpu > 0;
    const n = state.nodesFree.length;
    this.nodeCpu = new Float64Array(n);
    this.nodeMem = new Float64Array(n);
    this.nodeGpu = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const f = state.nodesFree[i] as Resources;
      this.nodeCpu[i] = f.cpuMilli;
      this.nodeMem[i] = f.memoryMb;
      this.nodeGpu[i] = f.gpu;
    }
    this.free = zero();
    this.releasing = state.releasing ? { ...state.releasing } : zero();
  }

  /** What a preemptor's pool need leaves for victims once the room being released here is counted. */
  afterRelease<N extends Resources>(need: N): N {
    const r = this.releasing;
    return { ...need, cpuMilli: need.cpuMilli - r.cpuMilli, memoryMb: need.memoryMb - r.memoryMb, gpu: need.gpu - r.gpu };
  }

  /** Speaks for the part of the room being released here that `need` counted on (no one else may). */
  claimRelease(need: Resources): void {
    const r = this.releasing;
    r.cpuMilli -= Math.min(r.cpuMilli, Math.max(0, need.cpuMilli));
    r.memoryMb -= Math.min(r.memoryMb, Math.max(0, need.memoryMb));
    r.gpu -= Math.min(r.gpu, Math.max(0, need.gpu));
  }

  /** Records an admitted job running here (before start()). */
  addRunning(j: AdmittedJob): void {
    this.running.push(j);
    const p = j.perPod;
    this.usage.cpuMilli += p.cpuMilli * j.replicas;
    this.usage.memoryMb += p.memoryMb * j.replicas;
    this.usage.gpu += p.gpu * j.replicas;
    this.usedGpu += p.gpu * j.replicas;
    this.jobs++;
  }

  /** poolNeverFits(...) === undefined, without building the explanation (the cycle asks per job). */
  couldEverFit(perPod: Resources, n: number): boolean {
    const s = this.state;
    const l = s.largestNode;
    const a = s.allocatable;
    if (perPod.cpuMilli > l.cpuMilli || perPod.memoryMb > l.memoryMb || perPod.gpu > l.gpu) return false;
    if (perPod.cpuMilli * n > a.cpuMilli || perPod.memoryMb * n > a.memoryMb || perPod.gpu * n > a.gpu) return false;
    if (s.maxGpus !== undefined && perPod.gpu * n > s.maxGpus) return false;
    const nodes = s.nodesFree.length;
    if (nodes === 0) return false;
    return n === 1 || podsIn(l.cpuMilli, l.memoryMb, l.gpu, perPod) * nodes >= n;
  }

  /** Fixes the aggregate free room once every admitted job is recorded. */
  start(): void {
    let cpu = 0;
    let mem = 0;
    let gpu = 0;
    for (let i = 0; i < this.nodeCpu.length; i++) {
      cpu += this.nodeCpu[i] as number;
      mem += this.nodeMem[i] as number;
      gpu += this.nodeGpu[i] as number;
    }
    const a = this.state.allocatable;
    this.free.cpuMilli = Math.max(0, Math.min(a.cpuMilli - this.usage.cpuMilli, cpu));
    this.free.memoryMb = Math.max(0, Math.min(a.memoryMb - this.usage.memoryMb, mem));
    this.free.gpu = Math.max(0, Math.min(a.gpu - this.usage.gpu, gpu));
  }

  /** Whether `n` pods of `perPod` (total `req`) fit the caps and the aggregate room. */
  aggregate(req: Resources): AggregateFit {
    const s = this.state;
    if (s.maxJobs !== undefined && this.jobs + this.heldJobs + 1 > s.maxJobs) return 'cap';
    if (s.maxGpus !== undefined && req.gpu > 0 && this.usedGpu + this.heldCapGpu + req.gpu > s.maxGpus) return 'cap';
    const f = this.free;
    const h = this.held;
    if (req.cpuMilli <= f.cpuMilli - h.cpuMilli && req.memoryMb <= f.memoryMb - h.memoryMb && req.gpu <= f.gpu - h.gpu) return 'ok';
    if (req.cpuMilli <= f.cpuMilli && req.memoryMb <= f.memoryMb && req.gpu <= f.gpu) return 'held';
    return 'agg';
  }

  /**
   * How many of `n` pods of `perPod` the nodes can take at once: exact up to n, or with `exact` false
   * possibly just "fewer than n" (-1) when a smaller shape already failed this cycle (free space only
   * shrinks during a cycle, so a pod at least as big in every dimension fails too).
   */
  placeable(perPod: Resources, n: number, exact = true): number {
    const m = this.largestFree();
    if (perPod.cpuMilli > m.cpuMilli || perPod.memoryMb > m.memoryMb || perPod.gpu > m.gpu) return 0;
    const key = shapeKey(perPod);
    const hit = this.packCache.get(key);
    if (hit !== undefined && hit.version === this.version && (hit.exact || hit.count >= n)) return Math.min(hit.count, n);
    if (!exact && this.failedBefore(perPod, n)) return -1;
    let count = 0;
    const len = this.nodeCpu.length;
    for (let i = this.usefulFrom; i < len && count < n; i++) {
      count += podsIn(this.nodeCpu[i] as number, this.nodeMem[i] as number, this.nodeGpu[i] as number, perPod);
    }
    if (hit === undefined) {
      this.packCache.set(key, { version: this.version, count, exact: count < n });
    } else {
      hit.version = this.version;
      hit.count = count;
      hit.exact = count < n;
    }
    if (count < n) this.rememberFailure(perPod, n);
    return Math.min(count, n);
  }

  /**
   * Tells the pool the smallest pod (component-wise) any job still to be considered could put here:
   * nodes that cannot hold it are skipped from then on (free space only shrinks during a cycle).
   */
  setSmallestPod(cpuMilli: number, memoryMb: number, gpu: number): void {
    this.minCpu = cpuMilli;
    this.minMem = memoryMb;
    this.minGpu = gpu;
    this.skipUseless();
  }

  /** Whether the smallest pod still to come (setSmallestPod) could still be admitted here. */
  openForSmallest(): boolean {
    return this.open(this.minCpu, this.minMem, this.minGpu);
  }

  /** Whether a pod of at least (cpu, mem, gpu) could still be admitted here at all (caps, room, nodes). */
  open(cpuMilli: number, memoryMb: number, gpu: number): boolean {
    const s = this.state;
    if (s.maxJobs !== undefined && this.jobs + this.heldJobs >= s.maxJobs) return false;
    if (s.maxGpus !== undefined && gpu > 0 && this.usedGpu + this.heldCapGpu + gpu > s.maxGpus) return false;
    const f = this.free;
    const h = this.held;
    if (cpuMilli > f.cpuMilli - h.cpuMilli || memoryMb > f.memoryMb - h.memoryMb || gpu > f.gpu - h.gpu) return false;
    const m = this.largestFree();
    return cpuMilli <= m.cpuMilli && memoryMb <= m.memoryMb && gpu <= m.gpu;
  }

  private skipUseless(): void {
    const len = this.nodeCpu.length;
    while (
      this.usefulFrom < len &&
      ((this.nodeCpu[this.usefulFrom] as number) < this.minCpu ||
        (this.nodeMem[this.usefulFrom] as number) < this.minMem ||
        (this.nodeGpu[this.usefulFrom] as number) < this.minGpu)
    ) {
      this.usefulFrom++;
    }
  }

  private failedBefore(perPod: Resources, n: number): boolean {
    const f = this.failed;
    for (let i = 0; i < f.length; i += 4) {
      if (perPod.cpuMilli >= (f[i] as number) && perPod.memoryMb >= (f[i + 1] as number) && perPod.gpu >= (f[i + 2] as number) && n >= (f[i + 3] as number)) {
        return true;
      }
    }
    return false;
  }

  private rememberFailure(perPod: Resources, n: number): void {
    if (this.failed.length >= 4 * MAX_FAILURES) this.failed.splice(0, 4);
    this.failed.push(perPod.cpuMilli, perPod.memoryMb, perPod.gpu, n);
  }

  /** Admits `n` pods of `perPod` (the caller checked aggregate() and placeable()). */
  admit(perPod: Resources, n: number): void {
    let left = n;
    const len = this.nodeCpu.length;
    for (let i = this.usefulFrom; i < len && left > 0; i++) {
      const k = Math.min(left, podsIn(this.nodeCpu[i] as number, this.nodeMem[i] as number, this.nodeGpu[i] as number, perPod));
      if (k <= 0) continue;
      this.nodeCpu[i] = (this.nodeCpu[i] as number) - k * perPod.cpuMilli;
      this.nodeMem[i] = (this.nodeMem[i] as number) - k * perPod.memoryMb;
      this.nodeGpu[i] = (this.nodeGpu[i] as number) - k * perPod.gpu;
      left -= k;
    }
    this.free.cpuMilli -= perPod.cpuMilli * n;
    this.free.memoryMb -= perPod.memoryMb * n;
    this.free.gpu -= perPod.gpu * n;
    this.usedGpu += perPod.gpu * n;
    this.jobs++;
    this.version++;
    this.stateVersion++;
    this.maxFreeStale = true;
    this.skipUseless();
  }

  /**
   * Holds room for a waiting job so that jobs considered after it cannot take it: `req` out of what
   * is free (or everything free, for a job blocked by node packing: only draining whole nodes helps),
   * one maxJobs slot and its GPUs under maxGpus.
   */
  hold(id: string, req: Resources, everything: boolean): void {
    const f = this.free;
    const h = this.held;
    h.cpuMilli = everything ? f.cpuMilli : Math.min(f.cpuMilli, h.cpuMilli + req.cpuMilli);
    h.memoryMb = everything ? f.memoryMb : Math.min(f.memoryMb, h.memoryMb + req.memoryMb);
    h.gpu = everything ? f.gpu : Math.min(f.gpu, h.gpu + req.gpu);
    this.heldJobs++;
    this.heldCapGpu += req.gpu;
    this.holder ??= id;
    this.stateVersion++;
  }

  /** GPUs free under both the aggregate room and maxGpus (for ETAs). */
  headroomGpu(): number {
    const s = this.state;
    return s.maxGpus === undefined ? this.free.gpu : Math.min(this.free.gpu, s.maxGpus - this.usedGpu);
  }

  /** Job slots left under maxJobs (for ETAs). */
  headroomJobs(): number {
    const s = this.state;
    return s.maxJobs === undefined ? Infinity : s.maxJobs - this.jobs;
  }

  /** The component-wise largest free space on any node still useful (an upper bound for one pod). */
  largestFree(): Resources {
    if (this.maxFreeStale) {
      let c = 0;
      let m = 0;
      let g = 0;
      for (let i = this.usefulFrom; i < this.nodeCpu.length; i++) {
        c = Math.max(c, this.nodeCpu[i] as number);
        m = Math.max(m, this.nodeMem[i] as number);
        g = Math.max(g, this.nodeGpu[i] as number);
      }
      this.maxFree.cpuMilli = c;
      this.maxFree.memoryMb = m;
      this.maxFree.gpu = g;
      this.maxFreeStale = false;
    }
    return this.maxFree;
  }
}

/** How many failed shapes a pool remembers for the "a smaller one failed already" shortcut. */
const MAX_FAILURES = 16;

/** A number identifying a pod shape (exact while the values are in range), else a string. */
export function shapeKey(p: Resources): number | string {
  if (p.cpuMilli < 1 << 20 && p.memoryMb < 1 << 22 && p.gpu < 64 && Number.isInteger(p.cpuMilli + p.memoryMb + p.gpu)) {
    return (p.cpuMilli * (1 << 22) + p.memoryMb) * 64 + p.gpu;
  }
  return `${p.cpuMilli}:${p.memoryMb}:${p.gpu}`;
}
