/**
 * Prometheus metrics. Names of the contract are exact (jobs_submitted_total, jobs_rejected_total,
 * gpu_quota_rejected_total, rate_limited_total, job_create_failures_total, request_latency_seconds);
 * no metric carries a tenant label, so cardinality stays bounded however many tenants there are.
 * Each app instance has its own registry so tests can run several side by side.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  gpusAllocated: Gauge;
  clusterAvailable: Gauge;
}

export interface MetricSources {
  /** Jobs per status, read at scrape time. */
  jobCounts?: () => Map<string, number>;
  /** GPUs held by non-terminal jobs, read at scrape time. */
  gpusAllocated?: () => number;
}

export function createMetrics(opts: { defaultMetrics?: boolean; sources?: MetricSources } = {}): Metrics {
  const sources = opts.sources ?? {};
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'runway_' });
  const registers = [registry];
  return {
    registry,
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
