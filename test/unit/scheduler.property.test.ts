/**
 * Properties of the scheduling cycle over random clusters and workloads:
 * - every cycle: admissions never exceed a tenant quota, a pool's allocatable, node space (the
 *   admitted pods pack onto the nodes), maxJobs/maxGpus or a queue's maxConcurrency; every queued job
 *   is in exactly one of admissions / waiting; victims have strictly lower priority than their
 *   preemptor, which is in a PreemptLowerPriority queue and not admitted; positions run 1..k per
 *   queue; the same snapshot gives the same decisions, and so does the cycle without explanations
 *   (explain: false, which stops as soon as nothing more can happen), with or without maxAdmissions;
 * - over many cycles with random completions and random event orders (the test plays the controller:
 *   it applies admissions and preemptions, preempted jobs go back to the queue), every job that can
 *   ever fit completes exactly once and the others end waiting with neverFits: nothing is lost or
 *   duplicated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Resources, TenantQuota } from '../../src/core/quota.js';
import { QueueIndex, explainNeverFits, pairsOf, schedule } from '../../src/scheduler/index.js';
import type { AdmittedJob, Decisions, PoolState, QueuePolicy, QueuedJob, Snapshot } from '../../src/scheduler/types.js';
import { podsIn } from '../../src/scheduler/resources.js';
import { MIN } from './scheduler-fixtures.js';

// ------------------------------------------------------------------ generators

interface PoolSpec {
  name: string;
  nodes: number;
  node: Resources;
  maxJobs?: number;
  maxGpus?: number;
}

interface JobSpec {
  id: string;
  tenant: string;
  queue: string;
  priority: number;
  perPod: Resources;
  replicas: number;
  queuedAt: number;
  notBefore?: number;
  durationMs: number;
  endKnown: boolean;
}

interface World {
  pools: PoolSpec[];
  queues: Record<string, QueuePolicy>;
  quotas: Record<string, TenantQuota>;
  defaultQuota: TenantQuota;
  jobs: JobSpec[];
}

const TENANTS = ['t0', 't1', 't2', 't3'];
const QUEUES = ['q0', 'q1', 'q2'];

const poolArb = fc.record({
  nodes: fc.integer({ min: 1, max: 4 }),
  cores: fc.integer({ min: 2, max: 16 }),
  memGi: fc.integer({ min: 4, max: 32 }),
  gpu: fc.constantFrom(0, 4, 8),
  maxJobs: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  maxGpus: fc.option(fc.integer({ min: 2, max: 24 }), { nil: undefined }),
});

const quotaArb: fc.Arbitrary<TenantQuota> = fc.record(
  {
    gpu: fc.integer({ min: 2, max: 16 }),
    cpuMilli: fc.integer({ min: 4, max: 48 }).map((c) => c * 1000),
    memoryMb: fc.integer({ min: 8, max: 96 }).map((g) => g * 1024),
  },
  { requiredKeys: [] },
);

const jobArb = fc.record({
  tenant: fc.constantFrom(...TENANTS),
  queue: fc.constantFrom(...QUEUES),
  priority: fc.integer({ min: 0, max: 3 }),
  cpuMilli: fc.integer({ min: 1, max: 8 }).map((x) => x * 500),
  memoryMb: fc.integer({ min: 1, max: 16 }).map((x) => x * 256),
  gpu: fc.constantFrom(0, 0, 0, 1, 2, 4),
  replicas: fc.integer({ min: 1, max: 3 }),
  queuedAt: fc.integer({ min: 0, max: 1000 }),
  backoffMin: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
  durationMin: fc.integer({ min: 1, max: 20 }),
  endKnown: fc.boolean(),
});

const worldArb: fc.Arbitrary<World> = fc
  .record({
    pools: fc.array(poolArb, { minLength: 1, maxLength: 3 }),
    queues: fc.array(
      fc.record({
        priority: fc.integer({ min: 0, max: 3 }),
        maxConcurrency: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        preempt: fc.boolean(),
        pools: fc.subarray(['p0', 'p1', 'p2'], { maxLength: 2 }),
      }),
      { minLength: QUEUES.length, maxLength: QUEUES.length },
    ),
    quotas: fc.array(fc.option(quotaArb, { nil: undefined }), { minLength: TENANTS.length, maxLength: TENANTS.length }),
    defaultQuota: fc.option(quotaArb, { nil: undefined }),
    jobs: fc.array(jobArb, { minLength: 1, maxLength: 50, size: 'large' }),
  })
  .map((w) => ({
    pools: w.pools.map((p, i) => ({
      name: `p${i}`,
      nodes: p.nodes,
      // The first pool always has GPUs, so that most GPU jobs can run somewhere.
      node: { cpuMilli: p.cores * 1000, memoryMb: p.memGi * 1024, gpu: i === 0 ? Math.max(p.gpu, 4) : p.gpu },
      maxJobs: p.maxJobs,
      maxGpus: p.maxGpus,
    })),
    queues: Object.fromEntries(
      w.queues.map((q, i) => {
        const name = QUEUES[i] as string;
        const policy: QueuePolicy = {
          name,
          admission: 'queued',
          priority: q.priority,
          preemptionPolicy: q.preempt ? 'PreemptLowerPriority' : 'Never',
          pools: q.pools.filter((name) => Number(name.slice(1)) < w.pools.length),
          ...(q.maxConcurrency === undefined ? {} : { maxConcurrency: q.maxConcurrency }),
        };
        return [name, policy];
      }),
    ),
    quotas: Object.fromEntries(TENANTS.flatMap((t, i) => (w.quotas[i] === undefined ? [] : [[t, w.quotas[i] as TenantQuota]]))),
    defaultQuota: w.defaultQuota ?? {},
    jobs: w.jobs.map((j, i) => ({
      id: `j${String(i).padStart(2, '0')}`,
      tenant: j.tenant,
      queue: j.queue,
      priority: j.priority,
      perPod: { cpuMilli: j.cpuMilli, memoryMb: j.memoryMb, gpu: j.gpu },
      replicas: j.replicas,
      queuedAt: j.queuedAt,
      ...(j.backoffMin === undefined ? {} : { notBefore: j.backoffMin * MIN }),
      durationMs: j.durationMin * MIN,
      endKnown: j.endKnown,
    })),
  }));

// ------------------------------------------------------------------ the test's cluster (plays the controller)

interface Run {
  job: AdmittedJob;
  spec: JobSpec;
  placement: Array<[node: number, pods: number]>;
}

/** First-fit of n identical pods onto the nodes (mutates them); undefined, untouched, if they do not fit. */
function pack(nodes: Resources[], perPod: Resources, n: number): Array<[number, number]> | undefined {
  const plan: Array<[number, number]> = [];
  let left = n;
  for (let i = 0; i < nodes.length && left > 0; i++) {
    const node = nodes[i] as Resources;
    const k = Math.min(left, podsIn(node.cpuMilli, node.memoryMb, node.gpu, perPod));
    if (k > 0) plan.push([i, k]);
    left -= k;
  }
  if (left > 0) return undefined;
  for (const [i, k] of plan) addTo(nodes[i] as Resources, perPod, -k);
  return plan;
}

function addTo(acc: Resources, r: Resources, n: number): void {
  acc.cpuMilli += r.cpuMilli * n;
  acc.memoryMb += r.memoryMb * n;
  acc.gpu += r.gpu * n;
}

class Cluster {
  now = 0;
  readonly nodes = new Map<string, Resources[]>();
  readonly running = new Map<string, Run>();
  readonly queued = new Map<string, JobSpec>();
  readonly admittedTimes = new Map<string, number>();
  readonly completed: string[] = [];
  preemptions = 0;
  private seq = 0;

  constructor(readonly world: World) {
    for (const p of world.pools) this.nodes.set(p.name, Array.from({ length: p.nodes }, () => ({ ...p.node })));
  }

  snapshot(): Snapshot {
    const pools: PoolState[] = this.world.pools.map((p) => ({
      name: p.name,
      allocatable: { cpuMilli: p.node.cpuMilli * p.nodes, memoryMb: p.node.memoryMb * p.nodes, gpu: p.node.gpu * p.nodes },
      largestNode: { ...p.node },
      nodesFree: (this.nodes.get(p.name) as Resources[]).map((n) => ({ ...n })),
      ...(p.maxJobs === undefined ? {} : { maxJobs: p.maxJobs }),
      ...(p.maxGpus === undefined ? {} : { maxGpus: p.maxGpus }),
    }));
    const queued: QueuedJob[] = [...this.queued.values()].map((j) => ({
      id: j.id,
      tenant: j.tenant,
      queue: j.queue,
      priority: j.priority,
      perPod: j.perPod,
      replicas: j.replicas,
      queuedAt: j.queuedAt,
      ...(j.notBefore === undefined ? {} : { notBefore: j.notBefore }),
    }));
    return {
      now: this.now,
      pools,
      queues: this.world.queues,
      quotas: this.world.quotas,
      defaultQuota: this.world.defaultQuota,
      admitted: [...this.running.values()].map((r) => r.job),
      queued,
    };
  }

  /** Starts a job on the cluster (pods packed first-fit); false when its pods do not fit the nodes. */
  start(spec: JobSpec, pool: string): boolean {
    const plan = pack(this.nodes.get(pool) as Resources[], spec.perPod, spec.replicas);
    if (plan === undefined) return false;
    const job: AdmittedJob = {
      id: spec.id,
      tenant: spec.tenant,
      queue: spec.queue,
      pool,
      priority: (this.world.queues[spec.queue]?.priority ?? 0) + spec.priority,
      perPod: spec.perPod,
      replicas: spec.replicas,
      admittedAt: this.now * 1000 + this.seq++,
      ...(spec.endKnown ? { expectedEndAt: this.now + spec.durationMs } : {}),
    };
    this.running.set(spec.id, { job, spec, placement: plan });
    this.admittedTimes.set(spec.id, this.now);
    return true;
  }

  private stop(id: string): Run {
    const run = this.running.get(id) as Run;
    const nodes = this.nodes.get(run.job.pool) as Resources[];
    for (const [i, k] of run.placement) addTo(nodes[i] as Resources, run.spec.perPod, k);
    this.running.delete(id);
    return run;
  }

  complete(id: string): void {
    this.stop(id);
    this.completed.push(id);
  }

  /** Every job whose (real) run time is over. */
  completeDue(): void {
    for (const [id, run] of [...this.running]) {
      if ((this.admittedTimes.get(id) as number) + run.spec.durationMs <= this.now) this.complete(id);
    }
  }

  /** The earliest moment something changes by itself: a job ends or a backoff expires. */
  nextEvent(): number | undefined {
    let t = Infinity;
    for (const [id, run] of this.running) t = Math.min(t, (this.admittedTimes.get(id) as number) + run.spec.durationMs);
    for (const j of this.queued.values()) if (j.notBefore !== undefined && j.notBefore > this.now) t = Math.min(t, j.notBefore);
    return Number.isFinite(t) ? t : undefined;
  }

  /** One cycle, checked, then applied as the controller would. */
  cycle(thorough = false): Decisions {
    const snap = this.snapshot();
    const d = schedule(snap);
    checkInvariants(snap, d, thorough);
    for (const a of d.admissions) {
      const spec = this.queued.get(a.id) as JobSpec;
      // The admitted pods must pack onto the real nodes, in admission order.
      expect(this.start(spec, a.pool), `pods of ${a.id} pack onto pool ${a.pool}`).toBe(true);
      this.queued.delete(a.id);
    }
    for (const p of d.preemptions) {
      const run = this.stop(p.id);
      this.queued.set(p.id, run.spec); // back to the queue (reason Preempted), same queuedAt
      this.preemptions++;
    }
    return d;
  }
}

// ------------------------------------------------------------------ invariants of one cycle

function total(r: { perPod: Resources; replicas: number }): Resources {
  return { cpuMilli: r.perPod.cpuMilli * r.replicas, memoryMb: r.perPod.memoryMb * r.replicas, gpu: r.perPod.gpu * r.replicas };
}

function sumBy<T>(items: readonly T[], key: (t: T) => string, value: (t: T) => Resources): Map<string, Resources & { jobs: number }> {
  const out = new Map<string, Resources & { jobs: number }>();
  for (const it of items) {
    const k = key(it);
    const acc = out.get(k) ?? { cpuMilli: 0, memoryMb: 0, gpu: 0, jobs: 0 };
    addTo(acc, value(it), 1);
    acc.jobs++;
    out.set(k, acc);
  }
  return out;
}

const DIMS = ['cpuMilli', 'memoryMb', 'gpu'] as const;

function checkInvariants(snap: Snapshot, d: Decisions, thorough = false): void {
  const queuedById = new Map(snap.queued.map((j) => [j.id, j]));
  const admittedById = new Map(snap.admitted.map((j) => [j.id, j]));

  // Every queued job exactly once in admissions / waiting, and nothing else there.
  const seen = [...d.admissions.map((a) => a.id), ...d.waiting.map((w) => w.id)];
  expect([...seen].sort()).toEqual([...queuedById.keys()].sort());

  const admitted = d.admissions.map((a) => ({ ...(queuedById.get(a.id) as QueuedJob), pool: a.pool }));
  for (const a of admitted) {
    expect(a.notBefore === undefined || a.notBefore <= snap.now).toBe(true);
    const policy = snap.queues[a.queue] as QueuePolicy;
    expect(policy.pools.length === 0 || policy.pools.includes(a.pool)).toBe(true);
  }

  // Quotas: a dimension the admissions add to stays within the quota.
  const before = sumBy(snap.admitted, (j) => j.tenant, total);
  const added = sumBy(admitted, (j) => j.tenant, total);
  for (const [tenant, add] of added) {
    const quota = Object.hasOwn(snap.quotas, tenant) ? (snap.quotas[tenant] as TenantQuota) : snap.defaultQuota;
    for (const dim of DIMS) {
      const q = quota[dim];
      if (q !== undefined && add[dim] > 0) expect((before.get(tenant)?.[dim] ?? 0) + add[dim]).toBeLessThanOrEqual(q);
    }
  }

  // Pools: allocatable, caps; node packing is checked when the cluster applies the admissions.
  const poolBefore = sumBy(snap.admitted, (j) => j.pool, total);
  const poolAdded = sumBy(admitted, (j) => j.pool, total);
  for (const [name, add] of poolAdded) {
    const p = snap.pools.find((x) => x.name === name) as PoolState;
    const b = poolBefore.get(name) ?? { cpuMilli: 0, memoryMb: 0, gpu: 0, jobs: 0 };
    for (const dim of DIMS) expect(b[dim] + add[dim]).toBeLessThanOrEqual(p.allocatable[dim]);
    if (p.maxJobs !== undefined) expect(b.jobs + add.jobs).toBeLessThanOrEqual(p.maxJobs);
    if (p.maxGpus !== undefined && add.gpu > 0) expect(b.gpu + add.gpu).toBeLessThanOrEqual(p.maxGpus);
  }

  // Queues: maxConcurrency.
  const queueBefore = sumBy(snap.admitted, (j) => j.queue, total);
  for (const [name, add] of sumBy(admitted, (j) => j.queue, total)) {
    const max = snap.queues[name]?.maxConcurrency;
    if (max !== undefined) expect((queueBefore.get(name)?.jobs ?? 0) + add.jobs).toBeLessThanOrEqual(max);
  }

  // Preemptions: admitted victims, each once, strictly lower priority, by a waiting preemptor allowed to.
  expect(new Set(d.preemptions.map((p) => p.id)).size).toBe(d.preemptions.length);
  const waitingIds = new Set(d.waiting.map((w) => w.id));
  for (const p of d.preemptions) {
    const victim = admittedById.get(p.id) as AdmittedJob;
    const preemptor = queuedById.get(p.for) as QueuedJob;
    expect(victim).toBeDefined();
    expect(waitingIds.has(p.for)).toBe(true);
    const policy = snap.queues[preemptor.queue] as QueuePolicy;
    expect(policy.preemptionPolicy).toBe('PreemptLowerPriority');
    expect(victim.priority).toBeLessThan(policy.priority + preemptor.priority);
  }

  // Positions 1..k per queue, in order; neverFits agrees with explainNeverFits.
  const next = new Map<string, number>();
  for (const w of d.waiting) {
    const q = (queuedById.get(w.id) as QueuedJob).queue;
    const pos = (next.get(q) ?? 0) + 1;
    next.set(q, pos);
    expect(w.position).toBe(pos);
    expect(w.neverFits === true).toBe(explainNeverFits(queuedById.get(w.id) as QueuedJob, snap) !== undefined);
    expect(w.message.length).toBeGreaterThan(0);
  }

  // Without explanations the cycle may stop early, but it must decide exactly the same.
  expect(schedule(snap, { explain: false })).toEqual({ admissions: d.admissions, preemptions: d.preemptions, waiting: [] });
  // So must it from a caller's QueueIndex (built in another order, with jobs removed on the way)...
  const indexed = { ...snap, queued: [], queuedPairs: indexOf(snap.queued).pairs() };
  expect(schedule(indexed)).toEqual(d);
  expect(schedule(indexed, { explain: false })).toEqual({ admissions: d.admissions, preemptions: d.preemptions, waiting: [] });
  // ...and from pairs whose bounds are as loose as they can be (zero): a bound that is too small may
  // only keep the cycle from stopping early, never change a decision.
  const loose = { ...snap, queued: [], queuedPairs: pairsOf(snap.queued).map((p) => ({ ...p, minPod: NO_RESOURCES, minReq: NO_RESOURCES })) };
  expect(schedule(loose, { explain: false })).toEqual({ admissions: d.admissions, preemptions: d.preemptions, waiting: [] });
  if (thorough) {
    expect(schedule(snap)).toEqual(d);
    const limited = schedule(snap, { maxAdmissions: 2 });
    expect(schedule(snap, { maxAdmissions: 2, explain: false })).toEqual({ admissions: limited.admissions, preemptions: limited.preemptions, waiting: [] });
  }
}

/**
 * The jobs in a QueueIndex as a controller keeps one: in reverse order, with smaller copies of some
 * of them (other ids) added and removed on the way (the index tightens the bounds they loosened).
 */
const NO_RESOURCES: Resources = { cpuMilli: 0, memoryMb: 0, gpu: 0 };

function indexOf(queued: readonly QueuedJob[]): QueueIndex {
  const index = new QueueIndex();
  for (const job of [...queued].reverse()) {
    const ghost: QueuedJob = { ...job, id: `${job.id}~ghost`, perPod: { cpuMilli: 1, memoryMb: 1, gpu: 0 }, replicas: 1 };
    index.add(ghost);
    index.add(job);
    index.remove(ghost.id);
  }
  return index;
}

// ------------------------------------------------------------------ properties

describe('schedule (properties)', () => {
  it('never exceeds a quota, a pool, a node, a cap or a queue limit in a cycle; decisions are consistent', () => {
    fc.assert(
      fc.property(worldArb, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 60 }), (world, runningCount, nowMin) => {
        const c = new Cluster(world);
        // Start some jobs (whatever fits the nodes), then queue the rest.
        world.jobs.slice(0, runningCount).forEach((spec, i) => {
          if (!c.start(spec, (world.pools[i % world.pools.length] as PoolSpec).name)) c.queued.set(spec.id, spec);
        });
        for (const spec of world.jobs.slice(runningCount)) c.queued.set(spec.id, spec);
        c.now = nowMin * MIN;
        c.cycle(true);
      }),
      { numRuns: 400 },
    );
  });

  it('over many cycles, random completions and event orders: every job that can fit completes exactly once', () => {
    const step = fc.oneof(
      fc.constant({ kind: 'cycle' as const, pick: 0 }),
      fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
      fc.constant({ kind: 'advance' as const, pick: 0 }),
      fc.record({ kind: fc.constant('arrive' as const), pick: fc.integer({ min: 1, max: 8 }) }),
    );
    fc.assert(
      fc.property(worldArb, fc.array(step, { maxLength: 60 }), (world, steps) => {
        const c = new Cluster(world);
        const pending = [...world.jobs];
        const arrive = (n: number): void => {
          for (const spec of pending.splice(0, n)) c.queued.set(spec.id, { ...spec, queuedAt: c.now + spec.queuedAt / 1000 });
        };
        for (const s of steps) {
          if (s.kind === 'cycle') c.cycle();
          else if (s.kind === 'arrive') arrive(s.pick);
          else if (s.kind === 'advance') {
            c.now = c.nextEvent() ?? c.now;
            c.completeDue();
          } else if (c.running.size > 0) {
            // A job finishing early (or failing): the controller sees it gone.
            c.complete([...c.running.keys()][s.pick % c.running.size] as string);
          }
        }
        arrive(pending.length);
        // Drain: cycle, then let time pass to the next end or backoff expiry.
        for (let i = 0; i < 2000; i++) {
          const d = c.cycle();
          if (c.queued.size === 0 && c.running.size === 0) break;
          if (d.admissions.length > 0 || d.preemptions.length > 0) continue;
          const t = c.nextEvent();
          if (t === undefined) break; // nothing will change: what is queued can never fit
          c.now = Math.max(c.now, t);
          c.completeDue();
        }
        const last = schedule(c.snapshot());
        expect(c.running.size).toBe(0);
        // What is still queued is exactly what can never fit.
        expect(last.admissions).toEqual([]);
        expect(last.waiting.every((w) => w.neverFits === true)).toBe(true);
        const ids = [...c.completed, ...last.waiting.map((w) => w.id)].sort();
        expect(ids).toEqual(world.jobs.map((j) => j.id).sort());
      }),
      { numRuns: 300 },
    );
  }, 60_000);
});
