/**
 * The metrics the alerts and the dashboard rely on, read from /metrics of a real Runway on the
 * embedded simulated cluster (default pools: cpu 4 nodes x 32 cores x 128 GiB, gpu 2 nodes x 8 GPUs,
 * 64 cores, 512 GiB), with exact values.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { K8sPod } from '../../src/core/k8s.js';
import { clusterGpus, holdsRoom } from '../../src/observability/cluster-gauges.js';
import { createRunway, type Runway } from '../../src/runway.js';
import { README_JOB, settle, startTestRunway, type TestRunway } from '../helpers/runway.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(runway: Runway): Promise<Sample[]> {
  const res = await runway.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return parse(res.body);
}

/** The samples of a metric whose labels include `labels`. */
function samples(all: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample matching, or undefined when there is none. */
function value(all: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(all, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

function sum(all: Sample[], name: string): number {
  return samples(all, name).reduce((n, s) => n + s.value, 0);
}

let t: TestRunway | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function submit(runway: Runway, payload: Record<string, unknown>, tenant = 'team-a'): Promise<string> {
  const res = await runway.app.inject({ method: 'POST', url: '/v1/jobs', payload, headers: { 'x-tenant-id': tenant } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ job_id: string }>().job_id;
}

async function job(runway: Runway, id: string): Promise<Record<string, unknown>> {
  return (await runway.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<Record<string, unknown>>();
}

const TERMINAL = ['SUCCEEDED', 'FAILED', 'DEADLINE'];

async function runToEnd(tr: TestRunway, runway: Runway, id: string, forMs = 600_000): Promise<Record<string, unknown>> {
  for (let ms = 0; ms <= forMs; ms += 1000) {
    const j = await job(runway, id);
    if (TERMINAL.includes(j.status as string)) return j;
    await tr.advance(1000);
  }
  throw new Error(`job ${id} did not finish`);
}

const CPU_JOB = { image: 'busybox', cpu: 1, memory_mb: 512, timeout_s: 600 };

describe('runway_admissions_total', () => {
  it('counts each admitted job once, by queue; refusals and estimates count nothing', async () => {
    t = await startTestRunway();
    for (let i = 0; i < 3; i++) await submit(t.runway, CPU_JOB);
    for (let i = 0; i < 2; i++) await submit(t.runway, { ...CPU_JOB, queue: 'batch' }, 'team-b');
    const refused = await t.runway.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { ...CPU_JOB, cpu: 64 },
      headers: { 'x-tenant-id': 'team-a' },
    });
    expect(refused.statusCode).toBe(422);
    await t.runway.app.inject({ method: 'POST', url: '/v1/estimate', payload: CPU_JOB });
    await t.advance(10_000);

    const m = await scrape(t.runway);
    expect(value(m, 'runway_admissions_total', { queue: 'default' })).toBe(3);
    expect(value(m, 'runway_admissions_total', { queue: 'batch' })).toBe(2);
    expect(sum(m, 'runway_admissions_total')).toBe(5);
    expect(value(m, 'jobs_submitted_total')).toBe(5);
  });

  it('keeps the queue label bounded: queues beyond the first 100 are counted as _other', async () => {
    t = await startTestRunway();
    for (let i = 0; i < 105; i++) t.runway.metrics.recordAdmission(`q-${i}`);
    t.runway.metrics.recordAdmission('q-3');
    const m = await scrape(t.runway);
    expect(samples(m, 'runway_admissions_total')).toHaveLength(101);
    expect(value(m, 'runway_admissions_total', { queue: '_other' })).toBe(5);
    expect(value(m, 'runway_admissions_total', { queue: 'q-3' })).toBe(2);
  });
});

describe('runway_queue_waiting_jobs', () => {
  async function post(runway: Runway, tenant: string, payload: Record<string, unknown>): Promise<{ code: number; id: string }> {
    const res = await runway.app.inject({ method: 'POST', url: '/v1/jobs', payload, headers: { 'x-tenant-id': tenant } });
    return { code: res.statusCode, id: res.json<{ job_id: string }>().job_id };
  }

  it('counts per queue the jobs waiting beyond their tenant quota, and a retry once its backoff has passed', async () => {
    t = await startTestRunway({ RUNWAY_RETRY_BASE_DELAY_S: '600', RUNWAY_RATE_LIMIT_BURST: '100' });
    const long = { ...README_JOB, queue: 'batch', annotations: { 'sim.runway.dev/duration-s': '1500' } };
    // team-b: a batch job whose first attempt fails: RETRYING, next attempt in 600 s.
    const flaky = await post(t.runway, 'team-b', { ...long, annotations: { 'sim.runway.dev/fail-attempts': '1', 'sim.runway.dev/duration-s': '2' } });
    expect(flaky.code).toBe(201);
    await t.advance(10_000);
    expect(await job(t.runway, flaky.id)).toMatchObject({ status: 'RETRYING' });
    // team-a: 6 jobs of 2 GPUs in batch with a quota of 8 GPUs: 4 admitted, 2 wait (Quota).
    const a = [];
    for (let i = 0; i < 6; i++) a.push(await post(t.runway, 'team-a', long));
    expect(a.map((r) => r.code)).toEqual([201, 201, 201, 201, 202, 202]);
    // team-b fills its quota while its retry backs off (a RETRYING job holds no quota).
    for (let i = 0; i < 4; i++) expect((await post(t.runway, 'team-b', long)).code).toBe(201);
    // Direct traffic in the default queue: admitted at once, never waiting.
    for (let i = 0; i < 3; i++) await submit(t.runway, CPU_JOB, 'team-c');
    await t.advance(5_000);

    let m = await scrape(t.runway);
    expect(samples(m, 'runway_queue_waiting_jobs').map((s) => [s.labels, s.value])).toEqual([[{ queue: 'batch' }, 2]]);
    expect(value(m, 'runway_jobs', { status: 'QUEUED' })).toBe(2);
    expect(value(m, 'runway_jobs', { status: 'RETRYING' })).toBe(1); // in its backoff: not waiting for the queue
    expect(value(m, 'runway_admissions_total', { queue: 'batch' })).toBe(9); // 1 + 4 + 4
    expect(value(m, 'runway_admissions_total', { queue: 'default' })).toBe(3);

    // The backoff passes, but team-b is at its quota: the retry now waits in batch too.
    await t.advance(600_000, 10_000);
    t.runway.scheduler.explain();
    expect(await job(t.runway, flaky.id)).toMatchObject({ status: 'RETRYING', pending_cause: 'Quota' });
    m = await scrape(t.runway);
    expect(samples(m, 'runway_queue_waiting_jobs').map((s) => [s.labels, s.value])).toEqual([[{ queue: 'batch' }, 3]]);
    expect(value(m, 'runway_admissions_total', { queue: 'batch' })).toBe(9);

    // Cancelling the waiting jobs empties the queue: the series goes away.
    for (const id of [a[4]?.id, a[5]?.id, flaky.id]) {
      expect((await t.runway.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(200);
    }
    await t.settle();
    expect(samples(await scrape(t.runway), 'runway_queue_waiting_jobs')).toEqual([]);
  });
});

describe('runway_job_retries_total', () => {
  it('counts exactly 2 retries for a job that fails twice and then succeeds (backoffLimit 2)', async () => {
    t = await startTestRunway({ RUNWAY_BACKOFF_LIMIT: '2' });
    const id = await submit(t.runway, {
      ...README_JOB,
      annotations: { 'sim.runway.dev/fail-attempts': '2', 'sim.runway.dev/duration-s': '2' },
    });
    const end = await runToEnd(t, t.runway, id);
    expect(end).toMatchObject({ status: 'SUCCEEDED', attempts: 3 });
    // Statuses are re-derived on every resync: that must not count again.
    t.runway.controller.resyncAll();
    await t.advance(30_000);
    const m = await scrape(t.runway);
    expect(samples(m, 'runway_job_retries_total')).toEqual([{ name: 'runway_job_retries_total', labels: { reason: 'Error' }, value: 2 }]);
  });

  it('labels retries after an OOM kill OOMKilled; the final failure is no retry', async () => {
    t = await startTestRunway({ RUNWAY_BACKOFF_LIMIT: '2' });
    const id = await submit(t.runway, { ...README_JOB, annotations: { 'sim.runway.dev/oom': 'true', 'sim.runway.dev/duration-s': '2' } });
    expect(await runToEnd(t, t.runway, id)).toMatchObject({ status: 'FAILED', reason: 'OOMKilled', attempts: 3 });
    const m = await scrape(t.runway);
    expect(samples(m, 'runway_job_retries_total')).toEqual([{ name: 'runway_job_retries_total', labels: { reason: 'OOMKilled' }, value: 2 }]);
  });

  it('counts nothing for a job that succeeds first time, or fails with backoffLimit 0', async () => {
    t = await startTestRunway({ RUNWAY_BACKOFF_LIMIT: '0' });
    const ok = await submit(t.runway, { ...CPU_JOB, annotations: { 'sim.runway.dev/duration-s': '2' } });
    const bad = await submit(t.runway, { ...CPU_JOB, annotations: { 'sim.runway.dev/exit-code': '3', 'sim.runway.dev/duration-s': '2' } });
    expect(await runToEnd(t, t.runway, ok)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(await runToEnd(t, t.runway, bad)).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(sum(await scrape(t.runway), 'runway_job_retries_total')).toBe(0);
  });

  it('does not count again after a restart: a new instance counts only retries beyond the stored status', async () => {
    t = await startTestRunway({ RUNWAY_BACKOFF_LIMIT: '2' });
    const first = t.runway;
    const id = await submit(first, {
      ...README_JOB,
      annotations: { 'sim.runway.dev/fail-attempts': '2', 'sim.runway.dev/duration-s': '2' },
    });
    // Run until the second attempt is recorded in the AIJob status (one retry so far).
    for (let i = 0; i < 120 && (await job(first, id)).attempts !== 2; i++) await t.advance(1000);
    expect(await job(first, id)).toMatchObject({ attempts: 2 });
    expect(sum(await scrape(first), 'runway_job_retries_total')).toBe(1);

    // "Restart": stop the first instance without closing the cluster; a new one re-lists everything.
    await first.app.close();
    first.controller.stop();
    const second = await createRunway(t.config, { cluster: t.cluster, logger: first.logger });
    try {
      await settle();
      expect(sum(await scrape(second), 'runway_job_retries_total')).toBe(0);
      expect(await runToEnd(t, second, id)).toMatchObject({ status: 'SUCCEEDED', attempts: 3 });
      expect(sum(await scrape(second), 'runway_job_retries_total')).toBe(1); // 1 + 1 = 2 retries in all
    } finally {
      await second.close(); // closes the shared cluster too
      t = undefined;
    }
  });
});

describe('node pool gauges and the GPU drift pair', () => {
  const POOLS_IDLE = {
    cpu: { gpuCapacity: 0, cpu: 4 * 32, memory: 4 * 128 * 1024, gpu: 0 },
    gpu: { gpuCapacity: 16, cpu: 2 * 64, memory: 2 * 512 * 1024, gpu: 16 },
  };

  function pools(m: Sample[]) {
    const out: Record<string, Record<string, number | undefined>> = {};
    for (const pool of new Set(samples(m, 'runway_pool_free').map((s) => s.labels.pool as string))) {
      out[pool] = {
        gpuCapacity: value(m, 'runway_pool_gpus', { pool, state: 'capacity' }),
        gpuAllocated: value(m, 'runway_pool_gpus', { pool, state: 'allocated' }),
        cpu: value(m, 'runway_pool_free', { pool, resource: 'cpu' }),
        memory: value(m, 'runway_pool_free', { pool, resource: 'memory_mb' }),
        gpu: value(m, 'runway_pool_free', { pool, resource: 'gpu' }),
      };
    }
    return out;
  }

  it('reports capacity and free resources of the default pools, before, while and after a 2-GPU job runs', async () => {
    t = await startTestRunway();
    let m = await scrape(t.runway);
    expect(pools(m)).toEqual({
      cpu: { ...POOLS_IDLE.cpu, gpuAllocated: 0 },
      gpu: { ...POOLS_IDLE.gpu, gpuAllocated: 0 },
    });
    expect(value(m, 'runway_cluster_gpus_in_use')).toBe(0);
    expect(value(m, 'runway_cluster_gpus_unscheduled')).toBe(0);
    expect(value(m, 'runway_gpus_allocated')).toBe(0);

    // README_JOB: 4 cores, 16384 MiB, 2 GPUs.
    const id = await submit(t.runway, { ...README_JOB, annotations: { 'sim.runway.dev/duration-s': '60' } });
    await t.advance(5_000);
    expect(await job(t.runway, id)).toMatchObject({ status: 'RUNNING' });
    m = await scrape(t.runway);
    expect(pools(m)).toEqual({
      cpu: { ...POOLS_IDLE.cpu, gpuAllocated: 0 },
      gpu: { gpuCapacity: 16, gpuAllocated: 2, cpu: 128 - 4, memory: 2 * 512 * 1024 - 16384, gpu: 14 },
    });
    expect(value(m, 'runway_cluster_gpus_in_use')).toBe(2);
    expect(value(m, 'runway_cluster_gpus_unscheduled')).toBe(0);
    expect(value(m, 'runway_gpus_allocated')).toBe(2);

    expect(await runToEnd(t, t.runway, id)).toMatchObject({ status: 'SUCCEEDED' });
    m = await scrape(t.runway);
    expect(pools(m).gpu).toEqual({ ...POOLS_IDLE.gpu, gpuAllocated: 0 });
    expect(value(m, 'runway_cluster_gpus_in_use')).toBe(0);
    expect(value(m, 'runway_gpus_allocated')).toBe(0);
  });

  it('keeps ledger = pods in use + pods waiting in steady state, also with the GPU pool full', async () => {
    t = await startTestRunway();
    const long = { 'sim.runway.dev/duration-s': '300' };
    // Four 4-GPU jobs fill both GPU nodes; a fifth waits PENDING (Unschedulable) holding quota.
    for (const tenant of ['a', 'a', 'b', 'b', 'c']) await submit(t.runway, { ...README_JOB, gpu_count: 4, annotations: long }, tenant);
    // One more that runs to its end: it must leave no trace on either side.
    const short = await submit(t.runway, { ...CPU_JOB, annotations: { 'sim.runway.dev/duration-s': '2' } }, 'd');
    await t.advance(10_000);
    expect(await job(t.runway, short)).toMatchObject({ status: 'SUCCEEDED' });

    const m = await scrape(t.runway);
    const ledger = value(m, 'runway_gpus_allocated');
    const inUse = value(m, 'runway_cluster_gpus_in_use');
    const waiting = value(m, 'runway_cluster_gpus_unscheduled');
    expect({ ledger, inUse, waiting }).toEqual({ ledger: 20, inUse: 16, waiting: 4 });
    expect((inUse ?? NaN) + (waiting ?? NaN)).toBe(ledger);
    expect(pools(m).gpu).toMatchObject({ gpuAllocated: 16, gpu: 0 });
    // The pool gauge and the in-use gauge count the same bound pods.
    const allocated = samples(m, 'runway_pool_gpus', { state: 'allocated' }).reduce((n, x) => n + x.value, 0);
    expect(allocated).toBe(inUse);
  });
});

describe("the controller's pod accounting", () => {
  it('pods holding room and GPUs waiting for a node, kept as pods change, equal a count over every pod at every step', async () => {
    t = await startTestRunway({ RUNWAY_BACKOFF_LIMIT: '1' });
    const tr = t;
    const names = (pods: Iterable<K8sPod>) => [...pods].map((p) => p.metadata.name).sort();
    const seen = { holding: 0, waiting: 0 };
    const check = () => {
      const all = tr.cluster.pods();
      const holding = names(tr.runway.controller.podsHoldingRoom());
      expect(holding).toEqual(names(all.filter(holdsRoom)));
      expect(tr.runway.controller.unscheduledGpus()).toBe(clusterGpus(all).unscheduled);
      seen.holding = Math.max(seen.holding, holding.length);
      seen.waiting = Math.max(seen.waiting, tr.runway.controller.unscheduledGpus());
    };
    const gpuJob = (duration: number, extra: Record<string, string> = {}) => ({
      ...README_JOB,
      gpu_count: 4,
      annotations: { 'sim.runway.dev/duration-s': String(duration), ...extra },
    });
    // Five 4-GPU jobs for 16 GPUs: one waits. One fails its first attempt (a second pod), one is
    // cancelled while it runs, and the rest finish at different times.
    await submit(t.runway, gpuJob(20), 'a');
    await submit(t.runway, gpuJob(5, { 'sim.runway.dev/fail-attempts': '1' }), 'a');
    const cancelled = await submit(t.runway, gpuJob(300), 'b');
    await submit(t.runway, gpuJob(12), 'b');
    await submit(t.runway, gpuJob(8), 'c');
    check();
    for (let s = 0; s < 60; s++) {
      await t.advance(1000);
      check();
      if (s === 3) {
        expect((await tr.runway.app.inject({ method: 'DELETE', url: `/v1/jobs/${cancelled}` })).statusCode).toBe(200);
        check();
      }
    }
    expect(seen).toEqual({ holding: 4, waiting: 4 });
    expect(names(t.runway.controller.podsHoldingRoom())).toEqual([]);
    expect(t.runway.controller.unscheduledGpus()).toBe(0);
  });
});

describe('cardinality', () => {
  it('no metric carries a tenant label', async () => {
    t = await startTestRunway({ RUNWAY_BACKOFF_LIMIT: '1' });
    const id = await submit(t.runway, { ...README_JOB, annotations: { 'sim.runway.dev/fail-attempts': '1', 'sim.runway.dev/duration-s': '1' } });
    await runToEnd(t, t.runway, id);
    const m = await scrape(t.runway);
    expect(sum(m, 'runway_job_retries_total')).toBe(1);
    for (const s of m) expect(Object.keys(s.labels).some((k) => k.includes('tenant')), s.name).toBe(false);
  });
});
