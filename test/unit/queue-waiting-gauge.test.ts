/**
 * runway_queue_waiting_jobs: what the job cache counts as waiting per queue (JobStore.waitingByQueue),
 * and how the gauge labels it (the queue label bound shared with runway_admissions_total).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RUNWAY_API_VERSION, type AIJob } from '../../src/cluster/types.js';
import { JobStore, phaseOf } from '../../src/controller/job-store.js';
import { LABEL_ADMISSION } from '../../src/core/k8s.js';
import { isWaiting, type AIJobStatus, type JobPhase } from '../../src/core/status.js';
import { MAX_QUEUE_LABELS, createMetrics, type MetricSources } from '../../src/observability/metrics.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
let seq = 0;

function aijob(queue: string, phase: JobPhase | 'queued-unwritten', status: Partial<AIJobStatus> = {}): AIJob {
  const id = `job-${String(seq++).padStart(4, '0')}`;
  return {
    apiVersion: RUNWAY_API_VERSION,
    kind: 'AIJob',
    metadata: { name: id, ...(phase === 'queued-unwritten' ? { labels: { [LABEL_ADMISSION]: 'queued' } } : {}) },
    spec: { tenant_id: 't', image: 'x', cpu: 1, memory_mb: 512, gpu_count: 0, timeout_s: 60, queue, priority: 0, replicas: 1 },
    ...(phase === 'queued-unwritten' ? {} : { status: { phase, attempts: 0, attempt: 0, ...status } }),
  };
}

describe('JobStore.waitingByQueue', () => {
  it('counts QUEUED (written or not yet) and RETRYING past its backoff, per queue; not RETRYING in backoff nor admitted or finished jobs', () => {
    const store = new JobStore();
    const at = (ms: number) => new Date(NOW + ms).toISOString();
    for (const job of [
      aijob('batch', 'queued-unwritten'),
      aijob('batch', 'QUEUED', { reason: 'Preempted' }),
      aijob('batch', 'RETRYING', { nextAttemptAt: at(-1_000) }), // due: waits for the queue
      aijob('batch', 'RETRYING', { nextAttemptAt: at(0) }), // due now
      aijob('batch', 'RETRYING', { nextAttemptAt: at(30 * 60_000) }), // in its backoff: not waiting for the queue
      aijob('batch', 'PENDING'),
      aijob('batch', 'RUNNING'),
      aijob('gpu-train', 'RETRYING', { nextAttemptAt: at(60_000) }),
      aijob('gpu-train', 'QUEUED'),
      aijob('default', 'PENDING'), // a status-less direct job reads PENDING
      aijob('default', 'SUCCEEDED'),
      aijob('default', 'DEAD_LETTER'),
    ]) {
      store.upsert(job);
    }
    expect(Object.fromEntries(store.waitingByQueue(NOW))).toEqual({ batch: 4, 'gpu-train': 1 });
    // Once the backoffs have passed, the retrying jobs wait for their queues too.
    expect(Object.fromEntries(store.waitingByQueue(NOW + 60 * 60_000))).toEqual({ batch: 5, 'gpu-train': 2 });
    expect(store.waitingByQueue(NOW).has('default')).toBe(false);
  });
});

describe('JobStore counts, kept as jobs change', () => {
  const PHASES: JobPhase[] = ['QUEUED', 'PENDING', 'RUNNING', 'RETRYING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'DEAD_LETTER'];
  /** What countsByPhase and waitingByQueue say, worked out from every stored job. */
  function recount(store: JobStore, nowMs: number) {
    const phases = new Map<JobPhase, number>();
    const waiting = new Map<string, number>();
    for (const job of store.values()) {
      const phase = phaseOf(job);
      phases.set(phase, (phases.get(phase) ?? 0) + 1);
      if (!isWaiting(phase)) continue;
      const due = Date.parse(job.status?.nextAttemptAt ?? '');
      if (phase === 'RETRYING' && Number.isFinite(due) && due > nowMs) continue;
      waiting.set(job.spec.queue, (waiting.get(job.spec.queue) ?? 0) + 1);
    }
    return { phases: Object.fromEntries(phases), waiting: Object.fromEntries(waiting) };
  }

  it('equal a recount of every job after any sequence of new versions, stale versions and removals', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('upsert' as const),
        id: fc.integer({ min: 0, max: 5 }),
        queue: fc.constantFrom('a', 'b'),
        phase: fc.constantFrom<JobPhase | 'queued-unwritten'>(...PHASES, 'queued-unwritten'),
        backoffMs: fc.constantFrom(-1000, 60_000),
        rv: fc.integer({ min: 1, max: 40 }),
      }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 0, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const store = new JobStore();
        for (const o of ops) {
          if (o.kind === 'remove') store.remove(`job-${o.id}`);
          else {
            const job = aijob(o.queue, o.phase, { nextAttemptAt: new Date(NOW + o.backoffMs).toISOString() });
            // The same id each time, and a resourceVersion that may be older than the stored one (ignored then).
            const versioned = { ...job, metadata: { ...job.metadata, name: `job-${o.id}`, resourceVersion: String(o.rv) } };
            store.upsert(versioned);
          }
          const expected = recount(store, NOW);
          expect(Object.fromEntries(store.countsByPhase())).toEqual(expected.phases);
          expect(Object.fromEntries(store.waitingByQueue(NOW))).toEqual(expected.waiting);
        }
      }),
      { numRuns: 500 },
    );
  });
});

async function scrapeText(sources: MetricSources, before?: (m: ReturnType<typeof createMetrics>) => void): Promise<string[]> {
  const m = createMetrics({ defaultMetrics: false, sources });
  before?.(m);
  return (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('runway_queue_waiting_jobs') || l.startsWith('runway_admissions_total'));
}

describe('runway_queue_waiting_jobs', () => {
  it('is one series per queue with waiting jobs, and starts that queue\'s runway_admissions_total at 0 in the same scrape', async () => {
    const lines = await scrapeText({ waitingByQueue: () => new Map([['batch', 3], ['stuck', 2]]) }, (m) => m.recordAdmission('default'));
    expect(lines.filter((l) => l.startsWith('runway_queue_waiting_jobs{')).sort()).toEqual([
      'runway_queue_waiting_jobs{queue="batch"} 3',
      'runway_queue_waiting_jobs{queue="stuck"} 2',
    ]);
    expect(lines.filter((l) => l.startsWith('runway_admissions_total{')).sort()).toEqual([
      'runway_admissions_total{queue="batch"} 0',
      'runway_admissions_total{queue="default"} 1',
      'runway_admissions_total{queue="stuck"} 0',
    ]);
  });

  it('drops a queue whose jobs are no longer waiting', async () => {
    let waiting = new Map([['batch', 2]]);
    const m = createMetrics({ defaultMetrics: false, sources: { waitingByQueue: () => waiting } });
    expect((await m.queueWaitingJobs.get()).values.map((v) => [v.labels.queue, v.value])).toEqual([['batch', 2]]);
    waiting = new Map();
    expect((await m.queueWaitingJobs.get()).values).toEqual([]);
  });

  it('shares the queue label bound with runway_admissions_total: beyond 100 queues, the rest sum up as _other', async () => {
    const waiting = new Map<string, number>([
      ['q-3', 1], // labelled by an admission: keeps its name
      ['late-1', 2], // first seen after the bound is reached
      ['late-2', 5],
    ]);
    const m = createMetrics({ defaultMetrics: false, sources: { waitingByQueue: () => waiting } });
    for (let i = 0; i < MAX_QUEUE_LABELS; i++) m.recordAdmission(`q-${i}`);
    const values = (await m.queueWaitingJobs.get()).values.map((v) => [v.labels.queue, v.value]);
    expect(values.sort()).toEqual([
      ['_other', 7],
      ['q-3', 1],
    ]);
    // An admission in a late queue is counted under the same label as its waiting jobs.
    m.recordAdmission('late-2');
    const admissions = (await m.admissions.get()).values;
    expect(admissions).toHaveLength(MAX_QUEUE_LABELS + 1);
    expect(admissions.find((v) => v.labels.queue === '_other')?.value).toBe(1);
  });

  it('is absent without its source (no job cache)', async () => {
    const m = createMetrics({ defaultMetrics: false });
    expect((await m.queueWaitingJobs.get()).values).toEqual([]);
  });
});
