import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { README_JOB, startTestRunway, type TestRunway } from '../helpers/runway.js';

let t: TestRunway;
beforeEach(async () => {
  t = await startTestRunway({ RUNWAY_RATE_LIMIT_PER_MIN: '6000', RUNWAY_RATE_LIMIT_BURST: '1000' });
});
afterEach(async () => t.close());

const inject = (opts: InjectOptions) => t.runway.app.inject(opts);
const submit = (body: unknown, tenant: string | null = 'team-a', path = '/v1/jobs') =>
  inject({ method: 'POST', url: path, payload: body as object, headers: tenant !== null ? { 'x-tenant-id': tenant } : {} });

function expectError(res: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  const body = res.json() as { error: { code: string; message: string; details: Record<string, unknown> }; request_id: string };
  expect(Object.keys(body).sort()).toEqual(['error', 'request_id']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
  expect(body.request_id).toBe(res.headers['x-request-id']);
  return body.error;
}

describe('submit', () => {
  it.each(['/v1/jobs', '/jobs'])('POST %s answers 201 with job id, status and the cost breakdown', async (path) => {
    const res = await submit(README_JOB, 'team-a', path);
    expect(res.statusCode).toBe(201);
    const body = res.json<Record<string, unknown>>();
    expect(body.job_id).toMatch(/^j[0-9a-v]{15}$/);
    expect(body.status).toBe('PENDING');
    expect(body.queue).toBe('default');
    expect(body.tenant_id).toBe('team-a');
    expect(body.estimated_cost).toEqual({ currency: 'USD', total: 1.5264, cpu: 0.3456, memory: 0.1728, gpu: 1.008, basis: 'timeout_s' });
    expect(typeof body.created_at).toBe('string');
    expect(res.headers.location).toBe(`/v1/jobs/${String(body.job_id)}`);
    // The job exists in the cluster: an AIJob and its attempt-1 Job.
    expect(t.cluster.aiJobs().map((j) => j.metadata.name)).toEqual([body.job_id]);
    expect(t.cluster.jobs().map((j) => j.metadata.name)).toEqual([`${String(body.job_id)}-1`]);
  });

  it("labels each AIJob with its tenant and queue (queued ones with admission: queued), one shared frozen object per tenant and queue", async () => {
    const cpuJob = { ...README_JOB, gpu_count: 0 };
    for (const [tenant, queue] of [['team-a', 'default'], ['team-a', 'default'], ['team-b', 'default'], ['team-a', 'batch'], ['team-a', 'batch']]) {
      expect((await submit({ ...cpuJob, queue }, tenant)).statusCode).toBeLessThan(300);
    }
    const labels = t.cluster.aiJobs().map((j) => j.metadata.labels ?? {});
    expect(labels.map((l) => ({ ...l }))).toEqual([
      { 'runway.dev/tenant': 'team-a', 'runway.dev/queue': 'default' },
      { 'runway.dev/tenant': 'team-a', 'runway.dev/queue': 'default' },
      { 'runway.dev/tenant': 'team-b', 'runway.dev/queue': 'default' },
      { 'runway.dev/tenant': 'team-a', 'runway.dev/queue': 'batch', 'runway.dev/admission': 'queued' },
      { 'runway.dev/tenant': 'team-a', 'runway.dev/queue': 'batch', 'runway.dev/admission': 'queued' },
    ]);
    expect(labels[1]).toBe(labels[0]);
    expect(labels[2]).not.toBe(labels[0]);
    expect(labels[4]).toBe(labels[3]);
    expect(labels.every(Object.isFrozen)).toBe(true);
  });

  it('takes the tenant from the body when there is no header', async () => {
    const res = await submit({ ...README_JOB, tenant_id: 'team-b' }, null);
    expect(res.statusCode).toBe(201);
    expect(res.json<{ tenant_id: string }>().tenant_id).toBe('team-b');
  });

  it('accepts a JSON body sent without a JSON content type (curl -d)', async () => {
    const res = await inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: JSON.stringify(README_JOB),
      headers: { 'x-tenant-id': 'team-a', 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.statusCode).toBe(201);
  });

  it('honours and echoes X-Request-ID, and generates one otherwise', async () => {
    const res = await inject({ method: 'POST', url: '/v1/jobs', payload: README_JOB, headers: { 'x-tenant-id': 'team-a', 'x-request-id': 'req-123' } });
    expect(res.headers['x-request-id']).toBe('req-123');
    const other = await submit(README_JOB);
    expect(other.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('returns the existing job for a repeated idempotency key', async () => {
    const first = await submit({ ...README_JOB, idempotency_key: 'run-42' });
    const again = await submit({ ...README_JOB, idempotency_key: 'run-42' });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(200);
    expect(again.json<{ job_id: string }>().job_id).toBe(first.json<{ job_id: string }>().job_id);
    expect(t.cluster.aiJobs()).toHaveLength(1);
  });
});

describe('refusals', () => {
  it('400 for malformed JSON', async () => {
    const res = await inject({ method: 'POST', url: '/v1/jobs', payload: '{"image": ', headers: { 'content-type': 'application/json', 'x-tenant-id': 'a' } });
    const err = expectError(res, 400, 'INVALID_REQUEST');
    expect(err.details.field).toBe('body');
  });

  it('400 for an empty body', async () => {
    const res = await inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json', 'x-tenant-id': 'a' } });
    expectError(res, 400, 'INVALID_REQUEST');
  });

  it('400 naming a wrong type', async () => {
    const err = expectError(await submit({ ...README_JOB, cpu: 'four' }), 400, 'INVALID_REQUEST');
    expect(err.details.field).toBe('cpu');
    expect(err.message).toBe('invalid cpu: must be number (got "four")');
  });

  it('400 naming an unknown field', async () => {
    const err = expectError(await submit({ ...README_JOB, gpus: 1 }), 400, 'INVALID_REQUEST');
    expect(err.details.field).toBe('gpus');
  });

  it('400 for a missing tenant', async () => {
    const err = expectError(await submit(README_JOB, null), 400, 'INVALID_REQUEST');
    expect(err.details.field).toBe('tenant_id');
  });

  it('400 for conflicting tenants', async () => {
    const err = expectError(await submit({ ...README_JOB, tenant_id: 'team-b' }, 'team-a'), 400, 'INVALID_REQUEST');
    expect(err.details.field).toBe('tenant_id');
  });

  it.each([
    ['cpu', { cpu: 9 }, 9, 8],
    ['memory_mb', { memory_mb: 65536 }, 65536, 32768],
    ['gpu_count', { gpu_count: 5 }, 5, 4],
    ['timeout_s', { timeout_s: 7200 }, 7200, 3600],
    ['replicas', { replicas: 9 }, 9, 8],
  ])('422 LIMIT_EXCEEDED naming %s, the requested value and the limit', async (bound, patch, requested, limit) => {
    const err = expectError(await submit({ ...README_JOB, ...patch }), 422, 'LIMIT_EXCEEDED');
    expect(err.details).toEqual({ bound, requested, limit });
  });

  it('403 QUOTA_EXCEEDED with GPUs in use, requested and the quota', async () => {
    for (let i = 0; i < 4; i++) expect((await submit(README_JOB)).statusCode).toBe(201); // 8 GPUs
    const err = expectError(await submit({ ...README_JOB, gpu_count: 1 }), 403, 'QUOTA_EXCEEDED');
    expect(err.details).toEqual({ resource: 'GPUs', tenant: 'team-a', in_use: 8, requested: 1, quota: 8 });
    // Another tenant is unaffected, and CPU-only jobs still go through.
    expect((await submit(README_JOB, 'team-b')).statusCode).toBe(201);
    expect((await submit({ ...README_JOB, gpu_count: 0 })).statusCode).toBe(201);
  });

  it('404 for an unknown job and an unknown route, in the error shape', async () => {
    expectError(await inject({ method: 'GET', url: '/v1/jobs/j0000000000000000' }), 404, 'NOT_FOUND');
    expectError(await inject({ method: 'GET', url: '/jobs/nope' }), 404, 'NOT_FOUND');
    expectError(await inject({ method: 'GET', url: '/v2/anything' }), 404, 'NOT_FOUND');
  });

  it('503 CLUSTER_UNAVAILABLE when the cluster is down, leaving nothing behind and holding no quota', async () => {
    t.cluster.setAvailable(false);
    const err = expectError(await submit(README_JOB), 503, 'CLUSTER_UNAVAILABLE');
    expect(err.message).toContain('nothing was created');
    t.cluster.setAvailable(true);
    await t.settle();
    expect(t.cluster.aiJobs()).toHaveLength(0);
    expect(t.runway.ledger.inUse('team-a').gpu).toBe(0);
  });

  it('503 when the Job create fails after the AIJob was written: the AIJob is rolled back', async () => {
    t.cluster.failNext('createJob');
    expectError(await submit(README_JOB), 503, 'CLUSTER_UNAVAILABLE');
    await t.settle();
    expect(t.cluster.aiJobs()).toHaveLength(0);
    expect(t.cluster.jobs()).toHaveLength(0);
    expect(t.runway.ledger.inUse('team-a').gpu).toBe(0);
  });
});

describe('a half-created job that cannot be rolled back', () => {
  it('503; the surviving AIJob keeps its quota, the controller completes it, and a resubmission with the key returns it', async () => {
    t.cluster.failNext('createJob');
    t.cluster.failNext('deleteAIJob');
    const body = { ...README_JOB, idempotency_key: 'k-survivor', annotations: { 'sim.runway.dev/duration-s': '5' } };
    const err = expectError(await submit(body), 503, 'CLUSTER_UNAVAILABLE');
    const keptId = (err.details as { job_id: string }).job_id;
    expect(err.message).toBe(
      `the Kubernetes API failed while creating job ${keptId} (simulated Unavailable (injected into createJob)) and its AIJob could not be removed: ` +
        'Runway will finish creating it; resubmit with the same idempotency_key to get it, or cancel it',
    );
    // At once, before anything else runs: the answer came after the rollback was settled.
    expect(t.runway.ledger.inUse('team-a').gpu).toBe(2);
    const again = await submit(body);
    expect(again.statusCode).toBe(200);
    const id = again.json<{ job_id: string }>().job_id;
    expect(id).toBe(keptId);
    await t.settle();
    expect(t.cluster.aiJobs().map((a) => a.metadata.name)).toEqual([id]);
    expect(t.cluster.jobs().map((j) => j.metadata.name)).toEqual([`${id}-1`]);
    await t.advance(10_000);
    expect(t.runway.service.get(id).status?.phase).toBe('SUCCEEDED');
    expect(t.runway.ledger.inUse('team-a').gpu).toBe(0);
  });
});

describe('group commit', () => {
  it('submissions admitted in separate callbacks of one event-loop turn write to the cluster together, at the turn end', async () => {
    const writes: string[] = [];
    const { cluster } = t;
    const createAIJob = cluster.createAIJob.bind(cluster);
    const createJob = cluster.createJob.bind(cluster);
    vi.spyOn(cluster, 'createAIJob').mockImplementation((job) => {
      writes.push(`AIJob ${job.metadata.name}`);
      return createAIJob(job);
    });
    vi.spyOn(cluster, 'createJob').mockImplementation((job) => {
      writes.push(`Job ${String(job.metadata.name)}`);
      return createJob(job);
    });
    const log = createLogger('silent');
    const submitInService = () => t.runway.service.submit({ ...README_JOB, gpu_count: 0 }, 'team-a', log);
    // Two requests read in one poll: two callbacks of one phase, with the microtasks drained between them.
    // Before group commit, the first one's writes had all happened by the time the second one started.
    let writtenBySecondStart: string[] = [];
    const results = await new Promise<Awaited<ReturnType<typeof submitInService>>[]>((resolve, reject) => {
      const pending: ReturnType<typeof submitInService>[] = [];
      setImmediate(() => pending.push(submitInService()));
      setImmediate(() => {
        writtenBySecondStart = [...writes];
        pending.push(submitInService());
        Promise.all(pending).then(resolve, reject);
      });
    });
    const [a, b] = results.map((r) => r.job.metadata.name);
    expect(a).not.toBe(b);
    expect(writtenBySecondStart).toEqual([]); // the first was admitted, and waited
    expect(writes).toEqual([`AIJob ${a}`, `AIJob ${b}`, `Job ${a}-1`, `Job ${b}-1`]);
    expect(results.map((r) => r.job.status?.phase ?? 'PENDING')).toEqual(['PENDING', 'PENDING']);
  });
});

describe('rate limit', () => {
  it('429 RATE_LIMITED with Retry-After in whole seconds once the burst is spent', async () => {
    await t.close();
    const now = 1_000_000;
    t = await startTestRunway({ RUNWAY_RATE_LIMIT_PER_MIN: '30', RUNWAY_RATE_LIMIT_BURST: '2' }, { now: () => now });
    const cpuJob = { ...README_JOB, gpu_count: 0 };
    expect((await submit(cpuJob)).statusCode).toBe(201);
    expect((await submit(cpuJob)).statusCode).toBe(201);
    const res = await submit(cpuJob);
    const err = expectError(res, 429, 'RATE_LIMITED');
    expect(res.headers['retry-after']).toBe('2'); // one token per 2 s
    expect(err.details).toEqual({ tenant: 'team-a', retry_after_s: 2, limit_per_min: 30, burst: 2 });
    // A refused request consumed no quota; another tenant has its own bucket.
    expect((await submit(cpuJob, 'team-b')).statusCode).toBe(201);
  });

  it('checks quota before the rate limit: a quota refusal spends no token', async () => {
    await t.close();
    t = await startTestRunway({ RUNWAY_RATE_LIMIT_PER_MIN: '1', RUNWAY_RATE_LIMIT_BURST: '1' }, { now: () => 0 });
    expectError(await submit({ ...README_JOB, gpu_count: 4, replicas: 3 }), 403, 'QUOTA_EXCEEDED');
    expect((await submit(README_JOB)).statusCode).toBe(201);
  });
});

describe('GPU quota under concurrency', () => {
  it('200 simultaneous submissions from one tenant never admit more GPUs than the quota', async () => {
    const url = await t.runway.listen();
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${url}/v1/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-tenant-id': 'team-a' },
          body: JSON.stringify({ ...README_JOB, gpu_count: 1 }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string } } })),
      ),
    );
    const created = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 403);
    expect(created).toHaveLength(8);
    expect(refused).toHaveLength(192);
    expect(refused.every((r) => r.body.error?.code === 'QUOTA_EXCEEDED')).toBe(true);
    expect(t.runway.ledger.inUse('team-a').gpu).toBe(8);
    expect(t.cluster.aiJobs()).toHaveLength(8);
  });
});

describe('estimate', () => {
  it('POST /v1/estimate returns the same breakdown and creates nothing', async () => {
    const res = await inject({ method: 'POST', url: '/v1/estimate', payload: README_JOB });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ estimated_cost: { currency: 'USD', total: 1.5264, cpu: 0.3456, memory: 0.1728, gpu: 1.008, basis: 'timeout_s' } });
    expect(t.cluster.aiJobs()).toHaveLength(0);
    expect(t.runway.ledger.totalGpu()).toBe(0);
  });

  it('applies validation and bounds', async () => {
    expectError(await inject({ method: 'POST', url: '/v1/estimate', payload: { ...README_JOB, cpu: -1 } }), 400, 'INVALID_REQUEST');
    expectError(await inject({ method: 'POST', url: '/v1/estimate', payload: { ...README_JOB, gpu_count: 8 } }), 422, 'LIMIT_EXCEEDED');
  });
});

describe('get and list', () => {
  it.each(['/v1/jobs', '/jobs'])('GET %s/{id} follows the job PENDING -> RUNNING -> SUCCEEDED', async (prefix) => {
    const id = (await submit({ ...README_JOB, annotations: { 'sim.runway.dev/duration-s': '30' } })).json<{ job_id: string }>().job_id;
    const get = async () => (await inject({ method: 'GET', url: `${prefix}/${id}` })).json<Record<string, unknown>>();
    expect((await get()).status).toBe('PENDING');
    await t.advance(5_000);
    expect((await get()).status).toBe('RUNNING');
    await t.advance(40_000);
    const done = await get();
    expect(done.status).toBe('SUCCEEDED');
    expect(done.exit_code).toBe(0);
    expect(done.attempts).toBe(1);
    expect(typeof done.started_at).toBe('string');
    expect(typeof done.finished_at).toBe('string');
    // The quota is released when the job ends.
    expect(t.runway.ledger.inUse('team-a').gpu).toBe(0);
  });

  it('lists newest first with tenant and status filters, and paginates without gaps or repeats', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await submit({ ...README_JOB, gpu_count: 0 }, i % 2 ? 'team-b' : 'team-a')).json<{ job_id: string }>().job_id);
    const list = async (q: string) => (await inject({ method: 'GET', url: `/v1/jobs${q}` })).json<{ items: Array<{ job_id: string }>; continue?: string }>();
    const all = await list('');
    expect(all.items.map((j) => j.job_id)).toEqual([...ids].reverse());
    expect(all.continue).toBeUndefined();
    const a = await list('?tenant=team-a');
    expect(a.items.map((j) => j.job_id)).toEqual(ids.filter((_, i) => i % 2 === 0).reverse());
    expect((await list('?status=SUCCEEDED')).items).toEqual([]);
    expect((await list('?status=PENDING')).items).toHaveLength(7);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await list(`?limit=3${token ? `&continue=${token}` : ''}`);
      seen.push(...page.items.map((j) => j.job_id));
      token = page.continue;
    } while (token);
    expect(seen).toEqual([...ids].reverse());
    const alias = (await inject({ method: 'GET', url: '/jobs?tenant=team-b' })).json<{ items: unknown[] }>();
    expect(alias.items).toHaveLength(3);
  });

  it.each([
    ['?status=DONE', 'status'],
    ['?limit=0', 'limit'],
    ['?limit=abc', 'limit'],
    ['?tenant=%C3%A9', 'tenant'],
    ['?continue=xyz', 'continue'],
    ['?colour=red', 'colour'],
  ])('400 for a bad list query %s', async (q, field) => {
    const err = expectError(await inject({ method: 'GET', url: `/v1/jobs${q}` }), 400, 'INVALID_REQUEST');
    expect(err.details.field).toBe(field);
  });
});

describe('operations', () => {
  it('/healthz answers ok', async () => {
    const res = await inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is ready when the cluster answers and 503 when it does not', async () => {
    expect((await inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready', cluster: 'sim', namespace: 'jobs' });
    t.cluster.setAvailable(false);
    expectError(await inject({ method: 'GET', url: '/readyz' }), 503, 'CLUSTER_UNAVAILABLE');
  });

  it('/metrics has the six contract metrics, no tenant label, and a latency histogram', async () => {
    await submit(README_JOB);
    await submit({ ...README_JOB, gpu_count: 9 });
    const text = (await inject({ method: 'GET', url: '/metrics' })).body;
    for (const name of ['jobs_submitted_total', 'jobs_rejected_total', 'gpu_quota_rejected_total', 'rate_limited_total', 'job_create_failures_total', 'request_latency_seconds']) {
      expect(text).toContain(`# TYPE ${name}`);
    }
    expect(text).toContain('# TYPE request_latency_seconds histogram');
    expect(text).toContain('jobs_submitted_total 1');
    expect(text).toContain('jobs_rejected_total{reason="LIMIT_EXCEEDED"} 1');
    expect(text).toMatch(/request_latency_seconds_bucket\{le="0\.5",route="\/v1\/jobs",method="POST",status="201"\} 1/);
    expect(text).not.toMatch(/\{[^}]*tenant[^}]*\}/); // no tenant label on any series
  });

  it('/docs serves the OpenAPI UI and document', async () => {
    const ui = await inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
    const doc = (await inject({ method: 'GET', url: '/docs/json' })).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/jobs/{id}', '/v1/estimate', '/healthz', '/readyz', '/metrics']));
  });

  it('logs one JSON line per request with tenant_id, job_id, request_id and estimated_cost', async () => {
    const res = await inject({ method: 'POST', url: '/v1/jobs', payload: README_JOB, headers: { 'x-tenant-id': 'team-a', 'x-request-id': 'trace-1' } });
    const id = res.json<{ job_id: string }>().job_id;
    const lines = t.logs.filter((l) => l.request_id === 'trace-1' && l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ tenant_id: 'team-a', job_id: id, estimated_cost: 1.5264, status: 201, method: 'POST', route: '/v1/jobs', level: 'info' });
    const transition = t.logs.find((l) => l.msg === `job ${id} submitted`);
    expect(transition).toMatchObject({ request_id: 'trace-1', tenant_id: 'team-a', job_id: id, estimated_cost: 1.5264 });
  });
});
