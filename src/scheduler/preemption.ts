/**
 * Victim selection for PreemptLowerPriority (Kueue's pkg/scheduler/preemption, reduced to what a
 * Runway snapshot knows). A preemptor lacks room in up to three scopes at once:
 * - a pool (aggregate CPU/memory/GPUs and the ComputeCluster's maxJobs/maxGpus): jobs running in that
 *   pool free it;
 * - its tenant's quota: only that tenant's own jobs free it;
 * - its queue's maxConcurrency: only jobs of that queue free a slot.
 * Candidates are admitted jobs of queued queues (a direct queue's jobs are never victims) of strictly lower effective priority, in victim order: lowest
 * priority first, then most recently admitted, then the larger id. The cycle takes candidates in that
 * order that reduce a remaining need until none is left, then drops, from the second-to-last taken
 * back to the first, every victim whose share the others already cover (re-fitting without it).
 *
 * Approximation: AdmittedJob says which pool a job runs in, not on which nodes, so pool room is
 * treated as aggregate here (for a gang blocked by node packing, the pods that did not fit count as
 * the need). That is why the preemptor is not admitted in the same cycle: it waits until the victims
 * are gone, and the next cycle checks the real node space (see cycle.ts).
 */
import type { AdmittedJob } from './types.js';

/** An admitted job as the cycle tracks it: what it holds in total, and whether a preemptor took it. */
export interface Running {
  readonly job: AdmittedJob;
  readonly cpuMilli: number;
  readonly memoryMb: number;
  readonly gpu: number;
  /** Chosen as a victim earlier in this cycle: it frees its room for that preemptor only. */
  taken: boolean;
}

/** Lowest priority first, then most recently admitted, then the larger id: the order victims go in. */
export function victimOrder(a: Running, b: Running): number {
  const x = a.job;
  const y = b.job;
  if (x.priority !== y.priority) return x.priority < y.priority ? -1 : 1;
  if (x.admittedAt !== y.admittedAt) return x.admittedAt > y.admittedAt ? -1 : 1;
  return x.id > y.id ? -1 : x.id < y.id ? 1 : 0;
}

/**
 * The admitted jobs of one scope in victim order. Keeps, across the preemptions of one cycle, what is
 * already taken (Fenwick trees over the order), so that "could the untaken candidates below priority P
 * cover this need" is exact and O(log n), and a cursor past the taken head, so that scans do not
 * walk over the victims earlier preemptors took.
 */
export class VictimList {
  readonly items: Running[];
  /** Index of the first item not taken: every item before it is taken. */
  head = 0;
  private readonly slot = new Map<Running, number>();
  private readonly cpu: Float64Array;
  private readonly mem: Float64Array;
  private readonly gpu: Float64Array;
  private readonly takenCpu: Float64Array;
  private readonly takenMem: Float64Array;
  private readonly takenGpu: Float64Array;
  private readonly takenJobs: Float64Array;

  constructor(items: Running[]) {
    this.items = [...items].sort(victimOrder);
    const n = this.items.length;
    this.cpu = new Float64Array(n + 1);
    this.mem = new Float64Array(n + 1);
    this.gpu = new Float64Array(n + 1);
    this.takenCpu = new Float64Array(n + 1);
    this.takenMem = new Float64Array(n + 1);
    this.takenGpu = new Float64Array(n + 1);
    this.takenJobs = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const r = this.items[i] as Running;
      this.slot.set(r, i);
      this.cpu[i + 1] = (this.cpu[i] as number) + r.cpuMilli;
      this.mem[i + 1] = (this.mem[i] as number) + r.memoryMb;
      this.gpu[i + 1] = (this.gpu[i] as number) + r.gpu;
      if (r.taken) this.record(i, r);
    }
    this.skipTaken();
  }

  /** Number of leading candidates with priority strictly below `priority`. */
  below(priority: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.items[mid] as Running).job.priority < priority) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether the untaken candidates below `priority` together could cover `need`. */
  couldCover(need: Need, priority: number): boolean {
    const k = this.below(priority);
    return (
      k - fenwickSum(this.takenJobs, k) >= need.jobs &&
      (this.cpu[k] as number) - fenwickSum(this.takenCpu, k) >= need.cpuMilli &&
      (this.mem[k] as number) - fenwickSum(this.takenMem, k) >= need.memoryMb &&
      (this.gpu[k] as number) - fenwickSum(this.takenGpu, k) >= need.gpu
    );
  }

  /** Records that `r` (taken by a preemptor) no longer frees anything for later ones. */
  markTaken(r: Running): void {
    const i = this.slot.get(r);
    if (i === undefined) return;
    this.record(i, r);
    this.skipTaken();
  }

  private record(i: number, r: Running): void {
    fenwickAdd(this.takenCpu, i, r.cpuMilli);
    fenwickAdd(this.takenMem, i, r.memoryMb);
    fenwickAdd(this.takenGpu, i, r.gpu);
    fenwickAdd(this.takenJobs, i, 1);
  }

  private skipTaken(): void {
    while (this.head < this.items.length && (this.items[this.head] as Running).taken) this.head++;
  }
}

/** Adds v at 0-based position i of a Fenwick tree (1-based array of length n + 1). */
function fenwickAdd(tree: Float64Array, i: number, v: number): void {
  for (let j = i + 1; j < tree.length; j += j & -j) tree[j] = (tree[j] as number) + v;
}

/** Sum of the first k positions. */
function fenwickSum(tree: Float64Array, k: number): number {
  let s = 0;
  for (let j = k; j > 0; j -= j & -j) s += tree[j] as number;
  return s;
}

/** What a scope lacks; a field <= 0 means nothing lacking there. `jobs` counts job slots. */
export interface Need {
  cpuMilli: number;
  memoryMb: number;
  gpu: number;
  jobs: number;
}

export interface Scope {
  kind: 'pool' | 'tenant' | 'queue';
  name: string;
  need: Need;
  list: VictimList;
}

/** Whether anything of the need is still lacking. */
export function lacking(n: Need): boolean {
  return n.cpuMilli > 0 || n.memoryMb > 0 || n.gpu > 0 || n.jobs > 0;
}

function inScope(s: Scope, v: Running): boolean {
  const j = v.job;
  return s.kind === 'pool' ? j.pool === s.name : s.kind === 'tenant' ? j.tenant === s.name : j.queue === s.name;
}

/** Whether freeing `v` reduces something still lacking in `n`. */
function reduces(n: Need, v: Running): boolean {
  return n.jobs > 0 || (n.cpuMilli > 0 && v.cpuMilli > 0) || (n.memoryMb > 0 && v.memoryMb > 0) || (n.gpu > 0 && v.gpu > 0);
}

function apply(n: Need, v: Running, sign: 1 | -1): void {
  n.cpuMilli += sign * v.cpuMilli;
  n.memoryMb += sign * v.memoryMb;
  n.gpu += sign * v.gpu;
  n.jobs += sign;
}

/**
 * The victims that cover every scope's need, taking only candidates with priority < `priority`; []
 * when nothing is lacking, undefined when even every candidate would not be enough. Does not mark
 * anything taken: the caller does that for the set it picks.
 */
export function chooseVictims(scopes: readonly Scope[], priority: number): Running[] | undefined {
  const active = scopes.filter((s) => lacking(s.need));
  if (active.length === 0) return [];
  for (const s of active) if (!s.list.couldCover(s.need, priority)) return undefined;

  const rem: Need[] = active.map((s) => ({ ...s.need }));
  const ptr = active.map((s) => s.list.head);
  const end = active.map((s) => s.list.below(priority));
  const chosen: Running[] = [];
  while (rem.some(lacking)) {
    // Merge the scopes' lists (all in victim order); a job in two scopes heads both at once.
    let best: Running | undefined;
    for (let i = 0; i < active.length; i++) {
      const items = (active[i] as Scope).list.items;
      let p = ptr[i] as number;
      while (p < (end[i] as number) && (items[p] as Running).taken) p++;
      ptr[i] = p;
      if (p < (end[i] as number)) {
        const h = items[p] as Running;
        if (best === undefined || victimOrder(h, best) < 0) best = h;
      }
    }
    if (best === undefined) return undefined;
    let useful = false;
    for (let i = 0; i < active.length; i++) {
      const items = (active[i] as Scope).list.items;
      if ((ptr[i] as number) < (end[i] as number) && items[ptr[i] as number] === best) ptr[i] = (ptr[i] as number) + 1;
      if (inScope(active[i] as Scope, best) && reduces(rem[i] as Need, best)) useful = true;
    }
    if (!useful) continue;
    chosen.push(best);
    for (let i = 0; i < active.length; i++) if (inScope(active[i] as Scope, best)) apply(rem[i] as Need, best, -1);
  }

  // Re-fit without each earlier victim, the later (higher-priority, older) ones first.
  for (let i = chosen.length - 2; i >= 0; i--) {
    const v = chosen[i] as Running;
    let needed = false;
    for (let s = 0; s < active.length && !needed; s++) {
      if (!inScope(active[s] as Scope, v)) continue;
      const r = rem[s] as Need;
      needed = r.cpuMilli + v.cpuMilli > 0 || r.memoryMb + v.memoryMb > 0 || r.gpu + v.gpu > 0 || r.jobs + 1 > 0;
    }
    if (needed) continue;
    for (let s = 0; s < active.length; s++) if (inScope(active[s] as Scope, v)) apply(rem[s] as Need, v, 1);
    chosen.splice(i, 1);
  }
  return chosen;
}
