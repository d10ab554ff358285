/**
 * Prometheus metrics. Names of the contract are exact (jobs_submitted_total, jobs_rejected_total,
 * gpu_quota_rejected_total, rate_limited_total, job_create_failures_total, request_latency_seconds);
 * no metric carries a tenant label, so cardinality stays bounded however many tenants there are.
 * Each app instance has its own registry so tests can run several side by side.
 *
 * The cluster-derived gauges (runway_pool_*, runway_cluster_gpus_*) are computed at scrape time from
 * the controller's caches of nodes and of Runway's pods; see cluster-gauges.ts for their definitions.
 * The job gauges (runway_jobs, runway_queue_waiting_jobs) are computed at scrape time from the job cache.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { K8sNode, K8sPod } from '../core/k8s.js';
import { clusterGpus, poolStats } from './cluster-gauges.js';

export interface Metrics {
  registry: Registry;
  jobsSubmitted: Counter;
  jobsRejected: Counter<'reason'>;
  gpuQuotaRejected: Counter;
  rateLimited: Counter;
  jobCreateFailures: Counter;
  requestLatency: Histogram<'route' | 'method' | 'status'>;
  jobOutcomes: Counter<'status' | 'reason'>;
  jobsByStatus: Gauge<'status'>;
  queueWaitingJobs: Gauge<'queue'>;
  gpusAllocated: Gauge;
  clusterAvailable: Gauge;
  admissions: Counter<'queue'>;
  jobRetries: Counter<'reason'>;
  poolGpus: Gauge<'pool' | 'state'>;
  poolFree: Gauge<'pool' | 'resource'>;
  clusterGpusInUse: Gauge;
  clusterGpusUnscheduled: Gauge;
  preemptions: Counter;
  /** Counts one job admitted to run (its Job created) in `queue`. */
  recordAdmission(queue: string): void;
}

/**
 * Distinct `queue` label values kept before further queues are counted as `_other`. Queue names come
 * from job specs, so without a cap a client could make the series count grow without bound. The cap
 * is shared by every metric with a `queue` label (runway_admissions_total, runway_queue_waiting_jobs):
 * a queue keeps the label it got first in all of them, so the two join on `queue` in alerts.
 */
export const MAX_QUEUE_LABELS = 100;
export const OTHER_QUEUE_LABEL = '_other';

export interface MetricSources {
  /** Jobs per status, read at scrape time. */
  jobCounts?: () => Map<string, number>;
  /** Jobs waiting for admission per queue (QUEUED, RETRYING past its backoff), read at scrape time. */
  waitingByQueue?: () => Map<string, number>;
  /** GPUs held by non-terminal jobs, read at scrape time. */
  gpusAllocated?: () => number;
  /** From the controller's caches, read at scrape time: the nodes, Runway's pods that hold room on them (bound, not finished), and the GPUs its pods without a node wait for. */
  nodes?: () => Iterable<K8sNode>;
  podsHoldingRoom?: () => Iterable<K8sPod>;
  unscheduledGpus?: () => number;
}

export function createMetrics(opts: { defaultMetrics?: boolean; sources?: MetricSources } = {}): Metrics {
  const sources = opts.sources ?? {};
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'runway_' });
  const registers = [registry];
  const queues = new Set<string>();
  /** The bounded `queue` label of a queue: its name while fewer than MAX_QUEUE_LABELS are kept, else `_other`. */
  function queueLabel(queue: string): string {
    if (!queues.has(queue) && queues.size < MAX_QUEUE_LABELS) queues.add(queue);
    return queues.has(queue) ? queue : OTHER_QUEUE_LABEL;
  }
  // Registered before runway_admissions_total, so collected first at a scrape: a queue label its
  // collect() gives out is in runway_admissions_total (at 0) in the same scrape.
  const queueWaitingJobs = new Gauge({
    name: 'runway_queue_waiting_jobs',
    help: 'Jobs waiting for admission, by queue: QUEUED, and RETRYING once its backoff has passed (at most 100 queues, the rest as _other).',
    labelNames: ['queue'],
    registers,
    collect() {
      if (!sources.waitingByQueue) return;
      this.reset();
      const byLabel = new Map<string, number>();
      for (const [queue, n] of sources.waitingByQueue()) {
        const label = queueLabel(queue);
        // The label's admissions series exists from then on, at 0 until an admission: a queue seen first
        // with waiting jobs has its first admission counted as 0 -> 1, which increase() sees, rather than
        // as a new series starting at 1, which it does not (RunwayQueueStalled relies on it).
        admissions.inc({ queue: label }, 0);
        byLabel.set(label, (byLabel.get(label) ?? 0) + n);
      }
      for (const [queue, n] of byLabel) this.set({ queue }, n);
    },
  });
  const admissions = new Counter({
    name: 'runway_admissions_total',
    help: 'Jobs admitted to run (their batch/v1 Job created), by queue.',
    labelNames: ['queue'],
    registers,
  });
  return {
    registry,
    admissions,
    queueWaitingJobs,
    recordAdmission(queue: string) {
      admissions.inc({ queue: queueLabel(queue) });
    },
    preemptions: new Counter({
      name: 'runway_preemptions_total',
      help: 'Admitted jobs evicted for a higher-priority job (they go back to their queue).',
      registers,
    }),
    jobRetries: new Counter({
      name: 'runway_job_retries_total',
      help: 'Failed attempts after which the job went on (a pod retry by backoffLimit or a Runway retry), by the failure reason.',
      labelNames: ['reason'],
      registers,
    }),
    poolGpus: new Gauge({
      name: 'runway_pool_gpus',
      help: 'GPUs per node pool: allocatable ("capacity") and requested by Runway pods bound there ("allocated").',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        if (!sources.nodes || !sources.podsHoldingRoom) return;
        this.reset();
        for (const [pool, s] of poolStats(sources.nodes(), sources.podsHoldingRoom())) {
          this.set({ pool, state: 'capacity' }, s.capacity.gpu);
          this.set({ pool, state: 'allocated' }, s.allocated.gpu);
        }
      },
    }),
    poolFree: new Gauge({
      name: 'runway_pool_free',
      help: 'Free capacity per node pool: allocatable minus what Runway pods bound there request (cpu in cores).',
      labelNames: ['pool', 'resource'],
      registers,
      collect() {
        if (!sources.nodes || !sources.podsHoldingRoom) return;
        this.reset();
        for (const [pool, s] of poolStats(sources.nodes(), sources.podsHoldingRoom())) {
          this.set({ pool, resource: 'cpu' }, (s.capacity.cpuMilli - s.allocated.cpuMilli) / 1000);
          this.set({ pool, resource: 'memory_mb' }, s.capacity.memoryMb - s.allocated.memoryMb);
          this.set({ pool, resource: 'gpu' }, s.capacity.gpu - s.allocated.gpu);
        }
      },
    }),
    clusterGpusInUse: new Gauge({
      name: 'runway_cluster_gpus_in_use',
      help: 'GPUs of Runway pods bound to a node and not finished, counted from the cluster.',
      registers,
      collect() {
        if (sources.podsHoldingRoom) this.set(clusterGpus(sources.podsHoldingRoom()).inUse);
      },
    }),
    clusterGpusUnscheduled: new Gauge({
      name: 'runway_cluster_gpus_unscheduled',
      help: 'GPUs requested by Runway pods waiting to be scheduled (no node yet), counted from the cluster.',
      registers,
      collect() {
        if (sources.unscheduledGpus) this.set(sources.unscheduledGpus());
      },
    }),
    jobsSubmitted: new Counter({
      name: 'jobs_submitted_total',
      help: 'Jobs accepted (created or queued).',
      registers,
    }),
    jobsRejected: new Counter({
      name: 'jobs_rejected_total',
      help: 'Submissions refused, by error code.',
      labelNames: ['reason'],
      registers,
    }),
    gpuQuotaRejected: new Counter({
      name: 'gpu_quota_rejected_total',
      help: 'Submissions refused because the tenant GPU quota would be exceeded.',
      registers,
    }),
    rateLimited: new Counter({
      name: 'rate_limited_total',
      help: 'Submissions refused by the per-tenant rate limit.',
      registers,
    }),
    jobCreateFailures: new Counter({
      name: 'job_create_failures_total',
      help: 'Failed attempts to create an AIJob or its batch/v1 Job in the cluster.',
      registers,
    }),
    requestLatency: new Histogram({
      name: 'request_latency_seconds',
      help: 'HTTP request latency by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    jobOutcomes: new Counter({
      name: 'runway_job_outcomes_total',
      help: 'Jobs that reached a terminal status, by status and reason.',
      labelNames: ['status', 'reason'],
      registers,
    }),
    jobsByStatus: new Gauge({
      name: 'runway_jobs',
      help: 'Jobs known to Runway, by status.',
      labelNames: ['status'],
      registers,
      collect() {
        if (!sources.jobCounts) return;
        this.reset();
        for (const [status, n] of sources.jobCounts()) this.set({ status }, n);
      },
    }),
    gpusAllocated: new Gauge({
      name: 'runway_gpus_allocated',
      help: 'GPUs held by non-terminal jobs across all tenants (quota ledger).',
      registers,
      collect() {
        if (sources.gpusAllocated) this.set(sources.gpusAllocated());
      },
    }),
    clusterAvailable: new Gauge({
      name: 'runway_cluster_available',
      help: '1 when the last call to the cluster API succeeded, 0 when it failed.',
      registers,
    }),
  };
}
