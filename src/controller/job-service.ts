/**
 * The submit path, cancel and retry, and the read side of the API. Admission runs in a fixed order,
 * each step pure and cheap, before anything touches the cluster:
 *   validation (400) -> per-job bounds (422) -> queue exists (404) and is allowed (403)
 *   -> quota: direct queue: the tenant's quota now (403 QUOTA_EXCEEDED); queued queue: could it ever
 *      fit (403 bigger than the quota, 422 bigger than every allowed pool) -> headroom rule, if the
 *      tenant's policy enables it (403 BUDGET_EXCEEDED) -> tenant rate limit (429) -> cost
 *   -> direct: create AIJob, then its Job (201); queued: create the AIJob, run a scheduling cycle, and
 *      answer 201 if it admitted the job, else 202 QUEUED (503 if the cluster fails).
 * Admission is synchronous; the cluster writes of the submissions admitted in one turn of the event
 * loop then go together, at the turn's end (group commit: turn-barrier.ts).
 * What a rejection consumes: nothing before the rate-limit step; a request refused by the rate limit
 * holds no quota; a request refused with 503 gets its rate-limit token and its quota back.
 */
import type { AIJob, ClusterPort } from '../cluster/types.js';
import { ClusterError, RUNWAY_API_VERSION, isClusterError } from '../cluster/types.js';
import { checkBounds } from '../core/bounds.js';
import { costAnnotations, estimateCost, type CostEstimate } from '../core/cost.js';
import { errors, RunwayError } from '../core/errors.js';
import { immutableKubeObject } from '../core/immutable.js';
import { ShapeMemo } from '../core/shape-memo.js';
import { JobIdGenerator, attemptJobName } from '../core/ids.js';
import type { JobSpec } from '../core/job-spec.js';
import type { LABEL_ADMISSION, LABEL_QUEUE, LABEL_TENANT } from '../core/k8s.js';
import { checkCouldEverFit, checkHeadroom, resourcesOf, type QuotaLedger } from '../core/quota.js';
import type { TokenBucketLimiter } from '../core/rate-limit.js';
import { isTerminal, type AIJobStatus, type JobPhase } from '../core/status.js';
import { parseJobSpec } from '../core/validation.js';
import type { Config } from '../config.js';
import type { Log, Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { estimateOf, type Controller } from './controller.js';
import { phaseOf, type JobStore, type ListPage } from './job-store.js';
import type { PolicyStore } from './policy-store.js';
import type { SchedulingLoop } from './scheduling-loop.js';
import { TurnBarrier } from './turn-barrier.js';

export interface JobServiceDeps {
  config: Config;
  cluster: ClusterPort;
  store: JobStore;
  ledger: QuotaLedger;
  limiter: TokenBucketLimiter;
  controller: Controller;
  scheduler: SchedulingLoop;
  policies: PolicyStore;
  metrics: Metrics;
  logger: Logger;
  /** Direct submissions between their first cluster write and their last: id -> the intent AIJob. */
  inflight: Map<string, AIJob>;
  isLeader(): boolean;
  leaderName?(): string | undefined;
  ids?: JobIdGenerator;
}

export interface SubmitResult {
  job: AIJob;
  /** True when an idempotency key matched an existing job: nothing new was created. */
  replay: boolean;
  /** The estimate of a job created now (a replay's is in the job). */
  estimate?: CostEstimate;
}

/** Resolves with the promise's value, or rejects with ClusterError('Unavailable') after ms. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClusterError('Unavailable', `${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Deadline {
  at: number;
  expire: () => void;
  prev: Deadline | undefined;
  next: Deadline | undefined;
  live: boolean;
}

/**
 * withDeadline for the submit path, where every request makes two cluster calls. All deadlines have
 * the same duration, so they expire in the order they were set: a linked list is a queue sorted by
 * expiry, and one timer armed for the oldest serves them all. A call costs a list entry rather than a
 * Node timer, Promise.race and finally of its own. The timer is left armed when the queue empties (it
 * then fires once for nothing) rather than being cleared and re-created for every call.
 */
export class Deadlines {
  private head: Deadline | undefined;
  private tail: Deadline | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  /** Resolves with the promise's value, or rejects with ClusterError('Unavailable') after ms. */
  wrap<T>(promise: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const d = this.add(() => reject(new ClusterError('Unavailable', `${what} timed out after ${this.ms} ms`)));
      promise.then(
        (value) => {
          this.remove(d);
          resolve(value);
        },
        (err: unknown) => {
          this.remove(d);
          reject(err as Error);
        },
      );
    });
  }

  private add(expire: () => void): Deadline {
    const d: Deadline = { at: performance.now() + this.ms, expire, prev: this.tail, next: undefined, live: true };
    if (this.tail) this.tail.next = d;
    else this.head = d;
    this.tail = d;
    if (!this.timer) this.arm(this.ms);
    return d;
  }

  private remove(d: Deadline): void {
    if (!d.live) return;
    d.live = false;
    if (d.prev) d.prev.next = d.next;
    else this.head = d.next;
    if (d.next) d.next.prev = d.prev;
    else this.tail = d.prev;
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head && this.head.at <= now) {
      const d = this.head;
      this.remove(d);
      d.expire();
    }
    if (this.head) this.arm(Math.max(1, Math.ceil(this.head.at - now)));
  }

  /** Unref'd: it only bounds calls that something else (a socket, the server) keeps the process alive for. */
  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms);
    this.timer.unref();
  }
}

export class JobService {
  private readonly ids: JobIdGenerator;
  /** Submissions in flight per idempotency key, so that concurrent duplicates share one creation. */
  private readonly pendingKeys = new Map<string, Promise<SubmitResult>>();

  private readonly deadlines: Deadlines;
  /** Group commit: the cluster writes of the submissions admitted in one event-loop turn go together. */
  private readonly turn = new TurnBarrier();

  constructor(private readonly deps: JobServiceDeps) {
    this.ids = deps.ids ?? new JobIdGenerator();
    this.deadlines = new Deadlines(deps.config.clusterTimeoutMs);
  }

  /** Validation, bounds and cost only: what a job would cost, with nothing created or reserved. */
  estimate(body: unknown, tenantHeader?: string | string[]): { spec: JobSpec; estimate: CostEstimate } {
    const withTenant =
      body !== null && typeof body === 'object' && !Array.isArray(body) && !('tenant_id' in body) && tenantHeader === undefined
        ? { ...body, tenant_id: 'estimate' }
        : body;
    const spec = parseJobSpec(withTenant, tenantHeader);
    checkBounds(spec, this.deps.config.bounds);
    return { spec, estimate: estimateCost(spec, this.deps.config.rates) };
  }

  async submit(body: unknown, tenantHeader: string | string[] | undefined, log: Log): Promise<SubmitResult> {
    try {
      const spec = parseJobSpec(body, tenantHeader);
      checkBounds(spec, this.deps.config.bounds);
      if (spec.idempotency_key === undefined) return await this.admit(spec, log);
      const key = `${spec.tenant_id}\u0000${spec.idempotency_key}`;
      const existing = this.deps.store.findByIdempotencyKey(spec.tenant_id, spec.idempotency_key);
      if (existing) return { job: existing, replay: true };
      const pending = this.pendingKeys.get(key);
      if (pending) return { job: (await pending).job, replay: true };
      const attempt = this.admit(spec, log);
      this.pendingKeys.set(key, attempt);
      try {
        return await attempt;
      } finally {
        this.pendingKeys.delete(key);
      }
    } catch (err) {
      if (err instanceof RunwayError) this.countRejection(err);
      throw err;
    }
  }

  private countRejection(err: RunwayError): void {
    const m = this.deps.metrics;
    m.jobsRejected.inc({ reason: err.code });
    if (err.code === 'QUOTA_EXCEEDED' && err.details.resource === 'GPUs') m.gpuQuotaRejected.inc();
    if (err.code === 'RATE_LIMITED') m.rateLimited.inc();
  }

  private async admit(spec: JobSpec, log: Log): Promise<SubmitResult> {
    const { config, ledger, limiter, policies } = this.deps;
    if (!this.deps.isLeader()) throw errors.notLeader(this.deps.leaderName?.());
    const queue = policies.queue(spec.queue);
    if (!queue) throw errors.notFound('queue', spec.queue);
    const tenant = policies.tenant(spec.tenant_id);
    if (tenant.allowedQueues && !tenant.allowedQueues.includes(queue.name)) {
      throw errors.queueNotAllowed(spec.tenant_id, queue.name, tenant.allowedQueues);
    }
    const req = resourcesOf(spec);
    const id = this.ids.next();
    const queued = queue.admission === 'queued';
    if (queued) {
      checkCouldEverFit(spec.tenant_id, req, tenant.quota);
      const never = this.deps.scheduler.neverFits(this.intentOf(id, spec, estimateCost(spec, config.rates), true));
      if (never) throw errors.poolNeverFits(queue.name, never);
    }
    if (tenant.headroomRule) checkHeadroom(spec.tenant_id, ledger.inUse(spec.tenant_id), req, tenant.quota);
    // Direct: check-and-reserve is synchronous, so no other submission can interleave until the first await.
    if (!queued) ledger.reserve(id, spec.tenant_id, req, tenant.quota);
    const rate = limiter.take(spec.tenant_id, { perMinute: tenant.rateLimitPerMin, burst: tenant.rateLimitBurst });
    if (!rate.allowed) {
      ledger.release(id);
      throw errors.rateLimited(spec.tenant_id, rate.retryAfterS, tenant.rateLimitPerMin, tenant.rateLimitBurst);
    }
    const estimate = estimateCost(spec, config.rates);
    try {
      const job = queued ? await this.createQueued(id, spec, estimate) : await this.create(id, spec, estimate);
      this.deps.metrics.jobsSubmitted.inc();
      if (!queued) this.deps.metrics.recordAdmission(spec.queue); // direct: the Job exists, the job is admitted
      // Built only when written: most deployments log submissions, but a silent or warn logger should not pay for them.
      if (log.isLevelEnabled('info')) {
        log.info(
          {
            event: 'job_submitted',
            job_id: id,
            tenant_id: spec.tenant_id,
            estimated_cost: estimate.total,
            gpu_count: spec.gpu_count,
            queue: spec.queue,
            status: phaseOf(job),
          },
          `job ${id} submitted`,
        );
      }
      return { job, replay: false, estimate };
    } catch (err) {
      // An AIJob that could not be rolled back stays, and the controller completes it: it keeps the
      // quota and the rate token it took.
      const kept = this.deps.store.get(id) !== undefined;
      if (!kept) {
        ledger.release(id);
        limiter.refund(spec.tenant_id);
      }
      this.deps.metrics.jobCreateFailures.inc();
      this.deps.metrics.clusterAvailable.set(0);
      log.warn({ job_id: id, tenant_id: spec.tenant_id, err: (err as Error).message }, 'job creation failed');
      if (kept) throw errors.clusterFailedJobKept((err as Error).message, id);
      if (isClusterError(err) && err.kind !== 'Unavailable') {
        throw new RunwayError('CLUSTER_UNAVAILABLE', `the cluster refused the job: ${err.message}`, { cause: err.kind });
      }
      throw errors.clusterUnavailable((err as Error).message);
    }
  }

  /** The AIJob as first written: the spec, labels to find it by, the estimate; no status yet. */
  private intentOf(id: string, spec: JobSpec, estimate: CostEstimate, queued: boolean): AIJob {
    const labels = aiJobLabels(spec.tenant_id, spec.queue, queued);
    // Immutable, like the spec (frozen by validation): the embedded cluster stores it as it is instead of
    // copying it, and any other port serializes it as usual. Built frozen from the inside out, so that
    // nothing walks it again.
    return immutableKubeObject<AIJob>(
      RUNWAY_API_VERSION,
      'AIJob',
      Object.freeze({ name: id, namespace: this.deps.config.namespace, labels, annotations: costAnnotations(estimate) }),
      spec,
    );
  }

  /**
   * A queued queue's job: the AIJob is the whole record (QUEUED until the scheduling loop admits it).
   * One scheduling cycle runs before the answer, so a job that fits now is admitted (201) at once.
   */
  private async createQueued(id: string, spec: JobSpec, estimate: CostEstimate): Promise<AIJob> {
    const { cluster, controller, scheduler } = this.deps;
    await this.turn.wait();
    const createAIJob = cluster.createAIJob(this.intentOf(id, spec, estimate, true));
    let created: AIJob;
    try {
      created = await this.deadlines.wrap(createAIJob, 'creating the AIJob');
    } catch (err) {
      // A create that times out may still land later: remove it if it does (the caller got a 503).
      createAIJob.then(() => this.rollback(id), () => undefined);
      throw err;
    }
    this.deps.metrics.clusterAvailable.set(1);
    controller.applyAIJob(created);
    await scheduler.decide(id);
    return this.deps.store.get(id) ?? created;
  }

  /** Cancels a job: CANCELLED, its Job deleted or it leaves the queue, quota released once. Repeating it is harmless. */
  async cancel(id: string): Promise<AIJob> {
    return this.transition(id, (job) => {
      const phase = phaseOf(job);
      if (phase === 'CANCELLED') return undefined;
      if (isTerminal(phase)) {
        throw errors.conflict(`job ${id} already finished (${phase}); there is nothing to cancel`, { job_id: id, status: phase });
      }
      const status: AIJobStatus = {
        ...(job.status ?? { attempts: 0, attempt: phase === 'QUEUED' ? 0 : 1 }),
        phase: 'CANCELLED',
        reason: 'Cancelled',
        message: `cancelled by the user while ${phase}`,
        completionTime: new Date(this.deps.cluster.now()).toISOString(),
        estimatedCost: estimateOf(job, this.deps.config.rates),
      };
      delete status.nextAttemptAt;
      return status;
    }, async (stored) => {
      const attempt = stored.status?.attempt ?? 0;
      if (attempt > 0) await this.deps.cluster.deleteJob(attemptJobName(id, attempt));
    });
  }

  /** Starts a new attempt of a FAILED, DEADLINE or DEAD_LETTER job, with a fresh retry budget. */
  async retry(id: string): Promise<AIJob> {
    const retried = await this.transition(id, (job) => {
      const phase = phaseOf(job);
      if (phase !== 'FAILED' && phase !== 'DEADLINE' && phase !== 'DEAD_LETTER') {
        throw errors.conflict(`job ${id} is ${phase}; only FAILED, DEADLINE or DEAD_LETTER jobs can be retried`, {
          job_id: id,
          status: phase,
        });
      }
      const prev = job.status;
      const status: AIJobStatus = {
        phase: 'QUEUED',
        reason: 'ManualRetry',
        message: `retried by the user after ${phase}; waiting to be admitted`,
        attempts: 0,
        attempt: prev?.attempt ?? 1,
        estimatedCost: estimateOf(job, this.deps.config.rates),
        failures: 0,
      };
      if (prev?.preemptions !== undefined) status.preemptions = prev.preemptions;
      return status;
    });
    await this.deps.scheduler.decide(id);
    return this.deps.store.get(id) ?? retried;
  }

  /**
   * Writes the status `decide` derives from the job as the cache holds it, conditionally on that
   * version; on a conflict (another writer was first) decides again from the newer version.
   * `decide` returning undefined means "already there": the job is returned as it is.
   */
  private async transition(
    id: string,
    decide: (job: AIJob) => AIJobStatus | undefined,
    after?: (stored: AIJob) => Promise<void>,
  ): Promise<AIJob> {
    if (!this.deps.isLeader()) throw errors.notLeader(this.deps.leaderName?.());
    for (let tries = 0; ; tries++) {
      const job = this.get(id);
      if (this.deps.inflight.has(id)) throw errors.conflict(`job ${id} is still being created; retry shortly`, { job_id: id });
      const status = decide(job);
      if (!status) return job;
      try {
        const stored = await this.deadlines.wrap(this.deps.controller.writeStatus(job, status), 'writing the job status');
        if (after) {
          try {
            await this.deadlines.wrap(after(stored), 'deleting the Job');
          } catch (err) {
            // The status is written: the controller finishes the clean-up when the API server answers.
            this.deps.logger.warn({ job_id: id, err: (err as Error).message }, 'clean-up after a status change failed; the controller retries');
            this.deps.controller.reconcileSoon(id);
          }
        }
        return stored;
      } catch (err) {
        if (isClusterError(err, 'Conflict') && tries < 5) {
          await new Promise((r) => setTimeout(r, 10 * (tries + 1)));
          continue;
        }
        if (err instanceof RunwayError) throw err;
        throw errors.clusterUnavailable((err as Error).message);
      }
    }
  }

  /**
   * Writes the AIJob (the durable record), then its attempt-1 Job owned by it. On failure the AIJob is
   * deleted so that a 503 leaves nothing behind; if even that fails, the AIJob stays as an intent that
   * the controller completes, and a resubmission with the same idempotency key returns it.
   */
  private async create(id: string, spec: JobSpec, estimate: CostEstimate): Promise<AIJob> {
    const { cluster, inflight } = this.deps;
    const intent = this.intentOf(id, spec, estimate, false);
    inflight.set(id, intent);
    // In flight (so counted by the scheduling snapshot, left alone by the controller) while it waits.
    await this.turn.wait();
    const createAIJob = cluster.createAIJob(intent);
    let created: AIJob;
    try {
      created = await this.deadlines.wrap(createAIJob, 'creating the AIJob');
    } catch (err) {
      // A create that times out may still land later: remove it if it does.
      createAIJob.then(() => this.rollback(id), () => inflight.delete(id));
      throw err;
    }
    try {
      await this.deadlines.wrap(cluster.createJob(this.deps.controller.manifestFor(created, 1)), 'creating the Job');
    } catch (err) {
      // Settled before the answer: a resubmission with the same idempotency key then finds the job if
      // its AIJob could not be deleted, instead of racing the AIJob's watch event and creating another.
      await this.rollback(id, created);
      throw err;
    }
    inflight.delete(id);
    this.deps.metrics.clusterAvailable.set(1);
    this.deps.controller.applyAIJob(created);
    // The Job's events may have come while the job was in flight, when the controller leaves it alone.
    this.deps.controller.reconcileSoon(id);
    return created;
  }

  private async rollback(id: string, created?: AIJob): Promise<void> {
    try {
      await withDeadline(this.deps.cluster.deleteAIJob(id), this.deps.config.clusterTimeoutMs * 5, 'deleting the AIJob');
      this.deps.controller.forget(id);
    } catch (err) {
      // The AIJob stays: in the cache now, not only once its watch event comes.
      if (created) this.deps.controller.applyAIJob(created);
      this.deps.logger.warn(
        { job_id: id, err: (err as Error).message },
        'could not remove a half-created AIJob; the controller will finish creating it',
      );
    } finally {
      this.deps.inflight.delete(id);
      this.deps.controller.reconcileSoon(id);
    }
  }

  get(id: string): AIJob {
    const job = this.deps.store.get(id);
    if (!job) throw errors.notFound('job', id);
    return job;
  }

  list(q: { tenant?: string; status?: JobPhase; queue?: string; limit: number; after?: string }): ListPage {
    return this.deps.store.list(q);
  }
}

/**
 * AIJob labels (tenant, queue, and `admission: queued` for a queued queue's job): frozen and shared by
 * every job of the tenant and queue, as they are the same. Keyed by tenant, queue and 1 for queued.
 */
const sharedLabels = new ShapeMemo<Record<string, string>, boolean>(20_000, (queued, tenant, queue) => {
  // Literal keys, checked against the constants by `satisfies`: see runwayLabelsOf in core/manifest.ts.
  type Keys = typeof LABEL_TENANT | typeof LABEL_QUEUE;
  return queued
    ? Object.freeze({ 'runway.dev/tenant': tenant, 'runway.dev/queue': String(queue), 'runway.dev/admission': 'queued' } satisfies Record<
        Keys | typeof LABEL_ADMISSION,
        string
      >)
    : Object.freeze({ 'runway.dev/tenant': tenant, 'runway.dev/queue': String(queue) } satisfies Record<Keys, string>);
});

function aiJobLabels(tenant: string, queue: string, queued: boolean): Record<string, string> {
  return sharedLabels.get(tenant, queue, queued ? 1 : 0, 0, queued);
}
