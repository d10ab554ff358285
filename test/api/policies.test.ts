/**
 * The policy routes (GET/PUT/DELETE /v1/{queues|clusters|tenants}/{name}, GET /v1/clusters and
 * /v1/tenants) on the embedded simulated cluster, through the HTTP API: create and replace, reads,
 * deletes, validation, the admin token, the implicit default queue, and policies taking effect on
 * submissions. The sim starts with queues `default` (direct) and `batch`, ComputeClusters cpu and gpu,
 * and no TenantPolicy.
 */
import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { README_JOB, startTestRunway, type TestRunway } from '../helpers/runway.js';

const API_VERSION = 'runway.dev/v1alpha1';
const TOKEN = 'policy-admin-token-0123456789';

let t: TestRunway;
beforeEach(async () => {
  t = await startTestRunway({ RUNWAY_RATE_LIMIT_PER_MIN: '6000', RUNWAY_RATE_LIMIT_BURST: '1000' });
});
afterEach(async () => t.close());

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid?: string; resourceVersion?: string; generation?: number; creationTimestamp?: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
  request_id: string;
}

type Res = Awaited<ReturnType<TestRunway['runway']['app']['inject']>>;

const inject = (opts: InjectOptions, on: TestRunway = t) => on.runway.app.inject(opts);
const get = (url: string, on?: TestRunway) => inject({ method: 'GET', url }, on);
const put = (url: string, payload: unknown, headers: Record<string, string> = {}, on?: TestRunway) =>
  inject({ method: 'PUT', url, payload: payload as object, headers }, on);
const del = (url: string, headers: Record<string, string> = {}, on?: TestRunway) => inject({ method: 'DELETE', url, headers }, on);
const submit = (tenant: string, body: Record<string, unknown>) =>
  inject({ method: 'POST', url: '/v1/jobs', payload: body, headers: { 'x-tenant-id': tenant } });

function expectError(res: Res, status: number, code: string): ErrorBody['error'] {
  expect(res.statusCode).toBe(status);
  const body = res.json<ErrorBody>();
  expect(Object.keys(body).sort()).toEqual(['error', 'request_id']);
  expect(body.error.code).toBe(code);
  expect(body.request_id).toBe(res.headers['x-request-id']);
  return body.error;
}

const KINDS = [
  {
    kind: 'AIJobQueue',
    path: 'queues',
    noun: 'queue',
    spec: { admission: 'queued', maxConcurrency: 5, priority: 3, clusters: ['gpu'], retryPolicy: { maxRetries: 2 } },
    replaced: { admission: 'direct', maxConcurrency: 6 },
  },
  {
    kind: 'ComputeCluster',
    path: 'clusters',
    noun: 'compute cluster',
    spec: { nodeSelector: { 'runway.dev/pool': 'gpu' }, capacity: { maxGPUs: 4, maxCPU: 1.5 } },
    replaced: { capacity: { maxJobs: 10 } },
  },
  {
    kind: 'TenantPolicy',
    path: 'tenants',
    noun: 'tenant policy',
    spec: { gpuQuota: 2, cpuQuota: 0.5, allowedQueues: ['default'], headroomRule: true, budget: { monthlyUsd: 100 } },
    replaced: { tenantId: 'Team_X', gpuQuota: 3 },
  },
] as const;

describe.each(KINDS)('$kind at /v1/$path/{name}', ({ kind, path, noun, spec, replaced }) => {
  const url = `/v1/${path}/p1`;
  const doc = (s: Record<string, unknown>, name = 'p1') => ({ apiVersion: API_VERSION, kind, metadata: { name }, spec: s });

  it('PUT creates (201) and replaces (200), answering the stored document; GET answers the same', async () => {
    expectError(await get(url), 404, 'NOT_FOUND');

    const created = await put(url, doc(spec));
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe(url);
    const first = created.json<Doc>();
    expect(first).toEqual({
      apiVersion: API_VERSION,
      kind,
      metadata: { name: 'p1', uid: expect.any(String), resourceVersion: expect.any(String), generation: 1, creationTimestamp: expect.any(String) },
      spec,
    });
    expect((await get(url)).json()).toEqual(first);

    // The same document again: 200, nothing changed (same resourceVersion and generation).
    const same = await put(url, doc(spec));
    expect(same.statusCode).toBe(200);
    expect(same.json()).toEqual(first);

    // Just {spec} replaces the spec whole: fields left out go back to their defaults.
    const replacedRes = await put(url, { spec: replaced });
    expect(replacedRes.statusCode).toBe(200);
    const second = replacedRes.json<Doc>();
    expect(second).toEqual({ ...first, metadata: { ...first.metadata, resourceVersion: expect.any(String), generation: 2 }, spec: replaced });
    expect(second.metadata.uid).toBe(first.metadata.uid);
    expect(second.metadata.resourceVersion).not.toBe(first.metadata.resourceVersion);
    expect((await get(url)).json()).toEqual(second);

    // A document read back (server-set metadata, status) can be PUT again as it is.
    const readBack = await put(url, { ...second, status: { anything: true } });
    expect(readBack.statusCode).toBe(200);
    expect(readBack.json()).toEqual(second);
  });

  it('DELETE answers 204 and the object is gone; a second DELETE is 404', async () => {
    expect((await put(url, doc(spec))).statusCode).toBe(201);
    const deleted = await del(url);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect(expectError(await get(url), 404, 'NOT_FOUND')).toEqual({ code: 'NOT_FOUND', message: `${noun} p1 not found`, details: { kind: noun, id: 'p1' } });
    expect(expectError(await del(url), 404, 'NOT_FOUND').message).toBe(`${noun} p1 not found`);
    // Created again after a delete: 201, a new object.
    const again = await put(url, doc(spec));
    expect(again.statusCode).toBe(201);
    expect(again.json<Doc>().metadata.generation).toBe(1);
    expect((await get(url)).json()).toEqual(again.json());
  });

  it('400 INVALID_REQUEST naming the field: wrong kind, apiVersion, name, unknown fields; nothing is stored', async () => {
    const cases: Array<[unknown, string, string, Record<string, unknown>?]> = [
      [{ ...doc(spec), kind: 'Job' }, 'kind', `kind "Job" does not match this endpoint, which takes ${kind}`, { expected: kind }],
      [{ ...doc(spec), apiVersion: 'v1' }, 'apiVersion', 'apiVersion must be runway.dev/v1alpha1 (got "v1")'],
      [doc(spec, 'p2'), 'metadata.name', 'metadata.name "p2" does not match the name in the path "p1"'],
      [{ ...doc(spec), metadata: { name: 7 } }, 'metadata.name', 'invalid metadata.name: must be string (got 7)'],
      [{ ...doc(spec), extra: 1 }, 'extra', "unknown field 'extra'", { unknown_fields: ['extra'] }],
      [{ spec: { ...spec, colour: 'blue' } }, 'spec.colour', "unknown field 'spec.colour'", { unknown_fields: ['colour'] }],
      [{ metadata: { name: 'p1', labels: { 'bad key!': 'x' } } }, 'metadata.labels.bad key!', "invalid metadata.labels key 'bad key!': must be a Kubernetes qualified name"],
      [[doc(spec)], 'body', 'the body must be a JSON object (got an array)'],
    ];
    for (const [body, field, message, extra] of cases) {
      const e = expectError(await put(url, body), 400, 'INVALID_REQUEST');
      expect({ body, message: e.message, details: e.details }).toEqual({ body, message, details: { field, ...extra } });
    }
    const badName = expectError(await put(`/v1/${path}/Not_A_Name`, doc(spec, 'Not_A_Name')), 400, 'INVALID_REQUEST');
    expect(badName.details).toEqual({ field: 'name' });
    expect(badName.message).toMatch(new RegExp(`^invalid ${kind} name "Not_A_Name": expected `));
    expectError(await get(url), 404, 'NOT_FOUND');
  });
});

describe('spec validation', () => {
  it.each([
    ['queues', { maxConcurrency: '4' }, 'spec.maxConcurrency', 'invalid spec.maxConcurrency: must be integer (got "4")'],
    ['queues', { maxConcurrency: -1 }, 'spec.maxConcurrency', 'invalid spec.maxConcurrency: must be >= 0 (got -1)'],
    ['queues', { admission: 'eventually' }, 'spec.admission', 'invalid spec.admission: must be one of "direct", "queued" (got "eventually")'],
    ['queues', { preemptionPolicy: 7 }, 'spec.preemptionPolicy', 'invalid spec.preemptionPolicy: must be one of "Never", "PreemptLowerPriority" (got 7)'],
    ['queues', { clusters: 'gpu' }, 'spec.clusters', 'invalid spec.clusters: must be array (got "gpu")'],
    ['queues', { retryPolicy: { maxRetries: 1, jitter: true } }, 'spec.retryPolicy.jitter', "unknown field 'spec.retryPolicy.jitter'"],
    ['clusters', { capacity: { maxGPUs: 'x' } }, 'spec.capacity.maxGPUs', 'invalid spec.capacity.maxGPUs: must be integer (got "x")'],
    ['clusters', { capacity: { maxCPU: 0.0005 } }, 'spec.capacity.maxCPU', 'invalid spec.capacity.maxCPU: 0.0005 is finer than 0.001 cores (1m), the smallest unit Kubernetes accepts'],
    ['clusters', { nodeSelector: { pool: 'not a label value' } }, 'spec.nodeSelector.pool', 'invalid spec.nodeSelector.pool value "not a label value": must be a Kubernetes label value'],
    ['tenants', { gpuQuota: 1.5 }, 'spec.gpuQuota', 'invalid spec.gpuQuota: must be integer (got 1.5)'],
    ['tenants', { headroomRule: 'yes' }, 'spec.headroomRule', 'invalid spec.headroomRule: must be boolean (got "yes")'],
    ['tenants', { rateLimitPerMin: 0 }, 'spec.rateLimitPerMin', 'invalid spec.rateLimitPerMin: must be > 0 (got 0)'],
  ])('PUT /v1/%s/x with spec %j: 400 naming %s', async (path, spec, field, message) => {
    const e = expectError(await put(`/v1/${path}/x`, { spec }), 400, 'INVALID_REQUEST');
    expect(e.message).toBe(message);
    expect(e.details.field).toBe(field);
    expectError(await get(`/v1/${path}/x`), 404, 'NOT_FOUND');
  });
});

describe('lists', () => {
  it('GET /v1/clusters and /v1/tenants list every object by name; GET /v1/queues shows a new queue', async () => {
    const clusters = (await get('/v1/clusters')).json<{ items: Doc[] }>();
    expect(clusters.items.map((d) => [d.kind, d.metadata.name, d.spec])).toEqual([
      ['ComputeCluster', 'cpu', { nodeSelector: { 'runway.dev/pool': 'cpu' } }],
      ['ComputeCluster', 'gpu', { nodeSelector: { 'runway.dev/pool': 'gpu' } }],
    ]);
    expect((await get('/v1/tenants')).json()).toEqual({ items: [] });

    expect((await put('/v1/tenants/zeta', { spec: { gpuQuota: 1 } })).statusCode).toBe(201);
    const alpha = await put('/v1/tenants/alpha', { spec: { tenantId: 'Alpha_Team' } });
    expect(alpha.statusCode).toBe(201);
    expect((await put('/v1/clusters/a-pool', { spec: {} })).statusCode).toBe(201);
    const tenants = (await get('/v1/tenants')).json<{ items: Doc[] }>();
    expect(tenants.items.map((d) => d.metadata.name)).toEqual(['alpha', 'zeta']);
    expect(tenants.items[0]).toEqual(alpha.json());
    expect((await get('/v1/clusters')).json<{ items: Doc[] }>().items.map((d) => d.metadata.name)).toEqual(['a-pool', 'cpu', 'gpu']);

    expect((await put('/v1/queues/gated', { spec: { admission: 'queued', maxConcurrency: 1 } })).statusCode).toBe(201);
    const queues = (await get('/v1/queues')).json<{ items: Array<Record<string, unknown>> }>();
    expect(queues.items.map((q) => q.name)).toEqual(['batch', 'default', 'gated']);
    expect(queues.items[2]).toMatchObject({ name: 'gated', admission: 'queued', max_concurrency: 1, queued: 0 });

    expect((await del('/v1/tenants/zeta')).statusCode).toBe(204);
    expect((await get('/v1/tenants')).json<{ items: Doc[] }>().items.map((d) => d.metadata.name)).toEqual(['alpha']);
  });
});

describe('the admin token', () => {
  let guarded: TestRunway;
  beforeEach(async () => {
    guarded = await startTestRunway({ RUNWAY_ADMIN_TOKEN: TOKEN });
  });
  afterEach(async () => guarded.close());

  const body = { spec: { gpuQuota: 1 } };

  it('with RUNWAY_ADMIN_TOKEN set, writes without the token or with a wrong one are 401; reads need none', async () => {
    const missing = await put('/v1/tenants/a', body, {}, guarded);
    expect(expectError(missing, 401, 'UNAUTHORIZED').message).toBe('policy writes need the admin token: send Authorization: Bearer <RUNWAY_ADMIN_TOKEN>');
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="runway"');

    const wrong = await put('/v1/tenants/a', body, { authorization: 'Bearer not-the-admin-token' }, guarded);
    expect(expectError(wrong, 401, 'UNAUTHORIZED').message).toBe('the bearer token is not the admin token');
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="runway", error="invalid_token"');

    // The token in another scheme, or with something after it, is not a bearer token.
    for (const authorization of [`Basic ${TOKEN}`, `Bearer ${TOKEN} extra`, TOKEN]) {
      expectError(await put('/v1/tenants/a', body, { authorization }, guarded), 401, 'UNAUTHORIZED');
    }
    // Checked before the body: an invalid document without the token is 401, not 400.
    expectError(await put('/v1/tenants/a', { spec: { gpuQuota: 'x' } }, {}, guarded), 401, 'UNAUTHORIZED');
    expectError(await get('/v1/tenants/a', guarded), 404, 'NOT_FOUND');

    const ok = await put('/v1/tenants/a', body, { authorization: `Bearer ${TOKEN}` }, guarded);
    expect(ok.statusCode).toBe(201);
    expect((await get('/v1/tenants/a', guarded)).statusCode).toBe(200);
    expect((await get('/v1/tenants', guarded)).statusCode).toBe(200);

    expectError(await del('/v1/tenants/a', {}, guarded), 401, 'UNAUTHORIZED');
    expectError(await del('/v1/tenants/a', { authorization: 'Bearer wrong' }, guarded), 401, 'UNAUTHORIZED');
    expect((await get('/v1/tenants/a', guarded)).statusCode).toBe(200);
    expect((await del('/v1/tenants/a', { authorization: `bearer ${TOKEN}` }, guarded)).statusCode).toBe(204);
  });

  it('without RUNWAY_ADMIN_TOKEN, writes need no token (and a token sent is ignored)', async () => {
    expect((await put('/v1/tenants/a', body)).statusCode).toBe(201);
    expect((await put('/v1/tenants/a', body, { authorization: 'Bearer anything' })).statusCode).toBe(200);
    expect((await del('/v1/tenants/a')).statusCode).toBe(204);
  });
});

describe('the default queue', () => {
  it('always exists: deleting its object brings back the implicit direct queue, which cannot be deleted', async () => {
    const object = (await get('/v1/queues/default')).json<Doc>();
    expect(object).toMatchObject({ kind: 'AIJobQueue', metadata: { name: 'default', uid: expect.any(String) }, spec: { admission: 'direct' } });

    expect((await del('/v1/queues/default')).statusCode).toBe(204);
    const implicit = await get('/v1/queues/default');
    expect(implicit.statusCode).toBe(200);
    expect(implicit.json()).toEqual({ apiVersion: API_VERSION, kind: 'AIJobQueue', metadata: { name: 'default' }, spec: { admission: 'direct' } });
    expect(expectError(await del('/v1/queues/default'), 404, 'NOT_FOUND')).toEqual({
      code: 'NOT_FOUND',
      message: 'queue default has no object to delete: without one it is the implicit direct queue',
      details: { kind: 'queue', id: 'default' },
    });
    // Jobs without a queue still go to it, directly.
    const job = await submit('team-a', README_JOB);
    expect(job.statusCode).toBe(201);
    expect(job.json()).toMatchObject({ queue: 'default', status: 'PENDING' });

    // A PUT creates an object for it again (201), which then governs it.
    const created = await put('/v1/queues/default', { spec: { admission: 'queued', priority: 1 } });
    expect(created.statusCode).toBe(201);
    expect((await get('/v1/queues/default')).json()).toEqual(created.json());
    expect((await get('/v1/queues')).json<{ items: Array<Record<string, unknown>> }>().items.find((q) => q.name === 'default')).toMatchObject({
      admission: 'queued',
      priority: 1,
    });
    expect((await del('/v1/queues/default')).statusCode).toBe(204);
    expect((await get('/v1/queues/default')).json()).toEqual(implicit.json());
  });
});

describe('policies take effect', () => {
  const gpus = (n: number) => ({ ...README_JOB, gpu_count: n, annotations: { 'sim.runway.dev/duration-s': '1000' } });

  it("a TenantPolicy's gpuQuota governs direct submissions at once; deleting it restores the default quota", async () => {
    expect((await submit('t', gpus(4))).statusCode).toBe(201); // default quota 8

    expect((await put('/v1/tenants/t', { spec: { gpuQuota: 2 } })).statusCode).toBe(201);
    const refused = await submit('t', gpus(4));
    expect(expectError(refused, 403, 'QUOTA_EXCEEDED').details).toMatchObject({ tenant: 't', resource: 'GPUs', quota: 2, requested: 4, in_use: 4 });
    expect((await submit('u', gpus(4))).statusCode).toBe(201); // other tenants keep the default

    // A policy for a tenant id that is not an object name, by spec.tenantId.
    expect((await put('/v1/tenants/lab', { spec: { tenantId: 'Research_Lab', gpuQuota: 1 } })).statusCode).toBe(201);
    expect(expectError(await submit('Research_Lab', gpus(2)), 403, 'QUOTA_EXCEEDED').details).toMatchObject({ tenant: 'Research_Lab', quota: 1 });

    // Raised: the same request fits.
    expect((await put('/v1/tenants/t', { spec: { gpuQuota: 8 } })).statusCode).toBe(200);
    expect((await submit('t', gpus(4))).statusCode).toBe(201);
    expect(expectError(await submit('t', gpus(1)), 403, 'QUOTA_EXCEEDED').details).toMatchObject({ quota: 8, in_use: 8 });

    expect((await del('/v1/tenants/t')).statusCode).toBe(204);
    expect((await put('/v1/tenants/t', { spec: { gpuQuota: 16 } })).statusCode).toBe(201);
    expect((await submit('t', gpus(4))).statusCode).toBe(201);
  });

  it('a queue PUT with admission queued holds a submission that does not fit (202 QUEUED) instead of refusing it', async () => {
    expectError(await submit('t', { ...gpus(0), queue: 'gated' }), 404, 'NOT_FOUND'); // no such queue yet

    expect((await put('/v1/queues/gated', { spec: { admission: 'queued', maxConcurrency: 1 } })).statusCode).toBe(201);
    const first = await submit('t', { ...gpus(0), queue: 'gated' });
    expect(first.statusCode).toBe(201);
    const second = await submit('t', { ...gpus(0), queue: 'gated' });
    expect(second.statusCode).toBe(202);
    expect(second.json()).toMatchObject({ status: 'QUEUED', queue: 'gated' });

    // Over the tenant's quota: the direct default queue refuses (403), the same job is queued once the
    // default queue is PUT with admission queued.
    expect((await put('/v1/tenants/t', { spec: { gpuQuota: 2 } })).statusCode).toBe(201);
    expect((await submit('t', gpus(2))).statusCode).toBe(201);
    expectError(await submit('t', gpus(2)), 403, 'QUOTA_EXCEEDED');
    expect((await put('/v1/queues/default', { spec: { admission: 'queued' } })).statusCode).toBe(200);
    const queued = await submit('t', gpus(2));
    expect(queued.statusCode).toBe(202);
    expect(queued.json()).toMatchObject({ status: 'QUEUED', queue: 'default' });
  });
});
