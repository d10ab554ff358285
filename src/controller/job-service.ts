/**
 * The submit path and the read side of the API. Admission runs in a fixed order, each step pure and
 * cheap, before anything touches the cluster:
 *   validation (400) -> per-job bounds (422) -> tenant GPU quota (403) -> tenant rate limit (429)
 *   -> cost -> create AIJob, then its Job (201; 503 if the cluster fails).
 * What a rejection consumes: nothing before the rate-limit step; a request refused by the rate limit
 * holds no quota; a request refused with 503 gets its rate-limit token and its quota back.
 */
import type { AIJob, ClusterPort } from '../cluster/types.js';
import { ClusterError, RUNWAY_API_VERSION, isClusterError } from '../cluster/types.js';
import { checkBounds } from '../core/bounds.js';
import { costAnnotation, estimateCost, type CostEstimate } from '../core/cost.js';
import { errors, RunwayError } from '../core/errors.js';
import { deepFreeze } from '../core/immutable.js';
import { JobIdGenerator } from '../core/ids.js';
import type { JobSpec } from '../core/job-spec.js';
import { ANNOTATION_ESTIMATED_COST, LABEL_QUEUE, LABEL_TENANT } from '../core/k8s.js';
import { resourcesOf, type QuotaLedger } from '../core/quota.js';
import type { TokenBucketLimiter } from '../core/rate-limit.js';
import type { JobPhase } from '../core/status.js';
import { parseJobSpec } from '../core/validation.js';
import type { Config } from '../config.js';
import type { Log, Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { attemptManifest } from './attempt.js';
import type { Controller } from './controller.js';
import type { JobStore, ListPage } from './job-store.js';

export interface JobServiceDeps {
  config: Config;
  cluster: ClusterPort;
  store: JobStore;
  ledger: QuotaLedger;
  limiter: TokenBucketLimiter;
  controller: Controller;
  metrics: Metrics;
  logger: Logger;
  inflight: Set<string>;
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
    const { config, ledger, limiter } = this.deps;
    if (!this.deps.isLeader()) throw errors.notLeader(this.deps.leaderName?.());
    const id = this.ids.next();
    // Check-and-reserve is synchronous: no other submission can interleave until the first await.
    ledger.reserve(id, spec.tenant_id, resourcesOf(spec), { gpu: config.tenantGpuQuota });
    const rate = limiter.take(spec.tenant_id);
    if (!rate.allowed) {
      ledger.release(id);
      throw errors.rateLimited(spec.tenant_id, rate.retryAfterS, config.rateLimitPerMin, config.rateLimitBurst);
    }
    const estimate = estimateCost(spec, config.rates);
    try {
      const job = await this.create(id, spec, estimate);
      this.deps.metrics.jobsSubmitted.inc();
      this.deps.metrics.recordAdmission(spec.queue); // direct mode: the Job exists, the job is admitted
      log.info(
        { event: 'job_submitted', job_id: id, tenant_id: spec.tenant_id, estimated_cost: estimate.total, gpu_count: spec.gpu_count },
        `job ${id} submitted`,
      );
      return { job, replay: false, estimate };
    } catch (err) {
      ledger.release(id);
      limiter.refund(spec.tenant_id);
      this.deps.metrics.jobCreateFailures.inc();
      this.deps.metrics.clusterAvailable.set(0);
      log.warn({ job_id: id, tenant_id: spec.tenant_id, err: (err as Error).message }, 'job creation failed');
      if (isClusterError(err) && err.kind !== 'Unavailable') {
        throw new RunwayError('CLUSTER_UNAVAILABLE', `the cluster refused the job: ${err.message}`, { cause: err.kind });
      }
      throw errors.clusterUnavailable((err as Error).message);
    }
  }

  /**
   * Writes the AIJob (the durable record), then its attempt-1 Job owned by it. On failure the AIJob is
   * deleted so that a 503 leaves nothing behind; if even that fails, the AIJob stays as an intent that
   * the controller completes, and a resubmission with the same idempotency key returns it.
   */
  private async create(id: string, spec: JobSpec, estimate: CostEstimate): Promise<AIJob> {
    const { cluster, config, inflight } = this.deps;
    const labels: Record<string, string> = { [LABEL_TENANT]: spec.tenant_id, [LABEL_QUEUE]: spec.queue };
    // The intent and the manifest are frozen (immutable values, like the spec): the embedded cluster
    // then stores them as they are instead of copying them; any other port serializes them as usual.
    const intent: AIJob = deepFreeze({
      apiVersion: RUNWAY_API_VERSION,
      kind: 'AIJob',
      metadata: {
        name: id,
        namespace: config.namespace,
        labels,
        annotations: { [ANNOTATION_ESTIMATED_COST]: costAnnotation(estimate) },
      },
      spec,
    });
    inflight.add(id);
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
      const manifest = deepFreeze(attemptManifest(config, created, 1, estimate));
      await this.deadlines.wrap(cluster.createJob(manifest), 'creating the Job');
    } catch (err) {
      void this.rollback(id);
      throw err;
    }
    inflight.delete(id);
    this.deps.metrics.clusterAvailable.set(1);
    this.deps.controller.applyAIJob(created);
    return created;
  }

  private async rollback(id: string): Promise<void> {
    try {
      await withDeadline(this.deps.cluster.deleteAIJob(id), this.deps.config.clusterTimeoutMs * 5, 'deleting the AIJob');
      this.deps.controller.forget(id);
    } catch (err) {
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
