/**
 * The scheduling cycle: schedule(snapshot) -> decisions, pure and deterministic (no I/O, no clock but
 * snapshot.now; the same snapshot always gives the same decisions).
 *
 * Order. Queued jobs are taken by effective priority (queue priority + job priority), highest first.
 * Within one priority, fair share across tenants picks the next job: the tenant with the lowest
 * dominant-resource share (max over CPU, memory, GPUs of its usage / the whole cluster's allocatable)
 * goes next with its oldest job; equal shares go FIFO by that job. Usage here is what the tenant's
 * admitted jobs of this priority or higher hold, plus everything this cycle admitted or held for it
 * so far; lower-priority usage does not count at a higher level (it is preemptible from there, and
 * counting it would let a preemption reorder the very level that caused it, which can make a victim
 * and its preemptor swap places forever). With one priority level this is plain DRF over all usage.
 * Each tenant's own jobs of one priority go FIFO (queuedAt, then id). So: priority first, then fair
 * share among equals, then FIFO (Kueue's fair sharing with tenants as the sharing units). Positions
 * count waiting jobs per queue in this order.
 *
 * A job is admitted when, in this order of checks:
 * 1. it could ever fit: its total (replicas x perPod) is within its tenant's quota, and some allowed
 *    pool (queue.pools, all pools when empty) could hold it empty (largest node, total, maxGpus, node
 *    count x pods per largest node); else it waits with neverFits;
 * 2. notBefore <= now, else 'Backoff';
 * 3. its queue is below maxConcurrency (admitted + admitted/held this cycle), else 'MaxConcurrency';
 * 4. its tenant's usage + total stays within every quota field it asks for, else 'Quota';
 * 5. some allowed pool passes maxJobs/maxGpus and the aggregate room not held for earlier jobs, and
 *    all its pods pack onto that pool's nodes at once (first-fit onto copies of nodesFree). Among
 *    pools that fit: GPU jobs take the one with the fewest free GPUs (best fit), CPU-only jobs prefer
 *    pools without GPUs, then the least free CPU, then memory, then name.
 * A pool-blocked job reports the first allowed pool that could ever take it (CPU-only jobs: GPU-less
 * pools first; then by name): 'PoolLimit', 'Capacity', 'Fairness' (room held for an earlier job),
 * 'Gang' (N pods do not pack), or 'Capacity' for one pod that no node has room for.
 *
 * Head of line (Kueue's BestEffortFIFO, plus holds). A job that does not fit is skipped and later
 * jobs may still be admitted, except into room held by a job considered earlier. A job "holds" room:
 * its request out of a pool's free room (everything free, when node packing is the problem), a
 * maxJobs slot and its GPUs under maxGpus, plus its tenant's quota and a concurrency slot; jobs later
 * in this cycle cannot use that. Held by:
 * - a job blocked only by pool room that has waited reserveAfterMs (default 15 min), in its first
 *   pool, one such job per pool (aging: big jobs do not starve behind small ones);
 * - a waiting job of a PreemptLowerPriority queue blocked by pool room (in every pool it could use)
 *   or by quota (its quota and slot only): it could evict lower-priority jobs started in what it
 *   lacks, and without the hold a victim re-admitted into room its preemptor cannot use yet (node
 *   packing, another job's hold) would be preempted again and again;
 * - a preemptor, in every pool it could use (where it preempts, the room is taken for it outright
 *   when only its quota or queue limit needed the preemption).
 *
 * Preemption (queues with PreemptLowerPriority only). A job blocked at 3, 4 or 5 looks for victims
 * among admitted jobs of strictly lower effective priority (see preemption.ts for the order and the
 * minimal set). It picks the pool needing the fewest victims (ties: the pool order above). Victims
 * become Preemptions; the preemptor is NOT admitted in the same decisions: it waits ('Capacity' or its
 * blocking reason, message "...; preempting N lower-priority jobs") and holds the room it needs, so
 * that nothing after it takes what it is waiting for. The controller deletes the victims and runs the
 * cycle again, which then sees the real node space. 'Never' never preempts.
 *
 * ETAs: from running jobs' expectedEndAt (eta.ts), counting what the waiting jobs ahead of it (in the
 * cycle's order) need in the same pool / tenant quota / queue; omitted when unknown.
 *
 * Cost: O(admitted + pairs) to set up, then O(log tenants + pools) per job considered, plus node scans
 * for jobs that pass the aggregate check (cached per pod shape until the pool changes). Without
 * explanations the cycle stops once nothing more can happen. Give `queuedPairs` from a QueueIndex to
 * skip grouping `queued` (O(jobs)) in every cycle.
 */
import type { TenantQuota } from '../core/quota.js';
import * as explain from './explain.js';
import { FairShareHeap, dominantShare } from './fair-share.js';
import { Grouping, type Level, type Pair, type TenantTurn } from './order.js';
import { pairsOf } from './queue-index.js';
import { PoolRun, poolNeverFits, shapeKey, type AggregateFit } from './pools.js';
import { Holders } from './holders.js';
import { chooseVictims, lacking, type Need, type Running, type Scope } from './preemption.js';
import { times, zero, type Resources } from './resources.js';
import type {
  AdmittedJob,
  Admission,
  Decisions,
  PoolState,
  Preemption,
  QueuePolicy,
  QueuedJob,
  ScheduleOptions,
  Snapshot,
  WaitReason,
} from './types.js';

export const DEFAULT_RESERVE_AFTER_MS = 15 * 60_000;

/** Runs one scheduling cycle over the snapshot. See the module header for the rules. */
export function schedule(snapshot: Snapshot, options: ScheduleOptions = {}): Decisions {
  return new Cycle(snapshot, options).run();
}

/**
 * Why `job` can never be admitted with the snapshot's quotas and pools (the reason the cycle gives
 * with neverFits), or undefined when it could be. For the submit path, which refuses such jobs.
 */
export function explainNeverFits(job: QueuedJob, snapshot: Snapshot): string | undefined {
  const quota = own(snapshot.quotas, job.tenant) ?? snapshot.defaultQuota;
  const q = explain.quotaNeverFits(job.tenant, times(job.perPod, job.replicas), quota);
  if (q !== undefined) return q;
  const policy = own(snapshot.queues, job.queue);
  const allowed = allowedPools(policy, snapshot.pools);
  if (allowed.some((p) => poolNeverFits(p, job.perPod, job.replicas) === undefined)) return undefined;
  return poolsNeverFit(job.queue, policy, allowed, job.perPod, job.replicas);
}

function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function allowedPools<P extends { name: string }>(policy: QueuePolicy | undefined, pools: readonly P[]): P[] {
  if (policy === undefined || policy.pools.length === 0) return [...pools];
  return pools.filter((p) => policy.pools.includes(p.name));
}

function poolsNeverFit(queue: string, policy: QueuePolicy | undefined, allowed: readonly PoolState[], perPod: Resources, n: number): string {
  if (allowed.length === 0) {
    return policy !== undefined && policy.pools.length > 0
      ? `queue ${queue} allows pools ${policy.pools.join(', ')}, none of which exists`
      : 'there are no pools';
  }
  return allowed.map((p) => poolNeverFits(p, perPod, n)).join('; ');
}

class TenantRun extends Holders {
  /** Everything it holds (admitted, admitted or holding room this cycle): against its quota. */
  readonly usage: Resources = zero();
  /** What counts for fair share at the priority level being scheduled: its usage at or above it. */
  readonly fair: Resources = zero();
  share = 0;
  /** What quota-blocked jobs considered so far need (jobs ahead, for ETAs). */
  readonly demand: Resources = zero();
  /** Grouping's slot (see TenantKey). */
  turn: unknown = undefined;
  turnLevel = 0;

  constructor(
    readonly name: string,
    readonly quota: TenantQuota,
  ) {
    super();
  }
}

class QueueRun extends Holders {
  /** Admitted jobs, plus those admitted or holding room this cycle (against maxConcurrency). */
  count = 0;
  /** Waiting jobs so far: the next one's position - 1. */
  waiting = 0;
  /** Concurrency-blocked jobs so far (jobs ahead, for ETAs). */
  demandJobs = 0;
  /** "queue q is at its limit of N running jobs", built once. */
  concText: string | undefined;

  readonly priority: number;
  readonly preemptive: boolean;

  constructor(
    readonly name: string,
    readonly policy: QueuePolicy | undefined,
    /** Allowed pools in the order a CPU-only job / a GPU job names them when none fits. */
    readonly cpuOrder: PoolRun[],
    readonly gpuOrder: PoolRun[],
    /** Creation order in this cycle. */
    readonly index: number,
  ) {
    super();
    this.priority = policy?.priority ?? 0;
    this.preemptive = policy?.preemptionPolicy === 'PreemptLowerPriority';
  }
}

type Turn = TenantTurn<TenantRun, QueueRun>;
type Group = Pair<TenantRun, QueueRun>;

type PoolFit = AggregateFit | 'node';
type Blocked = Exclude<PoolFit, 'ok'>;

const NONE = -Infinity;

class Cycle {
  private readonly now: number;
  private readonly maxAdmissions: number;
  private readonly explain: boolean;
  /** Jobs of PreemptLowerPriority queues not yet considered (explain: false stops only at 0). */
  private preemptorsLeft = 0;
  /** Something changed that may let the cycle stop (explain: false). */
  private dirty = true;
  private readonly reserveAfterMs: number;
  private readonly pools: PoolRun[];
  private readonly poolByName = new Map<string, PoolRun>();
  private readonly tenants = new Map<string, TenantRun>();
  private readonly queues = new Map<string, QueueRun>();
  private readonly total: Resources = zero();
  private lowestRunning = Infinity;
  /** Admitted jobs, highest priority first: each level's fair share adds those at or above it. */
  private byPriority: AdmittedJob[] = [];
  /** One Running per admitted job, made when preemption first needs them. */
  private readonly wrapped = new Map<AdmittedJob, Running>();
  /** The job's one Running of this cycle (a victim taken in one scope is taken in all), made on first use. */
  private readonly wrap = (j: AdmittedJob): Running => {
    let r = this.wrapped.get(j);
    if (r === undefined) {
      r = { job: j, cpuMilli: j.perPod.cpuMilli * j.replicas, memoryMb: j.perPod.memoryMb * j.replicas, gpu: j.perPod.gpu * j.replicas, taken: false };
      this.wrapped.set(j, r);
    }
    return r;
  };
  /**
   * Who may be preempted: jobs of queued queues. A direct queue's job was promised to run when its
   * submission answered 201 (v1 semantics: it is never put back in a queue), so it is never a victim.
   */
  private readonly candidates = (jobs: readonly AdmittedJob[]): Running[] => {
    const out: Running[] = [];
    for (const j of jobs) if (this.preemptible(j)) out.push(this.wrap(j));
    return out;
  };
  private preemptible(j: AdmittedJob): boolean {
    return this.snapshot.queues[j.queue]?.admission !== 'direct';
  }
  private fairUpTo = 0;

  private readonly admissions: Admission[] = [];
  private readonly preemptions: Preemption[] = [];
  private readonly waiting: WaitReason[] = [];

  // Shared parts of the waiting jobs' sentences: "; 3 jobs ahead" by count, "; estimated start in
  // 12 min" by minutes.
  private readonly aheadText: string[] = [];
  private readonly etaText = new Map<number, string>();

  // Per-job scratch, reused: the pools that could ever take the job, what each said, pods packed.
  private readonly req: Resources = zero();
  private readonly feasible: PoolRun[] = [];
  private readonly fits: PoolFit[] = [];
  private readonly packed: number[] = [];

  constructor(
    private readonly snapshot: Snapshot,
    options: ScheduleOptions,
  ) {
    this.now = snapshot.now;
    this.maxAdmissions = options.maxAdmissions ?? Infinity;
    this.explain = options.explain ?? true;
    this.reserveAfterMs = options.reserveAfterMs ?? DEFAULT_RESERVE_AFTER_MS;
    this.pools = snapshot.pools.map((p, i) => new PoolRun(p, i));
    for (const p of this.pools) {
      this.poolByName.set(p.name, p);
      this.total.cpuMilli += p.state.allocatable.cpuMilli;
      this.total.memoryMb += p.state.allocatable.memoryMb;
      this.total.gpu += p.state.allocatable.gpu;
    }
    for (const job of snapshot.admitted) {
      const c = job.perPod.cpuMilli * job.replicas;
      const m = job.perPod.memoryMb * job.replicas;
      const g = job.perPod.gpu * job.replicas;
      this.poolByName.get(job.pool)?.addRunning(job);
      const t = this.tenant(job.tenant);
      t.running.push(job);
      t.usage.cpuMilli += c;
      t.usage.memoryMb += m;
      t.usage.gpu += g;
      const q = this.queue(job.queue);
      q.running.push(job);
      q.count++;
      if (job.priority < this.lowestRunning && this.preemptible(job)) this.lowestRunning = job.priority;
      this.byPriority.push(job);
    }
    for (const p of this.pools) p.start();
    this.byPriority = sortByPriority(this.byPriority);
  }

  /** Adds the usage of admitted jobs at or above `prio` to their tenants' fair-share usage. */
  private fairShareAt(prio: number): void {
    const list = this.byPriority;
    while (this.fairUpTo < list.length && (list[this.fairUpTo] as AdmittedJob).priority >= prio) {
      const j = list[this.fairUpTo++] as AdmittedJob;
      const t = this.tenant(j.tenant);
      t.fair.cpuMilli += j.perPod.cpuMilli * j.replicas;
      t.fair.memoryMb += j.perPod.memoryMb * j.replicas;
      t.fair.gpu += j.perPod.gpu * j.replicas;
      t.share = dominantShare(t.fair, this.total);
    }
  }

  run(): Decisions {
    const mins = !this.explain;
    const grouping = new Grouping<TenantRun, QueueRun>(
      (name) => this.tenant(name),
      (name) => this.queue(name),
      mins,
    );
    const levels = grouping.levels(this.snapshot.queuedPairs ?? pairsOf(this.snapshot.queued));
    // Without explanations: the smallest pods still to come, per level and pool (to stop early).
    const smallest = mins ? this.smallestPods(levels) : [];
    if (mins) for (const level of levels) this.preemptorsLeft += level.preemptors;
    levels: for (let li = 0; li < levels.length; li++) {
      const level = levels[li] as Level;
      const prio = level.prio;
      this.fairShareAt(prio);
      if (mins) {
        const m = smallest[li] as Float64Array;
        for (const p of this.pools) p.setSmallestPod(m[3 * p.index] as number, m[3 * p.index + 1] as number, m[3 * p.index + 2] as number);
        this.dirty = true;
      }
      // One heap entry per tenant, over its (tenant, queue) pairs: a queue or quota that is closed
      // for the rest of the cycle closes a whole pair at once.
      const turns = grouping.turns(level);
      for (const turn of turns) turn.share = turn.tenant.share;
      const heap = new FairShareHeap<Turn>(turns);
      while (heap.size > 0) {
        if (this.dirty && mins) {
          this.dirty = false;
          if (!this.canStillAct(prio)) break levels;
        }
        const turn = heap.peek();
        const pair = turn.next;
        if (mins && this.closed(pair)) {
          if (turn.dropNext()) heap.updateTop();
          else heap.pop();
          continue;
        }
        const job = pair.head;
        pair.pos++;
        this.consider(job, prio, turn.tenant);
        if (turn.refresh()) {
          turn.share = turn.tenant.share;
          heap.updateTop();
        } else {
          heap.pop();
        }
      }
    }
    return { admissions: this.admissions, preemptions: this.preemptions, waiting: this.waiting };
  }

  /** Per level (same index) and pool (3 x its index), the smallest pod any job of that level or a lower one could put there. */
  private smallestPods(levels: readonly Level[]): Float64Array[] {
    const np = this.pools.length;
    const queues = [...this.queues.values()];
    const out: Float64Array[] = new Array<Float64Array>(levels.length);
    let below = new Float64Array(3 * np).fill(Infinity);
    for (let i = levels.length - 1; i >= 0; i--) {
      const queueMin = (levels[i] as Level).queueMin;
      const m = Float64Array.from(below);
      for (const q of queues) {
        const k = 3 * q.index;
        if (k >= queueMin.length) continue;
        for (const p of q.cpuOrder) {
          const j = 3 * p.index;
          m[j] = Math.min(m[j] as number, queueMin[k] as number);
          m[j + 1] = Math.min(m[j + 1] as number, queueMin[k + 1] as number);
          m[j + 2] = Math.min(m[j + 2] as number, queueMin[k + 2] as number);
        }
      }
      out[i] = m;
      below = m;
    }
    return out;
  }

  /**
   * Whether none of a pair's remaining jobs can be admitted, preempt or hold anything this cycle:
   * jobs of a queue without preemption whose limit is reached, whose tenant's quota cannot take even
   * the smallest of them, or for whose smallest pod no allowed pool has room (queue counts and usage
   * only grow, room only shrinks during a cycle). Such jobs would only be explained, so without
   * explanations the pair is dropped whole.
   */
  private closed(c: Group): boolean {
    const q = c.queue;
    if (q.preemptive) return false;
    const policy = q.policy;
    if (policy === undefined) return true;
    if (policy.maxConcurrency !== undefined && q.count >= policy.maxConcurrency) return true;
    const quota = c.tenant.quota;
    const u = c.tenant.usage;
    if (
      (quota.gpu !== undefined && c.minReqGpu > 0 && u.gpu + c.minReqGpu > quota.gpu) ||
      (quota.cpuMilli !== undefined && c.minReqCpu > 0 && u.cpuMilli + c.minReqCpu > quota.cpuMilli) ||
      (quota.memoryMb !== undefined && c.minReqMem > 0 && u.memoryMb + c.minReqMem > quota.memoryMb)
    ) {
      return true;
    }
    // No pool it may use has room for even its smallest pod, and none of its jobs could take an
    // aging hold (its oldest job is too young, or every such pool has one already).
    const aged = this.now - c.head.queuedAt >= this.reserveAfterMs;
    for (const p of q.cpuOrder) {
      if (p.open(c.minPodCpu, c.minPodMem, c.minPodGpu)) return false;
      if (aged && !p.agedHold) return false;
    }
    return true;
  }

  /**
   * Whether any job still to be considered (at `prio` or below) could be admitted or preempt: not
   * when the admission limit is reached, nor when no job left may preempt and every pool lacks room
   * (caps, aggregate, or any single node) for the smallest pod a job left could put there.
   */
  private canStillAct(prio: number): boolean {
    if (this.admissions.length >= this.maxAdmissions) return false;
    if (this.preemptorsLeft > 0 && prio > this.lowestRunning) return true;
    for (const p of this.pools) if (p.openForSmallest()) return true;
    return false;
  }

  private tenant(name: string): TenantRun {
    let t = this.tenants.get(name);
    if (t === undefined) {
      t = new TenantRun(name, own(this.snapshot.quotas, name) ?? this.snapshot.defaultQuota);
      this.tenants.set(name, t);
    }
    return t;
  }

  private queue(name: string): QueueRun {
    let q = this.queues.get(name);
    if (q === undefined) {
      const policy = own(this.snapshot.queues, name);
      const allowed = allowedPools(policy, this.pools);
      const byName = (a: PoolRun, b: PoolRun): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      const cpuOrder = [...allowed].sort((a, b) => Number(a.hasGpu) - Number(b.hasGpu) || byName(a, b));
      const gpuOrder = [...allowed].sort((a, b) => Number(b.hasGpu) - Number(a.hasGpu) || byName(a, b));
      q = new QueueRun(name, policy, cpuOrder, gpuOrder, this.queues.size);
      this.queues.set(name, q);
    }
    return q;
  }

  private consider(job: QueuedJob, prio: number, t: TenantRun): void {
    const q = this.queue(job.queue);
    if (!this.explain && q.preemptive && --this.preemptorsLeft === 0) this.dirty = true;
    const pp = job.perPod;
    const n = job.replicas;
    const req = this.req;
    req.cpuMilli = pp.cpuMilli * n;
    req.memoryMb = pp.memoryMb * n;
    req.gpu = pp.gpu * n;

    // 1. Could it ever fit?
    const order = pp.gpu > 0 ? q.gpuOrder : q.cpuOrder;
    const feasible = this.feasible;
    feasible.length = 0;
    for (const p of order) if (p.couldEverFit(pp, n)) feasible.push(p);
    this.fits.length = 0;
    this.packed.length = 0;
    const quotaNever = explain.quotaNeverFits(t.name, req, t.quota);
    if (quotaNever !== undefined) return this.wait(job, q, 'Quota', `can never fit: ${quotaNever}`, undefined, true);
    if (feasible.length === 0) {
      const why = poolsNeverFit(q.name, q.policy, order.map((p) => p.state), pp, n);
      return this.wait(job, q, 'Capacity', `can never fit: ${why}`, undefined, true);
    }

    // 2. Backoff.
    if (job.notBefore !== undefined && job.notBefore > this.now) {
      return this.wait(job, q, 'Backoff', 'retry backoff after a failed attempt', job.notBefore);
    }

    // 3., 4. Queue and tenant limits.
    const policy = q.policy;
    if (policy === undefined) return this.wait(job, q, 'NoQueue', `queue ${q.name} is not defined (deleted after the job was queued); it waits until the queue exists again`);
    const max = policy.maxConcurrency;
    const concBlocked = max !== undefined && q.count >= max;
    const short = explain.quotaShort(t.usage, req, t.quota);
    const quotaBlocked = short !== 0;
    const deferred = this.admissions.length >= this.maxAdmissions;
    let mayPreempt = !deferred && policy.preemptionPolicy === 'PreemptLowerPriority' && prio > this.lowestRunning;
    // Over its queue's limit or its quota, only its queue's or tenant's own lower-priority jobs can
    // make room: when even all of them would not, preemption cannot help (as chooseVictims would find).
    if (mayPreempt && concBlocked && !q.victims(this.candidates).couldCover(this.queueNeed(q, max), prio)) mayPreempt = false;
    if (mayPreempt && quotaBlocked && !t.victims(this.candidates).couldCover(this.tenantNeed(t), prio)) mayPreempt = false;

    // 5. Pools (only worth looking at when the job could be admitted or could preempt). Exact pod
    // counts only matter to the sentences; preemption asks for them where it needs them.
    let chosen: PoolRun | undefined;
    if (!deferred && ((!concBlocked && !quotaBlocked) || mayPreempt)) chosen = this.choosePool(pp, n, req, this.explain);
    if (chosen !== undefined && !concBlocked && !quotaBlocked) {
      chosen.admit(pp, n);
      this.charge(t, q, req);
      this.admissions.push({ id: job.id, pool: chosen.name });
      return;
    }
    const preempted = mayPreempt ? this.preempt(job, prio, t, q, chosen, concBlocked, short) : 'no';
    if (preempted === 'victims') return;

    if (deferred && !concBlocked && !quotaBlocked) {
      return this.wait(job, q, 'Capacity', `not considered: this cycle's limit of ${this.maxAdmissions} admission${this.maxAdmissions === 1 ? '' : 's'} was reached`);
    }
    let reason: WaitReason['reason'] = 'Capacity';
    let message = '';
    let eta: number | undefined;
    if (!this.explain) {
      // Only what changes later decisions: the holds below.
    } else if (concBlocked) {
      reason = 'MaxConcurrency';
      message = q.concText ??= concMessage(q.name, max);
      eta = q.timeline().whenFreed(NONE, NONE, NONE, q.demandJobs + 1 - (max - q.count));
      q.demandJobs++;
    } else if (quotaBlocked) {
      reason = 'Quota';
      message = explain.quotaBlocked(t.name, short, t.usage, req, t.quota);
      eta = t.timeline().whenFreed(this.quotaNeed(t, 'cpuMilli'), this.quotaNeed(t, 'memoryMb'), this.quotaNeed(t, 'gpu'), NONE);
      t.demand.cpuMilli += req.cpuMilli;
      t.demand.memoryMb += req.memoryMb;
      t.demand.gpu += req.gpu;
    } else {
      // Blocked by pool room: explained with the first pool that could ever take it.
      const p = feasible[0] as PoolRun;
      const fit = this.fits[0] as Blocked;
      ({ reason, message } = explainPool(p, fit, pp, n, req, this.packed[0] as number));
      if (preempted === 'releasing') message += '; stopping jobs are releasing the room it needs';
      // Room the jobs ahead and this one need beyond what is free; for pods that did not pack, the
      // room of those pods (the free space is there but fragmented).
      const need = fit === 'node' ? nodeNeed(job, this.packed[0] as number) : undefined;
      eta = p
        .timeline()
        .whenFreed(
          p.demand.cpuMilli + (need ? need.cpuMilli : req.cpuMilli - p.free.cpuMilli),
          p.demand.memoryMb + (need ? need.memoryMb : req.memoryMb - p.free.memoryMb),
          p.demand.gpu + (need ? need.gpu : req.gpu - p.headroomGpu()),
          p.demandJobs + 1 - p.headroomJobs(),
        );
      this.addDemand(p, req);
    }

    // Holds: the same whether or not the cycle explains.
    const preemptive = policy.preemptionPolicy === 'PreemptLowerPriority';
    if (!concBlocked && !quotaBlocked && !preemptive) {
      const p = feasible[0] as PoolRun;
      const waited = this.now - job.queuedAt;
      if (waited >= this.reserveAfterMs && !p.agedHold) {
        p.hold(job.id, req, this.fits[0] === 'node');
        p.agedHold = true;
        this.charge(t, q, req);
        if (this.explain) message += `; room held for it after ${explain.minutes(waited)} min waiting`;
      }
    }
    if (preemptive && !concBlocked) {
      // It may take from lower-priority jobs anyway, so none may start in what it lacks: they would
      // only be preempted again (and a victim re-admitted into room its preemptor could not use yet,
      // say for node packing or another job's hold, would be preempted again and again). A job
      // blocked by its queue's limit holds nothing: the slot it waits for is not one others can take.
      if (!quotaBlocked) {
        for (let i = 0; i < feasible.length; i++) (feasible[i] as PoolRun).hold(job.id, req, this.fits[i] === 'node');
      }
      this.charge(t, q, req);
      if (this.explain) message += quotaBlocked ? '; its quota is held for it' : '; room held for it';
    }
    if (this.explain) this.wait(job, q, reason, message, eta);
  }

  /**
   * Fills fits/packed for every feasible pool and returns the pool the job goes to, if any: the best
   * (see the header) of those whose aggregate room suffices and whose nodes take all pods.
   */
  private choosePool(pp: Resources, n: number, req: Resources, exactPacking: boolean): PoolRun | undefined {
    const feasible = this.feasible;
    const fits = this.fits;
    const packed = this.packed;
    fits.length = 0;
    packed.length = 0;
    for (const p of feasible) {
      fits.push(p.aggregate(req));
      packed.push(0);
    }
    const gpuJob = pp.gpu > 0;
    for (;;) {
      let best = -1;
      for (let i = 0; i < feasible.length; i++) {
        if (fits[i] !== 'ok') continue;
        if (best < 0 || better(feasible[i] as PoolRun, feasible[best] as PoolRun, gpuJob)) best = i;
      }
      if (best < 0) return undefined;
      const p = feasible[best] as PoolRun;
      // Exact counts feed messages and preemption needs; otherwise "fewer than n" is enough.
      const k = p.placeable(pp, n, exactPacking);
      packed[best] = k;
      if (k >= n) return p;
      fits[best] = 'node';
    }
  }

  /**
   * Tries to make room by preemption: 'victims' when victims were chosen (the job then waits for
   * them); 'releasing' when, blocked by pool room only, the room that stopping jobs are releasing
   * covers it (it waits for that, evicting no one: without this, each cycle until their pods are gone
   * would take another victim); 'no' when preemption cannot help.
   */
  private preempt(
    job: QueuedJob,
    prio: number,
    t: TenantRun,
    q: QueueRun,
    roomy: PoolRun | undefined,
    concBlocked: boolean,
    short: number,
  ): 'victims' | 'releasing' | 'no' {
    const req = this.req;
    const scopes: Scope[] = [];
    if (concBlocked) scopes.push({ kind: 'queue', name: q.name, need: this.queueNeed(q, q.policy?.maxConcurrency ?? 0), list: q.victims(this.candidates) });
    if (short !== 0) scopes.push({ kind: 'tenant', name: t.name, need: this.tenantNeed(t), list: t.victims(this.candidates) });
    let victims: Running[] | undefined;
    let pool: PoolRun | undefined;
    let fit: PoolFit = 'ok';
    const needs: Need[] = [];
    if (roomy !== undefined) {
      victims = chooseVictims(scopes, prio);
      pool = roomy;
    } else {
      for (let i = 0; i < this.feasible.length; i++) {
        const p = this.feasible[i] as PoolRun;
        const f = this.fits[i] as Blocked;
        if (f === 'node' && (this.packed[i] as number) < 0) this.packed[i] = p.placeable(job.perPod, job.replicas);
        const need = f === 'node' ? nodeNeed(job, this.packed[i] as number) : poolNeed(p, req);
        const left = p.afterRelease(need);
        if (scopes.length === 0 && !lacking(left)) {
          p.claimRelease(need);
          return 'releasing';
        }
        needs.push(need);
      }
      for (let i = 0; i < this.feasible.length; i++) {
        const p = this.feasible[i] as PoolRun;
        const f = this.fits[i] as Blocked;
        const need = p.afterRelease(needs[i] as Need);
        const v = chooseVictims([...scopes, { kind: 'pool', name: p.name, need, list: p.victims(this.candidates) }], prio);
        if (v !== undefined && v.length > 0 && (victims === undefined || v.length < victims.length)) {
          victims = v;
          pool = p;
          fit = f;
        }
      }
    }
    if (victims === undefined || victims.length === 0 || pool === undefined) return 'no';
    if (roomy === undefined) pool.claimRelease(needs[this.feasible.indexOf(pool)] as Need);

    for (const v of victims) {
      v.taken = true;
      this.poolByName.get(v.job.pool)?.victimsIfBuilt()?.markTaken(v);
      this.tenant(v.job.tenant).victimsIfBuilt()?.markTaken(v);
      this.queue(v.job.queue).victimsIfBuilt()?.markTaken(v);
      this.preemptions.push({ id: v.job.id, for: job.id });
    }
    // What the message leads with is what blocks it now; the room it needs is held from here on.
    let reason: WaitReason['reason'] = 'Capacity';
    let message = '';
    if (!this.explain) {
      // No sentence to build.
    } else if (concBlocked) {
      reason = 'MaxConcurrency';
      message = concMessage(q.name, q.policy?.maxConcurrency ?? 0);
    } else if (short !== 0) {
      reason = 'Quota';
      message = explain.quotaBlocked(t.name, short, t.usage, req, t.quota);
    } else {
      ({ reason, message } = explainPool(pool, fit as Blocked, job.perPod, job.replicas, req, this.packed[this.feasible.indexOf(pool)] ?? 0));
    }
    // It holds its room in every pool it could use, not only where it preempts: otherwise a victim
    // can come back in another pool, which the next cycle preempts in turn, and so on.
    for (let i = 0; i < this.feasible.length; i++) {
      const p = this.feasible[i] as PoolRun;
      if (p === pool && fit === 'ok') p.admit(job.perPod, job.replicas);
      else p.hold(job.id, req, this.fits[i] === 'node');
    }
    if (fit !== 'ok') this.addDemand(pool, req);
    this.charge(t, q, req);
    const k = victims.length;
    this.wait(job, q, reason, `${message}; preempting ${k} lower-priority job${k === 1 ? '' : 's'}`);
    return 'victims';
  }

  /** What victims of the queue must free: job slots. */
  private queueNeed(q: QueueRun, max: number): Need {
    return { cpuMilli: NONE, memoryMb: NONE, gpu: NONE, jobs: q.count + 1 - max };
  }

  /** What victims of the tenant must free: how far past its quota it would be with the current job. */
  private tenantNeed(t: TenantRun): Need {
    return { cpuMilli: this.quotaOver(t, 'cpuMilli'), memoryMb: this.quotaOver(t, 'memoryMb'), gpu: this.quotaOver(t, 'gpu'), jobs: NONE };
  }

  /** How far past its quota the tenant would be with the current job, where the job asks for any. */
  private quotaOver(t: TenantRun, d: keyof Resources): number {
    const q = t.quota[d];
    return q === undefined || this.req[d] === 0 ? NONE : t.usage[d] + this.req[d] - q;
  }

  /** The same, counting the quota-blocked jobs ahead (for the ETA). */
  private quotaNeed(t: TenantRun, d: keyof Resources): number {
    const over = this.quotaOver(t, d);
    return over === NONE ? NONE : over + t.demand[d];
  }

  private addDemand(p: PoolRun, req: Resources): void {
    p.demand.cpuMilli += req.cpuMilli;
    p.demand.memoryMb += req.memoryMb;
    p.demand.gpu += req.gpu;
    p.demandJobs++;
  }

  /** Counts an admitted (or room-holding) job against its tenant and queue. */
  private charge(t: TenantRun, q: QueueRun, req: Resources): void {
    t.usage.cpuMilli += req.cpuMilli;
    t.usage.memoryMb += req.memoryMb;
    t.usage.gpu += req.gpu;
    t.fair.cpuMilli += req.cpuMilli;
    t.fair.memoryMb += req.memoryMb;
    t.fair.gpu += req.gpu;
    t.share = dominantShare(t.fair, this.total);
    q.count++;
    this.dirty = true;
  }

  private wait(job: QueuedJob, q: QueueRun, reason: WaitReason['reason'], message: string, etaMs?: number, neverFits = false): void {
    if (!this.explain) return;
    const position = ++q.waiting;
    if (neverFits) {
      this.waiting.push({ id: job.id, position, reason, message, neverFits: true });
      return;
    }
    // Every waiting job gets its own sentence, so its parts are shared strings: the cycle's cost per
    // waiting job is then an object and two string joins (see Cost in the module header).
    const text = message + (this.aheadText[position - 1] ??= `; ${explain.ahead(position - 1)}`);
    if (etaMs === undefined) {
      this.waiting.push({ id: job.id, position, reason, message: text });
      return;
    }
    const eta = Math.max(etaMs, this.now);
    const minutes = explain.minutesUntil(eta, this.now);
    let etaText = this.etaText.get(minutes);
    if (etaText === undefined) this.etaText.set(minutes, (etaText = `; ${explain.startsIn(eta, this.now)}`));
    this.waiting.push({ id: job.id, position, reason, message: text + etaText, etaMs: eta });
  }
}

/** explain.poolBlocked, cached per pool state and pod shape (many waiting jobs share a shape). */
function explainPool(p: PoolRun, fit: Blocked, perPod: Resources, n: number, req: Resources, packed: number): { reason: WaitReason['reason']; message: string } {
  const key = shapeKey(perPod);
  const hit = p.explained.get(key);
  if (hit !== undefined && hit.version === p.stateVersion && hit.n === n && hit.fit === fit) return hit;
  const e = explain.poolBlocked(p, fit, perPod, n, req, packed);
  if (hit === undefined) {
    p.explained.set(key, { version: p.stateVersion, n, fit, reason: e.reason, message: e.message });
  } else {
    hit.version = p.stateVersion;
    hit.n = n;
    hit.fit = fit;
    hit.reason = e.reason;
    hit.message = e.message;
  }
  return e;
}

function concMessage(queue: string, max: number): string {
  return `queue ${queue} is at its limit of ${max} running job${max === 1 ? '' : 's'}`;
}

/** Pool preference among pools that fit (see the header). */
function better(a: PoolRun, b: PoolRun, gpuJob: boolean): boolean {
  if (gpuJob) {
    const ga = a.free.gpu - a.held.gpu;
    const gb = b.free.gpu - b.held.gpu;
    if (ga !== gb) return ga < gb;
  } else if (a.hasGpu !== b.hasGpu) {
    return !a.hasGpu;
  }
  const ca = a.free.cpuMilli - a.held.cpuMilli;
  const cb = b.free.cpuMilli - b.held.cpuMilli;
  if (ca !== cb) return ca < cb;
  const ma = a.free.memoryMb - a.held.memoryMb;
  const mb = b.free.memoryMb - b.held.memoryMb;
  if (ma !== mb) return ma < mb;
  return a.name < b.name;
}

/** What victims in the pool must free for the job: past the held room, and under the caps. */
function poolNeed(p: PoolRun, req: Resources): Need {
  const s = p.state;
  const capGpu = s.maxGpus !== undefined && req.gpu > 0 ? p.usedGpu + p.heldCapGpu + req.gpu - s.maxGpus : NONE;
  return {
    cpuMilli: req.cpuMilli - (p.free.cpuMilli - p.held.cpuMilli),
    memoryMb: req.memoryMb - (p.free.memoryMb - p.held.memoryMb),
    gpu: Math.max(req.gpu - (p.free.gpu - p.held.gpu), capGpu),
    jobs: s.maxJobs !== undefined ? p.jobs + p.heldJobs + 1 - s.maxJobs : NONE,
  };
}

/** For pods that did not pack: the room of the pods left over (aggregate approximation). */
function nodeNeed(job: QueuedJob, packed: number): Need {
  const left = job.replicas - packed;
  return { cpuMilli: job.perPod.cpuMilli * left, memoryMb: job.perPod.memoryMb * left, gpu: job.perPod.gpu * left, jobs: NONE };
}

/** Highest priority first, by bucketing (admitted jobs have few distinct priorities). */
function sortByPriority(list: AdmittedJob[]): AdmittedJob[] {
  const buckets = new Map<number, AdmittedJob[]>();
  for (const j of list) {
    const b = buckets.get(j.priority);
    if (b === undefined) buckets.set(j.priority, [j]);
    else b.push(j);
  }
  const out: AdmittedJob[] = [];
  for (const p of [...buckets.keys()].sort((a, b) => b - a)) for (const j of buckets.get(p) as AdmittedJob[]) out.push(j);
  return out;
}
