/**
 * `npm run bench:scheduler`: the scheduling cycle on a simulated cluster, run to completion.
 *
 * 100,000 queued jobs of 1,000 tenants (skewed: a few tenants submit most jobs; most have quotas) in
 * 10 queues (priorities 0..100, pool restrictions, maxConcurrency, two PreemptLowerPriority queues),
 * on 4 pools of 250 nodes (cpu, highmem, gpu-a100 with 8 GPUs per node, gpu-t4 with 4). CPU jobs of
 * 0.5-8 cores and GPU jobs of 1-8 GPUs per pod, some gangs of 2-4 pods, 2-45 minutes each (85% with
 * a known expected end), 2% in retry backoff.
 *
 * The loop plays the controller: run schedule(snapshot, { explain: false }) (admissions and
 * preemptions only; the cycle stops once nothing more can happen); start the admitted jobs (their
 * pods packed first-fit onto the nodes: an admission whose pods do not fit is a scheduler bug and
 * aborts); delete the preempted ones and queue them again (then cycle again at once); otherwise
 * advance the virtual clock to the next expected end or backoff expiry (at least BENCH_TICK_S) and
 * remove the jobs that ended. Until the queue is empty.
 *
 * Prints one JSON line: queued, admissions_per_s (admissions over the wall time of the whole run,
 * controller work included), cycle_p99_ms (one schedule() call), heap_bytes_per_job (heap after
 * building the 100k queued jobs minus before, per job, after forced GCs), cycles; plus details:
 * `explain_cycle_ms`, one full cycle on the 100k-job snapshot that explains every waiting job
 * (position, reason, ETA: what the controller runs now and then for the views), median of 3, and
 * `decisions_bytes_per_job`, the heap its Decisions retain per job; `baseline_sort_ms`, a plain sort
 * of the same 100k jobs by (priority, queuedAt) measured in the same run, the floor any priority order
 * costs; `cpu_busy`, how busy the machine's CPUs were during the run (other processes included).
 *
 * A discarded warm-up runs the first BENCH_WARMUP_CYCLES cycles of the same workload first (JIT).
 *
 * Environment: BENCH_QUEUED (100000), BENCH_TENANTS (1000), BENCH_NODES (250 per pool), BENCH_TICK_S
 * (0: purely event-driven, virtual), BENCH_SEED (1), BENCH_WARMUP_CYCLES (40); BENCH_TRACE=1 logs
 * every cycle to stderr.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { QueueIndex, explainNeverFits, schedule } from '../src/scheduler/index.js';
import type { AdmittedJob, PoolState, QueuePolicy, QueuedJob, Snapshot } from '../src/scheduler/types.js';
import type { Resources, TenantQuota } from '../src/core/quota.js';
import { podsIn } from '../src/scheduler/resources.js';
import { MinHeap } from '../src/cluster/sim/util.js';

const QUEUED = Number(process.env.BENCH_QUEUED ?? 100_000);
const TENANTS = Number(process.env.BENCH_TENANTS ?? 1000);
const NODES = Number(process.env.BENCH_NODES ?? 250);
const TICK_MS = Number(process.env.BENCH_TICK_S ?? 0) * 1000;
const SEED = Number(process.env.BENCH_SEED ?? 1);
const WARMUP_CYCLES = Number(process.env.BENCH_WARMUP_CYCLES ?? 40);
const TRACE = process.env.BENCH_TRACE === '1';
const MIN = 60_000;
const GI = 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:scheduler does)');

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(SEED);
function pick<T>(items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let x = rand() * total;
  for (const [v, w] of items) if ((x -= w) < 0) return v;
  return (items[items.length - 1] as readonly [T, number])[0];
}
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

// ------------------------------------------------------------------ the cluster and its policies

const NODE_SHAPES: Record<string, Resources> = {
  cpu: { cpuMilli: 32_000, memoryMb: 128 * GI, gpu: 0 },
  highmem: { cpuMilli: 64_000, memoryMb: 512 * GI, gpu: 0 },
  'gpu-a100': { cpuMilli: 96_000, memoryMb: 1024 * GI, gpu: 8 },
  'gpu-t4': { cpuMilli: 48_000, memoryMb: 192 * GI, gpu: 4 },
};
const NODE_SHAPES_COUNT = Object.keys(NODE_SHAPES).length;

/** The pools with every node empty (each simulation gets its own nodes). */
function emptyPools(): PoolState[] {
  return Object.entries(NODE_SHAPES).map(([name, n]) => ({
    name,
    allocatable: { cpuMilli: n.cpuMilli * NODES, memoryMb: n.memoryMb * NODES, gpu: n.gpu * NODES },
    largestNode: { ...n },
    nodesFree: Array.from({ length: NODES }, () => ({ ...n })),
  }));
}

const queueList: QueuePolicy[] = [
  { name: 'batch', admission: 'queued', priority: 0, preemptionPolicy: 'Never', pools: [] },
  { name: 'batch-cpu', admission: 'queued', priority: 0, preemptionPolicy: 'Never', pools: ['cpu', 'highmem'] },
  { name: 'etl', admission: 'queued', priority: 10, preemptionPolicy: 'Never', pools: ['cpu', 'highmem'], maxConcurrency: 4000 },
  { name: 'analytics', admission: 'queued', priority: 10, preemptionPolicy: 'Never', pools: ['cpu', 'highmem'] },
  { name: 'research', admission: 'queued', priority: 20, preemptionPolicy: 'Never', pools: ['gpu-a100', 'gpu-t4'], maxConcurrency: 1500 },
  { name: 'training', admission: 'queued', priority: 20, preemptionPolicy: 'Never', pools: ['gpu-a100'] },
  { name: 'inference', admission: 'queued', priority: 30, preemptionPolicy: 'Never', pools: ['gpu-t4'] },
  { name: 'eval', admission: 'queued', priority: 30, preemptionPolicy: 'Never', pools: [] },
  { name: 'prod', admission: 'queued', priority: 50, preemptionPolicy: 'PreemptLowerPriority', pools: [] },
  { name: 'urgent', admission: 'queued', priority: 100, preemptionPolicy: 'PreemptLowerPriority', pools: [], maxConcurrency: 300 },
];
const queues = Object.fromEntries(queueList.map((q) => [q.name, q]));
const CPU_QUEUES = [['batch', 15], ['batch-cpu', 25], ['etl', 20], ['analytics', 20], ['eval', 10], ['prod', 8], ['urgent', 2]] as const;
const GPU_QUEUES = [['batch', 10], ['research', 30], ['training', 25], ['inference', 20], ['eval', 7], ['prod', 6], ['urgent', 2]] as const;

const tenants = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i).padStart(4, '0')}`);
const quotas: Record<string, TenantQuota> = {};
for (const t of tenants) {
  if (rand() < 0.8) quotas[t] = { gpu: int(16, 96), cpuMilli: int(200, 1600) * 1000 };
}

// Per job, what the bench needs later (kept out of the measured heap: typed arrays built first).
const durationMs = new Float64Array(QUEUED);
const endKnown = new Uint8Array(QUEUED);
for (let i = 0; i < QUEUED; i++) {
  durationMs[i] = int(2, 45) * MIN;
  endKnown[i] = rand() < 0.85 ? 1 : 0;
}
const idOf = (i: number): string => `job-${i.toString(36).padStart(4, '0')}`;
const indexOf = (id: string): number => parseInt(id.slice(4), 36);

function buildQueued(): QueuedJob[] {
  const jobs: QueuedJob[] = [];
  // The submit path refuses jobs that can never fit (over quota, bigger than any allowed pool).
  const policies: Snapshot = { now: 0, pools: emptyPools(), queues, quotas, defaultQuota: {}, admitted: [], queued: [] };
  for (let i = 0; i < QUEUED; i++) {
    let job = makeJob(i);
    while (explainNeverFits(job, policies) !== undefined) job = makeJob(i);
    jobs.push(job);
  }
  return jobs; // already FIFO: queuedAt grows with i, and so do the ids
}

function makeJob(i: number): QueuedJob {
  {
    const tenant = tenants[Math.floor(TENANTS * rand() ** 1.5)] as string;
    const gpuJob = rand() < 0.2;
    let perPod: Resources;
    let replicas = 1;
    let queue: string;
    if (gpuJob) {
      const g = pick([[1, 40], [2, 30], [4, 20], [8, 10]] as const);
      perPod = { cpuMilli: g * int(4, 10) * 1000, memoryMb: g * int(16, 48) * GI, gpu: g };
      if (rand() < 0.15) replicas = int(2, 4);
      queue = pick(GPU_QUEUES);
    } else {
      const cores = pick([[0.5, 20], [1, 30], [2, 25], [4, 15], [8, 10]] as const);
      perPod = { cpuMilli: cores * 1000, memoryMb: Math.round(cores * pick([[2, 1], [4, 2], [8, 1]] as const) * GI), gpu: 0 };
      if (rand() < 0.08) replicas = int(2, 4);
      queue = pick(CPU_QUEUES);
    }
    const job: QueuedJob = {
      id: idOf(i),
      tenant,
      queue,
      priority: rand() < 0.85 ? 0 : int(1, 5),
      perPod,
      replicas,
      queuedAt: Math.floor((i / QUEUED) * 10 * MIN),
    };
    if (rand() < 0.02) job.notBefore = int(1, 10) * MIN;
    return job;
  }
}

// ------------------------------------------------------------------ the controller's side

/** A queued job's effective priority (what a preempted job's AdmittedJob carries). */
const priorityOf = (job: QueuedJob): number => (queues[job.queue] as QueuePolicy).priority + job.priority;

interface RunningJob {
  job: AdmittedJob;
  queued: QueuedJob;
  endsAt: number;
  placement: number[]; // node index, pods, node index, pods, ...
  /** Still running (a preempted job stays in the end heap until its end comes up). */
  live: boolean;
}

interface RunStats {
  admissions: number;
  preemptions: number;
  cycleMs: number[];
  scheduleMs: number;
  runMs: number;
  virtualMs: number;
}

/** The simulated cluster and the controller loop around schedule(). */
class Simulation {
  now = 0;
  readonly pools = emptyPools();
  private readonly nodes = new Map(this.pools.map((p) => [p.name, p.nodesFree]));
  private readonly running = new Map<string, RunningJob>();
  /** Running jobs by end time. */
  private readonly ends = new MinHeap<RunningJob>((a, b) => a.endsAt < b.endsAt);
  /** Backoff expiries, ascending (jobs in backoff cannot be admitted before, so each is a queued job's). */
  private readonly backoffs: number[];
  private nextBackoff = 0;

  constructor(readonly queued: QueueIndex) {
    this.backoffs = [...queued.jobs()].flatMap((q) => (q.notBefore === undefined ? [] : [q.notBefore])).sort((a, b) => a - b);
  }

  snapshot(): Snapshot {
    const admitted: AdmittedJob[] = [];
    for (const r of this.running.values()) admitted.push(r.job);
    return { now: this.now, pools: this.pools, queues, quotas, defaultQuota: {}, admitted, queued: [], queuedPairs: this.queued.pairs() };
  }

  /** Runs cycles until the queue is empty (or maxCycles). */
  run(maxCycles = Infinity): RunStats {
    const stats: RunStats = { admissions: 0, preemptions: 0, cycleMs: [], scheduleMs: 0, runMs: 0, virtualMs: 0 };
    const start = performance.now();
    while (this.queued.size > 0 && stats.cycleMs.length < maxCycles) {
      const snap = this.snapshot();
      const t0 = performance.now();
      const d = schedule(snap, { explain: false });
      const dt = performance.now() - t0;
      stats.cycleMs.push(dt);
      stats.scheduleMs += dt;
      if (TRACE) {
        console.error(JSON.stringify({ t: this.now / MIN, ms: round(dt), queued: this.queued.size, running: this.running.size, adm: d.admissions.length, pre: d.preemptions.length }));
      }
      this.apply(d.admissions, d.preemptions);
      stats.admissions += d.admissions.length;
      stats.preemptions += d.preemptions.length;
      // After preemptions the controller deletes the victims and runs the cycle again at once;
      // otherwise virtual time passes to the next expected end or backoff expiry (at least a tick).
      if (d.preemptions.length === 0 && this.queued.size > 0) this.advance();
    }
    stats.runMs = performance.now() - start;
    stats.virtualMs = this.now;
    return stats;
  }

  private apply(admissions: readonly { id: string; pool: string }[], preemptions: readonly { id: string }[]): void {
    // Pods are packed in admission order, as the scheduler packed them.
    for (const a of admissions) {
      const q = this.queued.get(a.id) as QueuedJob;
      this.queued.remove(q.id);
      const i = indexOf(q.id);
      const job: AdmittedJob = {
        id: q.id,
        tenant: q.tenant,
        queue: q.queue,
        pool: a.pool,
        priority: priorityOf(q),
        perPod: q.perPod,
        replicas: q.replicas,
        admittedAt: this.now,
      };
      if (endKnown[i] === 1) job.expectedEndAt = this.now + (durationMs[i] as number);
      const r: RunningJob = { job, queued: q, endsAt: this.now + (durationMs[i] as number), placement: this.place(a.pool, q.perPod, q.replicas), live: true };
      this.running.set(q.id, r);
      this.ends.push(r);
    }
    for (const p of preemptions) {
      const r = this.running.get(p.id) as RunningJob;
      this.stop(r);
      this.queued.add(r.queued); // back to the queue, reason Preempted, same queuedAt
    }
  }

  private advance(): void {
    while (this.ends.size > 0 && !(this.ends.peek() as RunningJob).live) this.ends.pop();
    while (this.nextBackoff < this.backoffs.length && (this.backoffs[this.nextBackoff] as number) <= this.now) this.nextBackoff++;
    const next = Math.min(this.ends.peek()?.endsAt ?? Infinity, this.backoffs[this.nextBackoff] ?? Infinity);
    if (!Number.isFinite(next)) throw new Error(`stuck: ${this.queued.size} jobs can never be admitted`);
    this.now = Math.max(this.now + TICK_MS, next);
    while (this.ends.size > 0 && (this.ends.peek() as RunningJob).endsAt <= this.now) {
      const r = this.ends.pop() as RunningJob;
      if (r.live) this.stop(r);
    }
  }

  /** First-fit of the admitted pods, as the scheduler packed them; a pod that does not fit is a bug. */
  private place(pool: string, perPod: Resources, replicas: number): number[] {
    const list = this.nodes.get(pool) as Resources[];
    const plan: number[] = [];
    let left = replicas;
    for (let i = 0; i < list.length && left > 0; i++) {
      const n = list[i] as Resources;
      const k = Math.min(left, podsIn(n.cpuMilli, n.memoryMb, n.gpu, perPod));
      if (k === 0) continue;
      n.cpuMilli -= k * perPod.cpuMilli;
      n.memoryMb -= k * perPod.memoryMb;
      n.gpu -= k * perPod.gpu;
      plan.push(i, k);
      left -= k;
    }
    if (left > 0) throw new Error(`scheduler bug: admitted pods do not fit pool ${pool}`);
    return plan;
  }

  private stop(r: RunningJob): void {
    r.live = false;
    this.running.delete(r.job.id);
    const list = this.nodes.get(r.job.pool) as Resources[];
    const p = r.job.perPod;
    for (let i = 0; i < r.placement.length; i += 2) {
      const n = list[r.placement[i] as number] as Resources;
      const k = r.placement[i + 1] as number;
      n.cpuMilli += k * p.cpuMilli;
      n.memoryMb += k * p.memoryMb;
      n.gpu += k * p.gpu;
    }
  }
}

/** Busy and total CPU ticks of the whole machine (Linux), to show a run on a loaded machine as one. */
function cpuTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

// ------------------------------------------------------------------ measure

function indexOfJobs(list: readonly QueuedJob[]): QueueIndex {
  const index = new QueueIndex();
  for (const job of list) index.add(job);
  return index;
}

gc();
gc();
const heapBefore = process.memoryUsage().heapUsed;
const jobs = buildQueued();
const index = indexOfJobs(jobs);
gc();
gc();
const heapAfter = process.memoryUsage().heapUsed;

// Warm-up (discarded): the first cycles of the same workload, so that the measured run does not
// time the JIT compiling the scheduler.
new Simulation(indexOfJobs(jobs)).run(WARMUP_CYCLES);

// Baseline: a plain priority + FIFO sort of the same jobs (median of 5).
const sorts: number[] = [];
for (let k = 0; k < 5; k++) {
  const t0 = performance.now();
  [...jobs].sort((a, b) => b.priority - a.priority || a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : 1));
  sorts.push(performance.now() - t0);
}
sorts.sort((a, b) => a - b);

// A full, explaining cycle on the 100k-job snapshot: its time and what its Decisions retain.
const sim = new Simulation(index);
gc();
const decisionsBefore = process.memoryUsage().heapUsed;
const explained = [schedule(sim.snapshot())];
gc();
const decisionsBytes = process.memoryUsage().heapUsed - decisionsBefore;
explained.pop();
const explainMs: number[] = [];
for (let k = 0; k < 3; k++) {
  const t0 = performance.now();
  schedule(sim.snapshot());
  explainMs.push(performance.now() - t0);
}
explainMs.sort((a, b) => a - b);

const busyBefore = cpuTicks();
const stats = sim.run();
const busyAfter = cpuTicks();
if (stats.admissions - stats.preemptions !== QUEUED) throw new Error(`${stats.admissions} admissions and ${stats.preemptions} preemptions for ${QUEUED} jobs`);

const cycleMs = [...stats.cycleMs].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    bench: 'scheduler',
    queued: QUEUED,
    admissions_per_s: Math.round(stats.admissions / (stats.runMs / 1000)),
    cycle_p99_ms: round(percentile(cycleMs, 99)),
    heap_bytes_per_job: Math.round((heapAfter - heapBefore) / QUEUED),
    cycles: cycleMs.length,
    admissions: stats.admissions,
    preemptions: stats.preemptions,
    cycle_p50_ms: round(percentile(cycleMs, 50)),
    cycle_max_ms: round(cycleMs[cycleMs.length - 1] ?? 0),
    run_s: round(stats.runMs / 1000),
    schedule_share: round(stats.scheduleMs / stats.runMs),
    virtual_min: Math.round(stats.virtualMs / MIN),
    explain_cycle_ms: round(explainMs[1] ?? 0),
    decisions_bytes_per_job: Math.round(decisionsBytes / QUEUED),
    baseline_sort_ms: round(sorts[2] ?? 0),
    cpu_busy: busyBefore && busyAfter ? round((busyAfter.busy - busyBefore.busy) / Math.max(1, busyAfter.total - busyBefore.total)) : null,
    tenants: TENANTS,
    pools: NODE_SHAPES_COUNT,
    nodes: NODE_SHAPES_COUNT * NODES,
    node: process.version,
  }),
);
