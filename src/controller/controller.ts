/**
 * The reconcile loop. It lists and watches the cluster, keeps the caches (AIJobs in the JobStore; Jobs,
 * pods and nodes here), maps every attempt's Job and pods to an AIJob status, writes that status, and
 * keeps the quota ledger equal to "what non-terminal AIJobs hold". Because the ledger is derived from
 * AIJob statuses keyed by job id, a job's quota is released exactly once, including for jobs that ended
 * while Runway was down (they are rebuilt as holding and released when their status is written).
 * Only the leader writes; followers keep the same caches so they can serve reads and take over.
 */
import { isClusterError, type AIJob, type ClusterEvent, type ClusterPort } from '../cluster/types.js';
import { estimateCost, parseCostAnnotation, type CostEstimate, type CostRates } from '../core/cost.js';
import { attemptJobName } from '../core/ids.js';
import { ANNOTATION_ESTIMATED_COST, LABEL_JOB_ID, type K8sJob, type K8sNode, type K8sPod } from '../core/k8s.js';
import { resourcesOf, type QuotaLedger } from '../core/quota.js';
import { afterFailedAttempt, retryPolicyFor } from '../core/retry.js';
import { deriveAttemptStatus, isTerminal, isWaiting, type AIJobStatus, type JobPhase } from '../core/status.js';
import type { Logger } from '../observability/logger.js';
import { holdsRoom, lastFailureReason, unscheduledGpusOf } from '../observability/cluster-gauges.js';
import type { Metrics } from '../observability/metrics.js';
import { attemptManifest, type AttemptSettings } from './attempt.js';
import { phaseOf, type JobStore } from './job-store.js';
import type { PolicyStore } from './policy-store.js';
import { QueueIndex, type QueuedJob, type QueuedPair } from '../scheduler/index.js';
import { queuedJobOf } from './snapshot.js';

export interface ControllerDeps {
  cluster: ClusterPort;
  store: JobStore;
  ledger: QuotaLedger;
  metrics: Metrics;
  logger: Logger;
  attempts: AttemptSettings;
  rates: CostRates;
  isLeader(): boolean;
  /** Jobs the submit path is still creating (their intent AIJobs): the controller leaves them alone until it is done. */
  inflight: ReadonlyMap<string, AIJob>;
  /** Queues, node pools and tenant policies: policy events go there. */
  policies: PolicyStore;
  /** Runway-level retries: the first delay, and the default budget of queued queues. */
  retry: { baseDelayMs: number; queuedMaxRetries: number };
}

/** Phases in which a job holds its quota and pool room: its attempt Job exists or is being created. */
export function holdsQuotaIn(phase: JobPhase): boolean {
  return phase === 'PENDING' || phase === 'RUNNING';
}

/** The status fields whose change is worth a write. */
function sameStatus(a: AIJobStatus | undefined, b: AIJobStatus): boolean {
  return (
    a !== undefined &&
    a.phase === b.phase &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.exitCode === b.exitCode &&
    a.attempts === b.attempts &&
    a.attempt === b.attempt &&
    a.startTime === b.startTime &&
    a.completionTime === b.completionTime &&
    a.failures === b.failures &&
    a.nextAttemptAt === b.nextAttemptAt
  );
}

export function estimateOf(job: AIJob, rates: CostRates): CostEstimate {
  if (job.status?.estimatedCost) return job.status.estimatedCost;
  const raw = job.metadata.annotations?.[ANNOTATION_ESTIMATED_COST];
  if (raw) {
    try {
      return parseCostAnnotation(raw);
    } catch {
      // fall through: a hand-edited annotation is not worth failing over
    }
  }
  return estimateCost(job.spec, rates);
}

/** Status fields an attempt's Job does not know about, kept across status writes. */
function carriedFields(s: AIJobStatus | undefined): Partial<AIJobStatus> {
  const out: Partial<AIJobStatus> = {};
  if (s?.admittedAt !== undefined) out.admittedAt = s.admittedAt;
  if (s?.pool !== undefined) out.pool = s.pool;
  if (s?.failures !== undefined) out.failures = s.failures;
  if (s?.preemptions !== undefined) out.preemptions = s.preemptions;
  return out;
}

/** Reconciles started per turn of the event loop, at most (see Controller.flush). */
const RECONCILES_PER_TURN = 1000;

/** How long a deleted job's id is remembered; far longer than any watch lag. */
const TOMBSTONE_TTL_MS = 5 * 60_000;

export class Controller {
  private readonly jobs = new Map<string, K8sJob>();
  /**
   * Pods by Job name. Arrays, not Maps: a Job has a handful of pods (one per attempt and replica), and
   * a Map per Job cost ~500 bytes of hash table for each stored job. Replaced, never changed in place,
   * so podsOf() can hand them out.
   */
  private readonly podsByJob = new Map<string, readonly K8sPod[]>();
  /**
   * The pods that hold room on a node (bound, not finished), by name, and the GPUs that pods without a
   * node wait for: kept as pods change, so that a scrape or a scheduling snapshot reads the pods that
   * matter (bounded by what the nodes hold) rather than every pod of every job ever kept.
   */
  private readonly roomHolders = new Map<string, K8sPod>();
  private unscheduledGpuCount = 0;
  private readonly nodes = new Map<string, K8sNode>();
  private synced = false;
  private stopWatch: (() => void) | undefined;
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  private readonly busy = new Set<string>();
  /** Jobs whose last reconcile failed (the API server away, a write refused): the periodic pass retries them. */
  private readonly failed = new Set<string>();
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncedWaiters: Array<() => void> = [];
  /** Jobs Runway deleted itself (rolled-back submissions), so that late watch events cannot revive them. */
  private readonly tombstones = new Map<string, number>();
  /**
   * Jobs waiting for the scheduling cycle (QUEUED, RETRYING), kept grouped as the cycle takes them,
   * so that a snapshot hands it the queue in O(pairs) rather than sorting every waiting job.
   */
  private readonly waiting = new QueueIndex();
  private schedulingNeeded: () => void = () => {};
  private isAdmitting: (id: string) => boolean = () => false;

  constructor(private readonly deps: ControllerDeps) {}

  get rates(): CostRates {
    return this.deps.rates;
  }

  /** Called when something the scheduling cycle depends on changed (jobs waiting or ending, pods, nodes). */
  onSchedulingNeeded(fn: () => void): void {
    this.schedulingNeeded = fn;
  }

  /**
   * Tells the controller which jobs the scheduling loop is admitting right now: it leaves them alone
   * until the loop is done (the loop then asks for a pass). Otherwise the watch event of the
   * admission's status write, arriving before the write's own answer, shows a PENDING job without a
   * Job, and the controller would create that Job too: a second create for every such admission.
   */
  onAdmitting(isAdmitting: (id: string) => boolean): void {
    this.isAdmitting = isAdmitting;
  }

  holdsQuota(job: AIJob): boolean {
    return holdsQuotaIn(phaseOf(job));
  }

  waitingCount(): number {
    return this.waiting.size;
  }

  /** The waiting jobs for a snapshot, less those in `exclude` (see QueueIndex.pairs). */
  waitingPairs(exclude?: ReadonlySet<string>): QueuedPair[] {
    return this.waiting.pairs(exclude);
  }

  /** Whether the job waits for the scheduling cycle (QUEUED, RETRYING). */
  isWaitingJob(id: string): boolean {
    return this.waiting.get(id) !== undefined;
  }

  /** Every waiting job, as the cycle sees it. */
  waitingJobs(): IterableIterator<QueuedJob> {
    return this.waiting.jobs();
  }

  /** When the earliest retry backoff among waiting jobs ends, if one ends after `nowMs`. */
  nextBackoffEnd(nowMs: number): number | undefined {
    return this.waiting.nextBackoffEnd(nowMs);
  }

  /** Every job that holds quota now: admitted (PENDING, RUNNING) or being created by the submit path. */
  *holdingJobs(): IterableIterator<AIJob> {
    for (const id of this.deps.ledger.ids()) {
      const inflight = this.deps.inflight.get(id);
      if (inflight) {
        yield inflight;
        continue;
      }
      const job = this.deps.store.get(id);
      if (job && this.holdsQuota(job)) yield job;
    }
  }

  /** The pods of the job's current attempt. */
  podsOfAttempt(job: AIJob): readonly K8sPod[] {
    return this.podsOf(attemptJobName(job.metadata.name, job.status?.attempt ?? 1));
  }

  /** The Job of an attempt, placed as its admission says: the pool's nodes, the queue's PriorityClass. */
  manifestFor(aijob: AIJob, attempt: number): K8sJob {
    const queue = this.deps.policies.queue(aijob.spec.queue);
    const pool = aijob.status?.pool;
    const cluster = pool ? this.deps.policies.computeClusters().find((c) => c.metadata.name === pool) : undefined;
    return attemptManifest(this.deps.attempts, aijob, attempt, estimateOf(aijob, this.deps.rates), {
      poolNodeSelector: cluster?.spec.nodeSelector,
      priorityClassName: queue?.priorityClass,
      // Where Runway retries (queued queues), each attempt is one try: Runway counts the failures.
      backoffLimit: queue?.admission === 'queued' ? 0 : undefined,
    });
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /**
   * Lists and watches the cluster; resolves once the caches hold the initial state. Every `retryEveryMs`
   * the jobs whose reconcile failed are tried again; every `resyncEveryMs` every unfinished job is
   * reconciled, a safety net for anything missed (each pass is O(jobs), so it is rare: events drive
   * the rest, and a re-list after a broken watch reconciles everything anyway).
   */
  async start(retryEveryMs = 10_000, resyncEveryMs = 10 * 60_000): Promise<void> {
    const synced = new Promise<void>((resolve) => this.syncedWaiters.push(resolve));
    this.stopWatch = await this.deps.cluster.watch({
      onEvent: (e) => this.onEvent(e),
      onSynced: () => {
        this.synced = true;
        for (const w of this.syncedWaiters) w();
        this.syncedWaiters = [];
        this.resyncAll();
      },
      onError: (err) => this.deps.logger.warn({ err: err.message }, 'cluster watch interrupted; re-listing'),
    });
    await synced;
    this.retryTimer = setInterval(() => this.retryFailed(), retryEveryMs);
    this.retryTimer.unref();
    this.resyncTimer = setInterval(() => this.resyncAll(), resyncEveryMs);
    this.resyncTimer.unref();
  }

  stop(): void {
    this.stopWatch?.();
    clearInterval(this.retryTimer);
    clearInterval(this.resyncTimer);
  }

  /** Records a job Runway just wrote itself, before the watch echoes it. False: the cache had it already. */
  applyAIJob(job: AIJob): boolean {
    const { stored, previous } = this.deps.store.upsert(job);
    if (!stored) return false;
    const id = job.metadata.name;
    const phase = phaseOf(job);
    const before = previous ? phaseOf(previous) : undefined;
    if (holdsQuotaIn(phase)) this.deps.ledger.add(id, job.spec.tenant_id, resourcesOf(job.spec));
    else if (!this.deps.inflight.has(id)) this.deps.ledger.release(id);
    if (isTerminal(phase) && before !== undefined && !isTerminal(before)) {
      this.deps.metrics.jobOutcomes.inc({ status: phase, reason: job.status?.reason ?? '' });
    }
    if (isWaiting(phase)) this.waiting.add(queuedJobOf(job, this.deps.cluster.now()));
    else this.waiting.remove(id);
    if (before !== phase && (isWaiting(phase) || (before !== undefined && holdsQuotaIn(before)))) this.schedulingNeeded();
    if (previous && before !== phase) {
      this.deps.logger.info(
        {
          event: 'job_transition',
          job_id: id,
          tenant_id: job.spec.tenant_id,
          from: before,
          to: phase,
          reason: job.status?.reason,
          exit_code: job.status?.exitCode,
        },
        `job ${id} ${before} -> ${phase}`,
      );
    }
    return true;
  }

  /** Forgets a job Runway has just deleted: its cache entry and quota go now, late events are ignored. */
  forget(id: string): void {
    const now = Date.now();
    for (const [old, expires] of this.tombstones) {
      if (expires > now) break;
      this.tombstones.delete(old);
    }
    this.tombstones.set(id, now + TOMBSTONE_TTL_MS);
    this.deps.store.remove(id);
    this.deps.ledger.release(id);
    this.waiting.remove(id);
  }

  podsOf(jobName: string): readonly K8sPod[] {
    return this.podsByJob.get(jobName) ?? [];
  }

  jobOf(name: string): K8sJob | undefined {
    return this.jobs.get(name);
  }

  /** The cached nodes (read-only; for scrape-time metrics). */
  nodeList(): IterableIterator<K8sNode> {
    return this.nodes.values();
  }

  /** Runway's pods bound to a node and not finished (read-only): what holds room on the nodes. */
  podsHoldingRoom(): IterableIterator<K8sPod> {
    return this.roomHolders.values();
  }

  /** GPUs requested by Runway's live pods that have no node yet. */
  unscheduledGpus(): number {
    return this.unscheduledGpuCount;
  }

  /** Keeps roomHolders and unscheduledGpuCount up to date as a pod goes from `before` to `after`. */
  private trackPod(name: string, before: K8sPod | undefined, after: K8sPod | undefined): void {
    if (before) this.unscheduledGpuCount -= unscheduledGpusOf(before);
    if (after) this.unscheduledGpuCount += unscheduledGpusOf(after);
    if (after && holdsRoom(after)) this.roomHolders.set(name, after);
    else if (before && holdsRoom(before)) this.roomHolders.delete(name);
  }

  private onEvent(e: ClusterEvent): void {
    if (this.deps.policies.onEvent(e)) return;
    switch (e.kind) {
      case 'AIJob': {
        const id = e.object.metadata.name;
        if (e.type === 'DELETED') {
          this.tombstones.delete(id);
          this.deps.store.remove(id);
          if (this.deps.ledger.release(id)) this.schedulingNeeded();
          this.waiting.remove(id);
          return;
        }
        if (this.tombstones.has(id)) return;
        // A version the cache already holds (the echo of the controller's own status write) needs no pass.
        // During a pass over the job (the echo of its own write may come before the write's answer),
        // the pass decides when it ends whether the job needs another (see reconcile).
        if (this.applyAIJob(e.object) && !this.busy.has(id)) this.reconcileSoon(id);
        return;
      }
      case 'Job': {
        const name = e.object.metadata.name;
        if (e.type === 'DELETED') this.jobs.delete(name);
        else this.jobs.set(name, e.object);
        const id = e.object.metadata.labels?.[LABEL_JOB_ID];
        if (id) this.reconcileSoon(id);
        return;
      }
      case 'Pod': {
        const jobName = e.object.metadata.labels?.['job-name'];
        if (!jobName) return;
        const pods = this.podsByJob.get(jobName) ?? [];
        const podName = e.object.metadata.name;
        const at = pods.findIndex((p) => p.metadata.name === podName);
        this.trackPod(podName, pods[at], e.type === 'DELETED' ? undefined : e.object);
        let next = pods;
        if (e.type === 'DELETED') {
          if (at >= 0) next = pods.filter((_, i) => i !== at);
        } else {
          // An update keeps the pod's place, as a Map would.
          next = at < 0 ? [...pods, e.object] : pods.map((p, i) => (i === at ? e.object : p));
        }
        if (next.length > 0) this.podsByJob.set(jobName, next);
        else this.podsByJob.delete(jobName);
        const id = e.object.metadata.labels?.[LABEL_JOB_ID];
        if (id) this.reconcileSoon(id);
        // Room on a node changes when a pod is bound, finishes or goes.
        if (this.waiting.size > 0) this.schedulingNeeded();
        return;
      }
      case 'Node':
        if (e.type === 'DELETED') this.nodes.delete(e.object.metadata.name);
        else this.nodes.set(e.object.metadata.name, e.object);
        this.schedulingNeeded();
        return;
      default:
        return;
    }
  }

  /** Coalesces bursts of events for the same job into one reconcile. */
  reconcileSoon(id: string): void {
    this.dirty.add(id);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Starts the reconciles of dirty jobs, at most RECONCILES_PER_TURN per turn of the event loop, so that
   * a resync of 100,000 jobs does not hold up requests for the time they all take.
   */
  private flush(): void {
    this.flushScheduled = false;
    let ids: string[];
    if (this.dirty.size <= RECONCILES_PER_TURN) {
      ids = [...this.dirty];
      this.dirty.clear();
    } else {
      ids = [];
      for (const id of this.dirty) {
        ids.push(id);
        if (ids.length === RECONCILES_PER_TURN) break;
      }
      for (const id of ids) this.dirty.delete(id);
      this.scheduleFlush();
    }
    // Taken out first: a reconcile that finds its job busy puts it back for the next turn.
    for (const jobId of ids) void this.reconcile(jobId);
  }

  /** Reconciles every unfinished job (after a re-list, on becoming the leader, and now and then). */
  resyncAll(): void {
    for (const job of this.deps.store.values()) {
      if (!isTerminal(phaseOf(job))) this.reconcileSoon(job.metadata.name);
    }
  }

  /** Reconciles again the jobs whose last reconcile failed. */
  retryFailed(): void {
    for (const id of this.failed) this.reconcileSoon(id);
    this.failed.clear();
  }

  private async reconcile(id: string): Promise<void> {
    if (!this.synced || this.deps.inflight.has(id) || this.isAdmitting(id)) return;
    if (this.busy.has(id)) {
      this.dirty.add(id); // run again after the current pass
      return;
    }
    this.busy.add(id);
    const read = this.deps.store.get(id)?.metadata.resourceVersion;
    let written: string | undefined;
    try {
      written = await this.reconcileOnce(id);
    } catch (err) {
      // A conflict means a newer version exists: a pass over it follows, now if the cache holds it
      // already (below), or when its watch event comes.
      if (isClusterError(err, 'Conflict')) {
        this.deps.logger.debug({ job_id: id }, 'status write lost to a newer version');
      } else {
        this.failed.add(id);
        this.deps.logger.warn({ job_id: id, err: (err as Error).message }, 'reconcile failed; will retry');
      }
    } finally {
      this.busy.delete(id);
      // Another pass if the AIJob changed meanwhile other than by this pass's own write: a watch event
      // or a write of the scheduling loop or the API (cancel, retry) that went straight to the cache.
      const now = this.deps.store.get(id)?.metadata.resourceVersion;
      if (now !== read && now !== written) this.dirty.add(id);
      if (this.dirty.has(id)) this.reconcileSoon(id);
    }
  }

  /** One pass over a job; resolves with the resourceVersion of the AIJob status it wrote, if it wrote one. */
  private async reconcileOnce(id: string): Promise<string | undefined> {
    const aijob = this.deps.store.get(id);
    if (!aijob || !this.deps.isLeader()) return;
    const phase = phaseOf(aijob);
    if (phase === 'CANCELLED') {
      await this.deleteCancelledJob(aijob);
      return;
    }
    // Waiting jobs are the scheduling loop's; terminal ones are done.
    if (!holdsQuotaIn(phase)) return;
    const attempt = aijob.status?.attempt ?? 1;
    const jobName = attemptJobName(id, attempt);
    const job = this.jobs.get(jobName);
    const estimate = estimateOf(aijob, this.deps.rates);
    const carried = carriedFields(aijob.status);

    if (!job) {
      if (!aijob.status || (aijob.status.attempts === 0 && !aijob.status.startTime)) {
        // An admission whose AIJob (or status) was written but whose Job was not (a crash or an outage
        // in between): finish what it started. The deterministic name makes this safe to repeat.
        const created = await this.deps.cluster.createJob(this.manifestFor(aijob, attempt));
        if (created === 'created' && !aijob.status) this.deps.metrics.recordAdmission(aijob.spec.queue);
        this.deps.logger.info({ job_id: id, tenant_id: aijob.spec.tenant_id, attempt }, 'created missing Job for admitted AIJob');
        return;
      }
      // The Job existed (a status was written from it) and is gone: deleted outside Runway.
      const stored = await this.writeStatus(aijob, {
        ...aijob.status,
        phase: 'FAILED',
        reason: 'JobDeleted',
        message: `Job ${jobName} was deleted outside Runway before it finished`,
        completionTime: new Date(this.deps.cluster.now()).toISOString(),
        estimatedCost: estimate,
      });
      return stored.metadata.resourceVersion;
    }

    const pods = this.podsOf(jobName);
    const derived = deriveAttemptStatus(job, pods);
    // Extends the fresh object rather than spreading it: in V8 `{ ...obj, newKey }` builds a new hidden
    // class for every object (microseconds per reconcile, and slow reads of the result). Same keys, same order.
    const next: AIJobStatus = Object.assign(derived, { attempt, estimatedCost: estimate }, carried);
    if (next.phase === 'FAILED' || next.phase === 'DEADLINE') this.applyRetryPolicy(aijob, next);
    if (sameStatus(aijob.status, next)) return;
    // A status-less AIJob already reads as PENDING: writing "PENDING, nothing to say" would cost an
    // API write per submission for no information. The first write carries a reason or RUNNING.
    if (!aijob.status && next.phase === 'PENDING' && !next.message && !next.startTime && next.attempts <= 1) return;
    const stored = await this.writeStatus(aijob, next);
    this.countRetries(aijob.status, next, pods);
    if (next.phase === 'RETRYING') this.deps.metrics.jobRetries.inc({ reason: next.reason === 'OOMKilled' ? 'OOMKilled' : 'Error' });
    return stored.metadata.resourceVersion;
  }

  /**
   * A failed attempt under a retry policy: RETRYING with the time of the next attempt (the scheduling
   * loop re-admits it then), or DEAD_LETTER when the budget is spent. Without a policy it stays FAILED.
   */
  private applyRetryPolicy(aijob: AIJob, status: AIJobStatus): void {
    const phase = status.phase as 'FAILED' | 'DEADLINE';
    const policy = retryPolicyFor(aijob.spec, this.deps.policies.queue(aijob.spec.queue), this.deps.retry.queuedMaxRetries);
    if (!policy) return;
    const now = this.deps.cluster.now();
    const after = afterFailedAttempt(policy, phase, aijob.status?.failures ?? 0, now, this.deps.retry.baseDelayMs);
    status.failures = after.failures;
    const what = status.message ?? status.reason ?? 'failed';
    if (after.action === 'retry') {
      status.phase = 'RETRYING';
      status.nextAttemptAt = new Date(after.nextAttemptAtMs).toISOString();
      status.message = `attempt ${status.attempt} failed: ${what}; retry ${after.failures} of ${policy.maxRetries} at ${status.nextAttemptAt}`;
      delete status.completionTime;
    } else if (after.action === 'dead_letter') {
      status.phase = 'DEAD_LETTER';
      status.message = `attempt ${status.attempt} failed: ${what}; no retries left (max_retries ${policy.maxRetries})`;
    }
  }

  /** A cancelled job's current Job is deleted (with its pods); repeated until the cache shows it going. */
  private async deleteCancelledJob(aijob: AIJob): Promise<void> {
    const attempt = aijob.status?.attempt;
    if (!attempt) return;
    const job = this.jobs.get(attemptJobName(aijob.metadata.name, attempt));
    if (!job || job.metadata.deletionTimestamp) return;
    await this.deps.cluster.deleteJob(job.metadata.name);
  }

  /**
   * Counts the retries a status write records: pod attempts beyond those of the stored status (the
   * first pod of a Job is no retry). Counted after the write succeeded and only against the stored
   * status, so a re-derived status, a failed write, a restart (which re-lists what was written) or a
   * follower never counts the same retry twice.
   */
  private countRetries(before: AIJobStatus | undefined, after: AIJobStatus, pods: readonly K8sPod[]): void {
    const seen = before && before.attempt === after.attempt ? Math.max(before.attempts, 1) : 1;
    const retries = after.attempts - seen;
    if (retries > 0) this.deps.metrics.jobRetries.inc({ reason: lastFailureReason(pods) }, retries);
  }

  /**
   * Writes a status decided from `aijob`, only if the stored AIJob is still that version (a newer one
   * holds a newer decision: a cancel, an admission, a preemption); records the result in the caches.
   */
  async writeStatus(aijob: AIJob, status: AIJobStatus): Promise<AIJob> {
    const stored = await this.deps.cluster.updateAIJobStatus(aijob.metadata.name, status, aijob.metadata.resourceVersion);
    this.applyAIJob(stored);
    return stored;
  }

  /** Waits for the first full list (used by readiness and tests). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }
}
