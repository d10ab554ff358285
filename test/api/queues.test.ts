/**
 * Queues end to end on the embedded simulated cluster (manual clock): queued admission, priority,
 * FIFO, fair share, gang, preemption, retries, cancel, manual retry and the queue / node-pool views,
 * observed through the HTTP API. The sim starts with queues `default` (direct) and `batch` (queued,
 * maxConcurrency 100, PreemptLowerPriority), pools cpu (4 x 32 cores) and gpu (2 x 8 GPUs).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PolicyResource } from '../../src/core/policy.js';
import { createRunway } from '../../src/runway.js';
import { README_JOB, startTestRunway, type TestRunway } from '../helpers/runway.js';

const ENV = { RUNWAY_RETRY_BASE_DELAY_S: '10', RUNWAY_RATE_LIMIT_BURST: '1000', RUNWAY_RATE_LIMIT_PER_MIN: '6000' };
let t: TestRunway;
beforeEach(async () => {
  t = await startTestRunway(ENV);
});
afterEach(async () => t.close());

type View = Record<string, unknown> & { job_id: string; status: string };

const GPU_JOB = { ...README_JOB, gpu_count: 4, queue: 'batch' };
const runFor = (s: number) => ({ 'sim.runway.dev/duration-s': String(s) });

async function submit(tenant: string, body: Record<string, unknown>): Promise<{ code: number; job: View }> {
  const res = await t.runway.app.inject({ method: 'POST', url: '/v1/jobs', payload: body, headers: { 'x-tenant-id': tenant } });
  return { code: res.statusCode, job: res.json<View>() };
}

async function get(id: string): Promise<View> {
  t.runway.scheduler.explain();
  return (await t.runway.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<View>();
}

async function statuses(ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await get(id)).status));
}

async function policy(obj: Omit<PolicyResource, 'apiVersion'>): Promise<void> {
  await t.cluster.putPolicy({ apiVersion: 'runway.dev/v1alpha1', ...obj } as PolicyResource);
  await t.settle();
}

/** Advances the clock until the job reaches one of `until`, or fails after `maxMs`. */
async function waitFor(id: string, until: string[], maxMs = 600_000): Promise<View> {
  for (let ms = 0; ms <= maxMs; ms += 1000) {
    const job = await get(id);
    if (until.includes(job.status)) return job;
    await t.advance(1000);
  }
  throw new Error(`job ${id} did not reach ${until.join('/')}: ${(await get(id)).status}`);
}

describe('queued admission', () => {
  it('admits at once (201) when the job fits, into the pool that can hold it', async () => {
    const { code, job } = await submit('a', { ...GPU_JOB, annotations: runFor(5) });
    expect(code).toBe(201);
    expect(job).toMatchObject({ status: 'PENDING', queue: 'batch', pool: 'gpu', attempt: 1 });
    const done = await waitFor(job.job_id, ['SUCCEEDED']);
    expect(done).toMatchObject({ status: 'SUCCEEDED', attempt: 1, exit_code: 0 });
    expect(t.runway.ledger.inUse('a').gpu).toBe(0);
  });

  it('queues (202) over quota with a position and a reason, and admits when quota frees', async () => {
    const first = await submit('a', { ...GPU_JOB, annotations: runFor(30) });
    const second = await submit('a', { ...GPU_JOB, annotations: runFor(30) });
    const third = await submit('a', { ...GPU_JOB, annotations: runFor(5) });
    expect([first.code, second.code, third.code]).toEqual([201, 201, 202]);
    // The 202 itself says where the job stands and why (a short queue is explained at once).
    expect(third.job).toMatchObject({ status: 'QUEUED', queue_position: 1, pending_cause: 'Quota' });
    expect(third.job.pending_reason).toMatch(/quota/i);
    const waiting = await get(third.job.job_id);
    expect(waiting).toMatchObject({ status: 'QUEUED', queue_position: 1, pending_cause: 'Quota', attempt: 0 });
    expect(waiting.pending_reason).toMatch(/quota/i);
    expect(t.runway.ledger.inUse('a').gpu).toBe(8); // the queued job holds nothing
    await waitFor(first.job.job_id, ['SUCCEEDED']);
    const admitted = await waitFor(third.job.job_id, ['PENDING', 'RUNNING']);
    expect(admitted).toMatchObject({ attempt: 1, pool: 'gpu' });
    expect(admitted.queue_position).toBeUndefined();
  });

  it('refuses at submit a job that could never fit: bigger than the quota (403) or than every pool (422)', async () => {
    const overQuota = await submit('a', { ...GPU_JOB, replicas: 3 });
    expect(overQuota.code).toBe(403);
    expect(overQuota.job).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { never_fits: true, requested: 12, quota: 8 } } });
    await policy({ kind: 'TenantPolicy', metadata: { name: 'big' }, spec: { gpuQuota: 64 } });
    const overPool = await submit('big', { ...GPU_JOB, replicas: 5 });
    expect(overPool.code).toBe(422);
    expect(overPool.job).toMatchObject({ error: { code: 'LIMIT_EXCEEDED', details: { bound: 'pool_capacity', queue: 'batch' } } });
    expect(t.runway.store.size).toBe(0);
  });

  it('404 for an unknown queue, 403 for a queue the tenant may not use', async () => {
    const unknown = await submit('a', { ...GPU_JOB, queue: 'nope' });
    expect(unknown.code).toBe(404);
    expect(unknown.job).toMatchObject({ error: { code: 'NOT_FOUND', details: { kind: 'queue', id: 'nope' } } });
    await policy({ kind: 'TenantPolicy', metadata: { name: 'a' }, spec: { allowedQueues: ['default'] } });
    const denied = await submit('a', GPU_JOB);
    expect(denied.code).toBe(403);
    expect(denied.job).toMatchObject({ error: { code: 'QUEUE_NOT_ALLOWED', details: { queue: 'batch', allowed_queues: ['default'] } } });
  });

  it('headroom rule: refuses when usage plus the request reaches 90% of the quota', async () => {
    await policy({ kind: 'TenantPolicy', metadata: { name: 'a' }, spec: { gpuQuota: 8, headroomRule: true } });
    expect((await submit('a', { ...README_JOB, gpu_count: 4, annotations: runFor(100) })).code).toBe(201); // 4 of 8: 50%
    const refused = await submit('a', { ...README_JOB, gpu_count: 4 }); // 8 of 8 is within the quota, but >= 90%
    expect(refused.code).toBe(403);
    expect(refused.job).toMatchObject({
      error: { code: 'BUDGET_EXCEEDED', details: { resource: 'GPUs', in_use: 4, requested: 4, quota: 8, threshold: 0.9 } },
    });
    expect((await submit('a', { ...README_JOB, gpu_count: 2 })).code).toBe(201); // 6 of 8: 75%
    expect((await submit('b', { ...README_JOB, gpu_count: 4 })).code).toBe(201); // no rule for b
  });
});

describe('order', () => {
  it('higher priority first, FIFO within a priority', async () => {
    await policy({ kind: 'AIJobQueue', metadata: { name: 'gate' }, spec: { admission: 'queued', maxConcurrency: 1 } });
    const cpu = { ...README_JOB, gpu_count: 0, cpu: 1, memory_mb: 1024, queue: 'gate' };
    const running = await submit('a', { ...cpu, annotations: runFor(10) });
    const low1 = await submit('b', { ...cpu, annotations: runFor(10) });
    const low2 = await submit('c', { ...cpu, annotations: runFor(10) });
    const high = await submit('d', { ...cpu, priority: 5, annotations: runFor(10) });
    expect([running.code, low1.code, low2.code, high.code]).toEqual([201, 202, 202, 202]);
    expect((await get(high.job.job_id)).queue_position).toBe(1);
    expect((await get(low1.job.job_id)).queue_position).toBe(2);
    expect((await get(low2.job.job_id)).queue_position).toBe(3);
    await waitFor(running.job.job_id, ['SUCCEEDED']);
    await waitFor(high.job.job_id, ['RUNNING']);
    expect(await statuses([low1.job.job_id, low2.job.job_id])).toEqual(['QUEUED', 'QUEUED']);
    await waitFor(high.job.job_id, ['SUCCEEDED']);
    await waitFor(low1.job.job_id, ['RUNNING']);
    expect((await get(low2.job.job_id)).status).toBe('QUEUED');
  });

  it('fair share: a tenant below its share goes before an older job of a tenant above it', async () => {
    await policy({ kind: 'AIJobQueue', metadata: { name: 'gate' }, spec: { admission: 'queued', maxConcurrency: 1 } });
    const cpu = { ...README_JOB, gpu_count: 0, cpu: 1, memory_mb: 1024 };
    // Tenant a already uses the cluster (a long job in the default queue); b uses nothing.
    expect((await submit('a', { ...cpu, cpu: 8, annotations: runFor(1000) })).code).toBe(201);
    const gateHolder = await submit('c', { ...cpu, queue: 'gate', annotations: runFor(10) });
    const a2 = await submit('a', { ...cpu, queue: 'gate', annotations: runFor(10) });
    const b1 = await submit('b', { ...cpu, queue: 'gate', annotations: runFor(10) });
    expect([a2.code, b1.code]).toEqual([202, 202]);
    expect((await get(b1.job.job_id)).queue_position).toBe(1);
    await waitFor(gateHolder.job.job_id, ['SUCCEEDED']);
    await waitFor(b1.job.job_id, ['RUNNING']);
    expect((await get(a2.job.job_id)).status).toBe('QUEUED');
  });
});

describe('gang', () => {
  it('admits replicas all at once as one Job (parallelism = completions = N), or not at all', async () => {
    await policy({ kind: 'TenantPolicy', metadata: { name: 'g' }, spec: { gpuQuota: 16 } });
    const blocker = await submit('a', { ...GPU_JOB, gpu_count: 2, annotations: runFor(60) });
    expect(blocker.code).toBe(201);
    // 4 pods x 4 GPUs = 16 GPUs: the whole pool. With 2 GPUs taken it must wait, without starting any pod.
    const gang = await submit('g', { ...GPU_JOB, replicas: 4, annotations: runFor(10) });
    expect(gang.code).toBe(202);
    const waiting = await get(gang.job.job_id);
    expect(waiting.pending_reason).toMatch(/gpu/);
    expect(t.cluster.jobs().filter((j) => j.metadata.labels?.['runway.dev/job-id'] === gang.job.job_id)).toHaveLength(0);
    await waitFor(blocker.job.job_id, ['SUCCEEDED']);
    await waitFor(gang.job.job_id, ['PENDING', 'RUNNING']);
    const job = t.cluster.jobs().find((j) => j.metadata.name === `${gang.job.job_id}-1`);
    expect(job?.spec).toMatchObject({ parallelism: 4, completions: 4, backoffLimit: 0 });
    expect(job?.spec.template.spec.nodeSelector).toEqual({ 'runway.dev/pool': 'gpu' });
    await waitFor(gang.job.job_id, ['SUCCEEDED']);
  });
});

describe('preemption', () => {
  async function fillGpuPool(priority: number): Promise<string[]> {
    const ids: string[] = [];
    for (const tenant of ['a', 'a', 'b', 'b']) {
      const r = await submit(tenant, { ...GPU_JOB, priority, annotations: runFor(1000) });
      expect(r.code).toBe(201);
      ids.push(r.job.job_id);
      await t.advance(1000); // distinct admission times
    }
    await t.advance(5000);
    return ids;
  }

  it('evicts just enough of the lowest-priority, most recently admitted jobs; victims queue again', async () => {
    const victims = await fillGpuPool(0);
    const high = await submit('c', { ...GPU_JOB, priority: 10, annotations: runFor(10) });
    expect(high.code).toBe(202);
    await t.advance(3000);
    const after = await Promise.all(victims.map(get));
    expect(after.map((j) => j.status)).toEqual(['RUNNING', 'RUNNING', 'RUNNING', 'QUEUED']);
    expect(after[3]).toMatchObject({ reason: 'Preempted', preemptions: 1, attempt: 1 });
    expect(after[3]?.failures).toBeUndefined();
    await waitFor(high.job.job_id, ['RUNNING']);
    const metrics = (await t.runway.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('runway_preemptions_total 1');
    // The victim runs again, as attempt 2, once the preemptor is done.
    await waitFor(high.job.job_id, ['SUCCEEDED']);
    const back = await waitFor(victims[3] as string, ['RUNNING']);
    expect(back).toMatchObject({ attempt: 2, preemptions: 1 });
  });

  it('a Never queue does not preempt: the higher-priority job waits', async () => {
    await policy({ kind: 'AIJobQueue', metadata: { name: 'polite' }, spec: { admission: 'queued', preemptionPolicy: 'Never' } });
    const victims = await fillGpuPool(0);
    const high = await submit('c', { ...GPU_JOB, queue: 'polite', priority: 10 });
    expect(high.code).toBe(202);
    await t.advance(5000);
    expect(await statuses(victims)).toEqual(['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING']);
    expect((await get(high.job.job_id)).pending_cause).toBe('Capacity');
  });
});

describe('retries', () => {
  it('a failed attempt is RETRYING with next_attempt_at, then a new attempt Job; success ends it', async () => {
    const { job } = await submit('a', { ...GPU_JOB, annotations: { ...runFor(2), 'sim.runway.dev/fail-attempts': '2' } });
    const retrying = await waitFor(job.job_id, ['RETRYING']);
    expect(retrying).toMatchObject({ failures: 1, attempt: 1, reason: 'Error', exit_code: 1 });
    const due = Date.parse(retrying.next_attempt_at as string);
    expect(due - t.clock.now()).toBeLessThanOrEqual(10_000);
    const second = await waitFor(job.job_id, ['PENDING', 'RUNNING']);
    expect(second.attempt).toBe(2);
    const third = await waitFor(job.job_id, ['SUCCEEDED']);
    expect(third).toMatchObject({ attempt: 3, failures: 2 });
    expect(t.cluster.jobs().map((j) => j.metadata.name).filter((n) => n.startsWith(job.job_id)).sort()).toEqual(
      [1, 2, 3].map((n) => `${job.job_id}-${n}`),
    );
  });

  it('exhausted: DEAD_LETTER after 3 attempts (the queued default), then a manual retry runs it again', async () => {
    const { job } = await submit('a', { ...GPU_JOB, annotations: { ...runFor(2), 'sim.runway.dev/fail-attempts': '3' } });
    const dead = await waitFor(job.job_id, ['DEAD_LETTER', 'SUCCEEDED', 'FAILED']);
    expect(dead).toMatchObject({ status: 'DEAD_LETTER', attempt: 3, failures: 3, reason: 'Error' });
    expect(t.runway.ledger.inUse('a').gpu).toBe(0);
    const res = await t.runway.app.inject({ method: 'POST', url: `/v1/jobs/${job.job_id}/retry` });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ status: 'PENDING', attempt: 4, failures: 0 });
    expect(await waitFor(job.job_id, ['SUCCEEDED'])).toMatchObject({ attempt: 4 });
  });

  it('manual retry of a job that is not failed is 409; of an unknown job 404', async () => {
    const { job } = await submit('a', { ...GPU_JOB, annotations: runFor(100) });
    const res = await t.runway.app.inject({ method: 'POST', url: `/v1/jobs/${job.job_id}/retry` });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'CONFLICT', details: { status: 'PENDING' } } });
    expect((await t.runway.app.inject({ method: 'POST', url: '/v1/jobs/j000000000000000/retry' })).statusCode).toBe(404);
  });

  it('the direct queue keeps backoffLimit only: FAILED, no Runway retry', async () => {
    const { code, job } = await submit('a', { ...README_JOB, annotations: { ...runFor(2), 'sim.runway.dev/exit-code': '3' } });
    expect(code).toBe(201);
    const failed = await waitFor(job.job_id, ['FAILED', 'RETRYING', 'DEAD_LETTER']);
    expect(failed).toMatchObject({ status: 'FAILED', attempt: 1, attempts: 3 });
  });
});

describe('cancel', () => {
  it('a running job: CANCELLED, its Job deleted, its quota released once; repeating it is harmless', async () => {
    const { job } = await submit('a', { ...GPU_JOB, annotations: runFor(1000) });
    await waitFor(job.job_id, ['RUNNING']);
    const res = await t.runway.app.inject({ method: 'DELETE', url: `/v1/jobs/${job.job_id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'CANCELLED', reason: 'Cancelled' });
    await t.advance(2000);
    expect(t.cluster.jobs().find((j) => j.metadata.name === `${job.job_id}-1`)).toBeUndefined();
    expect(t.runway.ledger.inUse('a').gpu).toBe(0);
    const again = await t.runway.app.inject({ method: 'DELETE', url: `/v1/jobs/${job.job_id}` });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ status: 'CANCELLED' });
    const metrics = (await t.runway.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('runway_job_outcomes_total{status="CANCELLED",reason="Cancelled"} 1');
  });

  it('a queued job leaves the queue; the one behind it moves up', async () => {
    await submit('a', { ...GPU_JOB, annotations: runFor(1000) });
    await submit('a', { ...GPU_JOB, annotations: runFor(1000) });
    const q1 = await submit('a', GPU_JOB);
    const q2 = await submit('a', GPU_JOB);
    expect((await get(q2.job.job_id)).queue_position).toBe(2);
    const res = await t.runway.app.inject({ method: 'DELETE', url: `/jobs/${q1.job.job_id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'CANCELLED', attempt: 0 });
    expect((await get(q2.job.job_id)).queue_position).toBe(1);
  });

  it('409 for a finished job, 404 for an unknown one', async () => {
    const { job } = await submit('a', { ...README_JOB, annotations: runFor(1) });
    await waitFor(job.job_id, ['SUCCEEDED']);
    const res = await t.runway.app.inject({ method: 'DELETE', url: `/v1/jobs/${job.job_id}` });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'CONFLICT', details: { status: 'SUCCEEDED' } } });
    expect((await t.runway.app.inject({ method: 'DELETE', url: '/v1/jobs/j000000000000000' })).statusCode).toBe(404);
  });
});

describe('views', () => {
  it('GET /v1/queues: per queue queued, admitted, running and usage', async () => {
    await submit('a', { ...GPU_JOB, annotations: runFor(1000) });
    await submit('a', { ...GPU_JOB, annotations: runFor(1000) });
    await submit('a', GPU_JOB);
    await t.advance(5000);
    const { items } = (await t.runway.app.inject({ method: 'GET', url: '/v1/queues' })).json<{ items: Array<Record<string, unknown>> }>();
    expect(items.map((q) => q.name)).toEqual(['batch', 'default']);
    expect(items[0]).toEqual({
      name: 'batch',
      admission: 'queued',
      priority: 0,
      preemption_policy: 'PreemptLowerPriority',
      max_concurrency: 100,
      clusters: [],
      queued: 1,
      admitted: 0,
      running: 2,
      usage: { cpu: 8, memory_mb: 32768, gpu: 8 },
    });
  });

  it('GET /v1/nodepools: capacity, allocation, free, queued demand, the head job and its ETA, exhausted', async () => {
    for (const tenant of ['a', 'a', 'b', 'b']) await submit(tenant, { ...GPU_JOB, expected_runtime_s: 600, annotations: runFor(600) });
    await t.advance(5000);
    const head = await submit('c', GPU_JOB);
    expect(head.code).toBe(202);
    t.runway.scheduler.explain();
    const { items } = (await t.runway.app.inject({ method: 'GET', url: '/v1/nodepools' })).json<{ items: Array<Record<string, unknown>> }>();
    const gpu = items.find((p) => p.name === 'gpu');
    expect(gpu).toMatchObject({
      nodes: 2,
      capacity: { gpu: 16, cpu: 128 },
      allocated: { gpu: 16, cpu: 16 },
      free: { gpu: 0 },
      running_jobs: 4,
      queued_jobs: 1,
      queued_demand: { gpu: 4, cpu: 4, memory_mb: 16384 },
      exhausted: true,
      head_job: { job_id: head.job.job_id },
    });
    const eta = Date.parse((gpu?.head_job as { estimated_start: string }).estimated_start);
    expect(eta - t.clock.now()).toBeGreaterThan(500_000);
    expect(eta - t.clock.now()).toBeLessThanOrEqual(600_000);
    expect(items.find((p) => p.name === 'cpu')).toMatchObject({ nodes: 4, exhausted: false, queued_jobs: 0 });
  });
});

describe('pool of a direct job', () => {
  it('GET /v1/nodepools counts direct jobs in the pool of the node their pod is bound to', async () => {
    const cpuJob = { ...README_JOB, gpu_count: 0, cpu: 2, memory_mb: 1024, annotations: runFor(600) };
    for (const tenant of ['a', 'b', 'c']) expect((await submit(tenant, cpuJob)).code).toBe(201);
    expect((await submit('d', { ...README_JOB, gpu_count: 1, annotations: runFor(600) })).code).toBe(201);
    await t.advance(3000);
    const { items } = (await t.runway.app.inject({ method: 'GET', url: '/v1/nodepools' })).json<{ items: Array<Record<string, unknown>> }>();
    expect(Object.fromEntries(items.map((p) => [p.name, p.running_jobs]))).toEqual({ cpu: 3, gpu: 1 });
    expect(items.find((p) => p.name === 'cpu')).toMatchObject({ allocated: { cpu: 6, memory_mb: 3072, gpu: 0 } });
  });
});

describe('policy statuses', () => {
  type Doc = { metadata: { resourceVersion: string }; status?: Record<string, unknown> };
  const doc = async (url: string) => (await t.runway.app.inject({ method: 'GET', url })).json<Doc>();

  it('the leader writes the queue, pool and tenant statuses the views show, and only what changed', async () => {
    await t.close();
    t = await startTestRunway({ ...ENV, RUNWAY_POLICY_STATUS_INTERVAL_S: '0.1' }); // wall-clock seconds
    await policy({ kind: 'TenantPolicy', metadata: { name: 'a' }, spec: { gpuQuota: 8 } });
    const running = [await submit('a', { ...GPU_JOB, annotations: runFor(1000) }), await submit('a', { ...GPU_JOB, annotations: runFor(1000) })];
    expect((await submit('a', { ...GPU_JOB, annotations: runFor(1000) })).code).toBe(202);
    await t.advance(5000);

    const batch = await vi.waitFor(async () => {
      const d = await doc('/v1/queues/batch');
      expect(d.status).toEqual({ queued: 1, admitted: 0, running: 2 });
      return d;
    });
    expect((await doc('/v1/clusters/gpu')).status).toEqual({ nodes: 2, runningJobs: 2, allocatedGPUs: 8, allocatedCPU: 8, allocatedMemoryMb: 32768 });
    expect((await doc('/v1/clusters/cpu')).status).toEqual({ nodes: 4, runningJobs: 0, allocatedGPUs: 0, allocatedCPU: 0, allocatedMemoryMb: 0 });
    expect((await doc('/v1/tenants/a')).status).toEqual({ gpusAllocated: 8 });
    expect((await doc('/v1/queues/default')).status).toEqual({ queued: 0, admitted: 0, running: 0 });
    expect(t.cluster.policy('AIJobQueue', 'batch')?.status).toEqual({ queued: 1, admitted: 0, running: 2 });

    // Nothing changed: nothing is written, the object keeps its version.
    expect(await t.runway.policyStatus.reportNow()).toBe(0);
    expect((await doc('/v1/queues/batch')).metadata.resourceVersion).toBe(batch.metadata.resourceVersion);

    // A status write is not a policy change: it starts no scheduling cycle. A wrong status is put right.
    const trigger = vi.spyOn(t.runway.scheduler, 'trigger');
    await t.cluster.updatePolicyStatus('AIJobQueue', 'batch', { queued: 0, admitted: 0, running: 0 });
    await t.settle();
    expect(trigger).not.toHaveBeenCalled();
    trigger.mockRestore();
    await vi.waitFor(async () => expect((await doc('/v1/queues/batch')).status).toEqual({ queued: 1, admitted: 0, running: 2 }));

    // The queued job runs once a running one is cancelled.
    expect((await t.runway.app.inject({ method: 'DELETE', url: `/v1/jobs/${running[0]?.job.job_id}` })).statusCode).toBe(200);
    await t.advance(5000);
    await vi.waitFor(async () => expect((await doc('/v1/queues/batch')).status).toEqual({ queued: 0, admitted: 0, running: 2 }));
    expect((await doc('/v1/tenants/a')).status).toEqual({ gpusAllocated: 8 });
  });
});

describe('restart', () => {
  it('loses and duplicates nothing: queued, retrying and half-admitted jobs carry on in a new instance', async () => {
    const first = t.runway;
    const running = [await submit('a', { ...GPU_JOB, annotations: runFor(60) }), await submit('a', { ...GPU_JOB, annotations: runFor(60) })];
    const queued = await submit('a', { ...GPU_JOB, annotations: runFor(5) });
    const retrying = await submit('b', { ...GPU_JOB, annotations: { ...runFor(2), 'sim.runway.dev/fail-attempts': '1' } });
    expect(queued.code).toBe(202);
    await waitFor(retrying.job.job_id, ['RETRYING']);
    // The next admission writes its status, then its Job creation fails: "crash" in between.
    t.cluster.failNext('createJob');
    const halfway = await submit('c', { ...GPU_JOB, annotations: runFor(5) });
    expect(halfway.job).toMatchObject({ status: 'PENDING', attempt: 1 });
    expect(t.cluster.jobs().some((j) => j.metadata.name === `${halfway.job.job_id}-1`)).toBe(false);

    await first.app.close();
    first.policyStatus.stop();
    first.scheduler.stop();
    first.controller.stop();
    const second = await createRunway(t.config, { cluster: t.cluster, logger: first.logger });
    t.runway = second;
    await t.settle();
    // The ledger is rebuilt from statuses: what a holds (8 GPUs) and c's admitted job; b (RETRYING) and the queued job hold nothing.
    expect(second.ledger.inUse('a').gpu).toBe(8);
    expect(second.ledger.inUse('c').gpu).toBe(4);
    expect(second.ledger.inUse('b').gpu).toBe(0);
    for (const r of [...running, queued, retrying, halfway]) expect(await waitFor(r.job.job_id, ['SUCCEEDED'])).toMatchObject({ status: 'SUCCEEDED' });
    const names = t.cluster.jobs().map((j) => j.metadata.name).sort();
    expect(names).toEqual(
      [
        ...running.map((r) => `${r.job.job_id}-1`),
        `${queued.job.job_id}-1`,
        `${retrying.job.job_id}-1`,
        `${retrying.job.job_id}-2`,
        `${halfway.job.job_id}-1`,
      ].sort(),
    );
    for (const tenant of ['a', 'b', 'c']) expect(second.ledger.inUse(tenant).gpu).toBe(0);
  });
});
