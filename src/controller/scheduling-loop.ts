/**
 * The scheduling loop: runs the pure cycle (src/scheduler) over a snapshot of the controller's caches
 * and applies its decisions. Leader only for decisions; any replica explains (positions and reasons are
 * a pure function of the caches, so followers serve them too).
 *
 * Driven by events: a job starts waiting or stops holding, a pod finishes or is bound, a node or a
 * policy changes, a retry backoff expires (a timer on the cluster's clock). Bursts coalesce into one
 * cycle (setImmediate). A cycle with nothing waiting is skipped, so direct-only workloads pay nothing.
 *
 * Applying an admission: the job's quota is taken in the ledger at once (so no submission or cycle in
 * between can use it), then its status is written PENDING with the attempt, pool and admission time
 * (the durable record of the decision, conditional on the version the cycle saw), then its attempt Job
 * is created. A crash after the status write is finished by the controller, which creates the Job of a
 * PENDING attempt that has none. Preemption: the victim's status becomes QUEUED / Preempted first
 * (conditional), then its Job is deleted; its quota is released by the status, its pods leave the
 * nodes when Kubernetes deletes them, and the cycle that follows sees the room.
 */
import type { AIJob, ClusterPort } from '../cluster/types.js';
import { isClusterError } from '../cluster/types.js';
import { attemptJobName } from '../core/ids.js';
import { LABEL_ATTEMPT, LABEL_JOB_ID, type K8sPod } from '../core/k8s.js';
import type { ComputeCluster, ResolvedQueue, ResolvedTenant } from '../core/policy.js';
import { resourcesOf, type QuotaLedger, type TenantQuota } from '../core/quota.js';
import type { AIJobStatus } from '../core/status.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { explainNeverFits, schedule } from '../scheduler/index.js';
import type { Decisions, Snapshot, WaitReason } from '../scheduler/types.js';
import { estimateOf, type Controller } from './controller.js';
import type { JobStore } from './job-store.js';
import { admittedJobOf, buildPools, nodePools, poolOfAdmitted, queuePolicyOf, queuedJobOf, type Pool } from './snapshot.js';

/** What the loop reads of the policy resources (the PolicyStore). */
export interface Policies {
  queue(name: string): ResolvedQueue | undefined;
  queues(): ResolvedQueue[];
  computeClusters(): ComputeCluster[];
  tenant(tenantId: string): ResolvedTenant;
  tenantQuotas(): Record<string, TenantQuota>;
  onChange(listener: () => void): () => void;
}

export interface SchedulingLoopDeps {
  cluster: ClusterPort;
  store: JobStore;
  ledger: QuotaLedger;
  controller: Controller;
  policies: Policies;
  metrics: Metrics;
  logger: Logger;
  defaultQuota(): TenantQuota;
  isLeader(): boolean;
  admitConcurrency: number;
  /** Positions and reasons are refreshed at most this often (wall-clock ms; less often when a pass costs over a tenth of it). */
  explainEveryMs?: number;
}

/** How a job fared in the cycle that followed its submission (or manual retry). */
export type CycleOutcome = 'admitted' | 'waiting';

export interface PoolView {
  name: string;
  nodes: number;
  capacity: { cpu: number; memory_mb: number; gpu: number };
  allocated: { cpu: number; memory_mb: number; gpu: number };
  free: { cpu: number; memory_mb: number; gpu: number };
  max_jobs?: number;
  max_gpus?: number;
  running_jobs: number;
  queued_jobs: number;
  queued_demand: { cpu: number; memory_mb: number; gpu: number };
  head_job?: { job_id: string; pending_reason: string; estimated_start?: string };
  exhausted: boolean;
}

export interface QueueView {
  name: string;
  admission: string;
  priority: number;
  preemption_policy: string;
  max_concurrency?: number;
  clusters: string[];
  queued: number;
  admitted: number;
  running: number;
  usage: { cpu: number; memory_mb: number; gpu: number };
}

export class SchedulingLoop {
  /** Jobs whose admission is being written: counted as admitted, never offered to a cycle again. */
  private readonly admitting = new Map<string, string>();
  private readonly preempting = new Set<string>();
  private scheduled = false;
  private running = false;
  private again = false;
  private stopped = false;
  private waitersForCycle: Array<{ ids: Set<string>; resolve: (admitted: Set<string>) => void }> = [];
  private admissionsInFlight = new Map<string, Promise<boolean>>();
  private waiting = new Map<string, WaitReason>();
  private explainedAt = 0;
  /** When the latest explanation started and how long it took (ms, performance.now()). */
  private explainedAtPerf = 0;
  private explainCostMs = 0;
  private explainDirty = true;
  private explainTimer: NodeJS.Timeout | undefined;
  private wakeAt: number | undefined;
  private cancelWake: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: SchedulingLoopDeps) {
    this.unsubscribe = deps.policies.onChange(() => this.trigger());
    deps.controller.onAdmitting((id) => this.admitting.has(id));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.cancelWake?.();
    if (this.explainTimer) clearTimeout(this.explainTimer);
  }

  /** Asks for a cycle soon; bursts of calls make one cycle. */
  trigger(): void {
    this.explainDirty = true;
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  /**
   * Triggers a cycle and resolves once one that saw `id` has run: 'admitted' when it admitted the job
   * and its status and Job were written, else 'waiting'.
   */
  async decide(id: string): Promise<CycleOutcome> {
    const admitted = await new Promise<Set<string>>((resolve) => {
      this.waitersForCycle.push({ ids: new Set([id]), resolve });
      this.trigger();
    });
    // An earlier cycle (one a watch event triggered) may have admitted it: its write is then in flight.
    const applied = this.admissionsInFlight.get(id);
    if (applied) return (await applied) ? 'admitted' : 'waiting';
    return admitted.has(id) ? 'admitted' : 'waiting';
  }

  /**
   * Why a job waits and where it stands, from the latest explained cycle. A waiting job that cycle
   * does not know yet (just queued: the answer to its submission) is explained now if explaining is
   * cheap: when the last explanation took under 1 ms (a short queue), or when 5 times its cost has
   * passed since. So a short queue's 202 carries the position and reason, and bursts into a long
   * queue spend at most a sixth of a CPU explaining; the others get theirs within a second.
   */
  waitReason(id: string): WaitReason | undefined {
    const known = this.waiting.get(id);
    if (known !== undefined || !this.deps.controller.isWaitingJob(id)) {
      this.explainSoon();
      return known;
    }
    if (this.explainDirty && (this.explainCostMs < 1 || performance.now() - this.explainedAtPerf >= 5 * this.explainCostMs)) this.explain();
    else this.explainSoon();
    return this.waiting.get(id);
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        this.cycle();
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  /** One cycle: decide synchronously, then apply in the background. */
  private cycle(): void {
    const waiters = this.waitersForCycle;
    this.waitersForCycle = [];
    const { controller } = this.deps;
    if (!controller.isSynced || !this.deps.isLeader() || controller.waitingCount() === 0) {
      for (const w of waiters) w.resolve(new Set());
      if (controller.waitingCount() > 0) this.explainSoon();
      return;
    }
    const { snapshot } = this.snapshot();
    let decisions: Decisions;
    try {
      decisions = schedule(snapshot, { explain: false });
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message }, 'scheduling cycle failed');
      for (const w of waiters) w.resolve(new Set());
      return;
    }
    const admitted = new Set<string>();
    for (const a of decisions.admissions) {
      const job = this.deps.store.get(a.id);
      if (!job) continue;
      admitted.add(a.id);
      this.admitting.set(a.id, a.pool);
      // Taken now, synchronously: the quota is the cycle's until the status write says otherwise.
      this.deps.ledger.add(a.id, job.spec.tenant_id, resourcesOf(job.spec));
    }
    const admissions = decisions.admissions.filter((a) => admitted.has(a.id));
    for (const a of admissions) {
      let done!: (ok: boolean) => void;
      this.admissionsInFlight.set(a.id, new Promise<boolean>((r) => (done = r)));
      void this.queueWrite(async () => done(await this.admit(a.id, a.pool)));
    }
    for (const p of decisions.preemptions) {
      if (this.preempting.has(p.id)) continue;
      this.preempting.add(p.id);
      void this.queueWrite(() => this.preempt(p.id, p.for));
    }
    this.armWake();
    for (const w of waiters) w.resolve(admitted);
    this.explainDirty = true;
    this.explainSoon();
  }

  // --- applying decisions -----------------------------------------------------------------------

  private writes: Array<() => Promise<void>> = [];
  private writers = 0;

  /** Status writes and Job creations, at most admitConcurrency at once, in decision order. */
  private queueWrite(fn: () => Promise<void>): Promise<void> {
    this.writes.push(fn);
    while (this.writers < this.deps.admitConcurrency && this.writes.length > 0) {
      this.writers++;
      void this.drainWrites();
    }
    return Promise.resolve();
  }

  private async drainWrites(): Promise<void> {
    try {
      for (let fn = this.writes.shift(); fn; fn = this.writes.shift()) {
        try {
          await fn();
        } catch (err) {
          this.deps.logger.warn({ err: (err as Error).message }, 'applying a scheduling decision failed');
        }
      }
    } finally {
      this.writers--;
    }
  }

  private async admit(id: string, pool: string): Promise<boolean> {
    const { cluster, controller, store, ledger, logger, metrics } = this.deps;
    const job = store.get(id);
    try {
      if (!job) return false;
      const prev = job.status;
      const attempt = (prev?.attempt ?? 0) + 1;
      const status: AIJobStatus = {
        phase: 'PENDING',
        attempts: 0,
        attempt,
        estimatedCost: estimateOf(job, controller.rates),
        admittedAt: new Date(cluster.now()).toISOString(),
        pool,
      };
      if (prev?.failures !== undefined) status.failures = prev.failures;
      if (prev?.preemptions !== undefined) status.preemptions = prev.preemptions;
      const stored = await controller.writeStatus(job, status);
      try {
        await cluster.createJob(controller.manifestFor(stored, attempt));
      } catch (err) {
        // The status says PENDING with no Job: the controller creates it on its next pass.
        logger.warn({ job_id: id, err: (err as Error).message }, 'creating an admitted job\'s Job failed; the controller retries');
        controller.reconcileSoon(id);
      }
      metrics.recordAdmission(job.spec.queue);
      logger.info({ event: 'job_admitted', job_id: id, tenant_id: job.spec.tenant_id, pool, attempt }, `job ${id} admitted to pool ${pool}`);
      return true;
    } catch (err) {
      // Not admitted after all (a newer version: cancelled, or the API failed): give the quota back,
      // unless the stored status holds it.
      const now = store.get(id);
      if (!now || !controller.holdsQuota(now)) ledger.release(id);
      if (!isClusterError(err, 'Conflict')) logger.warn({ job_id: id, err: (err as Error).message }, 'admitting a job failed; it stays queued');
      this.trigger();
      return false;
    } finally {
      this.admitting.delete(id);
      this.admissionsInFlight.delete(id);
      // The controller skipped the job meanwhile (see Controller.onAdmitting): its pass now.
      controller.reconcileSoon(id);
    }
  }

  private async preempt(id: string, forId: string): Promise<void> {
    const { cluster, controller, store, logger, metrics } = this.deps;
    try {
      const job = store.get(id);
      if (!job?.status || !controller.holdsQuota(job)) return;
      const prev = job.status;
      const status: AIJobStatus = {
        phase: 'QUEUED',
        reason: 'Preempted',
        message: `preempted by higher-priority job ${forId}; waiting to be admitted again (retry budget not spent)`,
        attempts: prev.attempts,
        attempt: prev.attempt,
        estimatedCost: estimateOf(job, controller.rates),
        preemptions: (prev.preemptions ?? 0) + 1,
      };
      if (prev.failures !== undefined) status.failures = prev.failures;
      await controller.writeStatus(job, status);
      metrics.preemptions.inc();
      logger.info({ event: 'job_preempted', job_id: id, tenant_id: job.spec.tenant_id, preemptor: forId }, `job ${id} preempted by ${forId}`);
      await cluster.deleteJob(attemptJobName(id, prev.attempt));
    } catch (err) {
      if (!isClusterError(err, 'Conflict')) logger.warn({ job_id: id, err: (err as Error).message }, 'preempting a job failed');
      this.trigger();
    } finally {
      this.preempting.delete(id);
    }
  }

  /** A cycle when the earliest retry backoff among waiting jobs expires (on the cluster's clock). */
  private armWake(): void {
    const now = this.deps.cluster.now();
    const earliest = this.deps.controller.nextBackoffEnd(now);
    if (earliest === undefined || (this.wakeAt !== undefined && this.wakeAt <= earliest && this.wakeAt > now)) return;
    this.cancelWake?.();
    this.wakeAt = earliest;
    this.cancelWake = this.deps.cluster.setTimer(earliest, () => {
      this.wakeAt = undefined;
      this.cancelWake = undefined;
      this.trigger();
    });
  }

  // --- the snapshot ------------------------------------------------------------------------------

  /** A pod of a job that no longer holds its room (preempted, cancelled, gone) or of an attempt that is over. */
  private isReleasing(pod: K8sPod): boolean {
    const id = pod.metadata.labels?.[LABEL_JOB_ID];
    if (id === undefined || this.admitting.has(id)) return false;
    const job = this.deps.store.get(id);
    if (!job || !this.deps.controller.holdsQuota(job)) return true;
    const attempt = pod.metadata.labels?.[LABEL_ATTEMPT];
    return attempt !== undefined && attempt !== String(job.status?.attempt ?? 1);
  }

  /**
   * Pools and queues only: what "could this job ever run?" needs (the submit path asks it). The
   * snapshot passes `isReleasing` (which room is on its way out), which that question does not need.
   */
  private frame(isReleasing?: (pod: K8sPod) => boolean): { pools: Pool[]; snapshot: Snapshot } {
    const { controller, policies } = this.deps;
    const pools = buildPools([...controller.nodeList()], controller.podsHoldingRoom(), policies.computeClusters(), isReleasing);
    const queues: Snapshot['queues'] = {};
    for (const q of policies.queues()) queues[q.name] = queuePolicyOf(q);
    const snapshot: Snapshot = {
      now: this.deps.cluster.now(),
      pools: pools.map((p) => p.state),
      queues,
      quotas: policies.tenantQuotas(),
      defaultQuota: this.deps.defaultQuota(),
      admitted: [],
      queued: [],
    };
    return { pools, snapshot };
  }

  private snapshot(): { pools: Pool[]; snapshot: Snapshot } {
    const { controller, policies } = this.deps;
    const frame = this.frame((pod) => this.isReleasing(pod));
    const { pools, snapshot } = frame;
    const now = snapshot.now;
    for (const [job, pool] of this.admittedJobs(pools)) snapshot.admitted.push(admittedJobOf(job, policies.queue(job.spec.queue), pool, now));
    // Jobs being admitted count as admitted (above), not as waiting.
    snapshot.queuedPairs = controller.waitingPairs(new Set(this.admitting.keys()));
    return frame;
  }

  /** Every admitted job with its pool: those holding quota, and those the loop is admitting right now. */
  private *admittedJobs(pools: readonly Pool[]): IterableIterator<[AIJob, string]> {
    const { controller, store } = this.deps;
    const poolOfNode = nodePools(pools);
    for (const job of controller.holdingJobs()) {
      const id = job.metadata.name;
      yield [job, this.admitting.get(id) ?? poolOfAdmitted(job, controller.podsOfAttempt(job), pools, poolOfNode)];
    }
    for (const [id, pool] of this.admitting) {
      const job = store.get(id);
      if (job && !controller.holdsQuota(job)) yield [job, pool];
    }
  }

  /** Why a job could never run as things stand (bigger than its tenant's quota or every allowed pool). */
  neverFits(job: AIJob): string | undefined {
    const { snapshot } = this.frame();
    return explainNeverFits(queuedJobOf(job, snapshot.now), snapshot);
  }

  // --- explaining ----------------------------------------------------------------------------------

  private explainSoon(): void {
    if (this.explainTimer || this.stopped || !this.explainDirty) return;
    // At most every explainEveryMs, and at most a tenth of a CPU: a pass over 100k waiting jobs takes
    // ~200 ms, and cycles keep the explanation dirty while the queue drains.
    const every = Math.max(this.deps.explainEveryMs ?? 1000, 10 * this.explainCostMs);
    const wait = Math.max(0, this.explainedAt + every - Date.now());
    this.explainTimer = setTimeout(() => {
      this.explainTimer = undefined;
      this.explain();
    }, wait);
    this.explainTimer.unref();
  }

  /** A full cycle that explains every waiting job; decides nothing. */
  explain(): void {
    if (this.explainTimer) {
      clearTimeout(this.explainTimer);
      this.explainTimer = undefined;
    }
    this.explainDirty = false;
    this.explainedAt = Date.now();
    this.explainedAtPerf = performance.now();
    if (!this.deps.controller.isSynced || this.deps.controller.waitingCount() === 0) {
      this.waiting = new Map();
      return;
    }
    const { snapshot } = this.snapshot();
    try {
      const decisions = schedule(snapshot, { explain: true });
      const waiting = new Map<string, WaitReason>();
      for (const w of decisions.waiting) waiting.set(w.id, w);
      this.waiting = waiting;
      this.explainCostMs = performance.now() - this.explainedAtPerf;
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message }, 'explaining the queue failed');
    }
  }

  // --- views ---------------------------------------------------------------------------------------

  queueViews(): QueueView[] {
    const { controller, policies } = this.deps;
    const byQueue = new Map<string, QueueView>();
    for (const q of policies.queues()) {
      const view: QueueView = {
        name: q.name,
        admission: q.admission,
        priority: q.priority,
        preemption_policy: q.preemptionPolicy,
        clusters: q.clusters,
        queued: 0,
        admitted: 0,
        running: 0,
        usage: { cpu: 0, memory_mb: 0, gpu: 0 },
      };
      if (q.maxConcurrency !== undefined) view.max_concurrency = q.maxConcurrency;
      byQueue.set(q.name, view);
    }
    for (const job of controller.waitingJobs()) {
      const v = byQueue.get(job.queue);
      if (v) v.queued++;
    }
    for (const job of controller.holdingJobs()) {
      const v = byQueue.get(job.spec.queue);
      if (!v) continue;
      if (job.status?.phase === 'RUNNING') v.running++;
      else v.admitted++;
      const r = resourcesOf(job.spec);
      v.usage.cpu += r.cpuMilli / 1000;
      v.usage.memory_mb += r.memoryMb;
      v.usage.gpu += r.gpu;
    }
    return [...byQueue.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * Every pool's state. `explain: false` leaves the periodic explanation of the queue alone (it only
   * feeds `head_job` and the order of `queued_jobs`): for readers that need the counts only.
   */
  poolViews(opts: { explain?: boolean } = {}): PoolView[] {
    if (opts.explain !== false) this.explainSoon();
    const { controller } = this.deps;
    // The frame and the admitted jobs' pools, not a whole snapshot: only counts are needed here, and
    // building every admitted job's scheduling record took most of the time (~150 ms at 60,000 jobs).
    const { pools, snapshot } = this.frame((pod) => this.isReleasing(pod));
    const views = new Map<string, PoolView>();
    for (const p of pools) {
      const s = p.state;
      const free = { cpuMilli: 0, memoryMb: 0, gpu: 0 };
      for (const f of s.nodesFree) {
        free.cpuMilli += f.cpuMilli;
        free.memoryMb += f.memoryMb;
        free.gpu += f.gpu;
      }
      const view: PoolView = {
        name: s.name,
        nodes: p.nodes.length,
        capacity: { cpu: s.allocatable.cpuMilli / 1000, memory_mb: s.allocatable.memoryMb, gpu: s.allocatable.gpu },
        allocated: {
          cpu: (s.allocatable.cpuMilli - Math.min(free.cpuMilli, s.allocatable.cpuMilli)) / 1000,
          memory_mb: s.allocatable.memoryMb - Math.min(free.memoryMb, s.allocatable.memoryMb),
          gpu: s.allocatable.gpu - Math.min(free.gpu, s.allocatable.gpu),
        },
        free: { cpu: Math.min(free.cpuMilli, s.allocatable.cpuMilli) / 1000, memory_mb: Math.min(free.memoryMb, s.allocatable.memoryMb), gpu: Math.min(free.gpu, s.allocatable.gpu) },
        running_jobs: 0,
        queued_jobs: 0,
        queued_demand: { cpu: 0, memory_mb: 0, gpu: 0 },
        exhausted: false,
      };
      if (s.maxJobs !== undefined) view.max_jobs = s.maxJobs;
      if (s.maxGpus !== undefined) view.max_gpus = s.maxGpus;
      views.set(s.name, view);
    }
    for (const [, pool] of this.admittedJobs(pools)) {
      const v = views.get(pool);
      if (v) v.running_jobs++;
    }
    // Waiting jobs count against the first pool their queue allows that could hold them (GPU jobs: a pool with GPUs).
    // The head job of a pool: its explained waiting job with the smallest position (one pass, no sort).
    const heads = new Map<PoolView, WaitReason>();
    for (const q of controller.waitingJobs()) {
      const allowed = snapshot.queues[q.queue]?.pools ?? [];
      const pool = pools.find((p) => (allowed.length === 0 || allowed.includes(p.state.name)) && (q.perPod.gpu > 0) === (p.state.allocatable.gpu > 0));
      const v = pool && views.get(pool.state.name);
      if (!v) continue;
      v.queued_jobs++;
      v.queued_demand.cpu += (q.perPod.cpuMilli * q.replicas) / 1000;
      v.queued_demand.memory_mb += q.perPod.memoryMb * q.replicas;
      v.queued_demand.gpu += q.perPod.gpu * q.replicas;
      const why = this.waiting.get(q.id);
      const head = heads.get(v);
      if (why && (head === undefined || why.position < head.position)) heads.set(v, why);
    }
    for (const [v, why] of heads) {
      v.head_job = { job_id: why.id, pending_reason: why.message };
      if (why.etaMs !== undefined) v.head_job.estimated_start = new Date(why.etaMs).toISOString();
    }
    for (const v of views.values()) {
      const gpuPool = v.capacity.gpu > 0;
      v.exhausted =
        v.nodes === 0 ||
        (v.max_jobs !== undefined && v.running_jobs >= v.max_jobs) ||
        (gpuPool ? v.free.gpu === 0 : v.free.cpu < 0.001 || v.free.memory_mb === 0);
    }
    return [...views.values()];
  }
}
