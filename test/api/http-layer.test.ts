/**
 * What the HTTP layer records per request: the request_latency_seconds series it lands in (route
 * template, or `unmatched`), and the request's logger, built only when something is written.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { README_JOB, startTestRunway, type TestRunway } from '../helpers/runway.js';

let t: TestRunway | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** request_latency_seconds_count per series, as `route method status`. */
async function latencyCounts(tr: TestRunway): Promise<Record<string, number>> {
  const text = await tr.runway.metrics.registry.getSingleMetricAsString('request_latency_seconds');
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^request_latency_seconds_count\{route="([^"]*)",method="([^"]*)",status="([^"]*)"\} (\d+)$/gm)) {
    counts[`${m[1]} ${m[2]} ${m[3]}`] = Number(m[4]);
  }
  return counts;
}

describe('request_latency_seconds labels', () => {
  it('name the route template, or `unmatched`, with the method and status', async () => {
    t = await startTestRunway();
    const inject = t.runway.app.inject.bind(t.runway.app);
    const post = (url: string, payload: unknown) => inject({ method: 'POST', url, payload: payload as object, headers: { 'x-tenant-id': 'team-a' } });
    expect((await post('/v1/jobs', README_JOB)).statusCode).toBe(201);
    expect((await post('/jobs', README_JOB)).statusCode).toBe(201);
    expect((await post('/v1/jobs', { ...README_JOB, gpu_count: 99 })).statusCode).toBe(422);
    const badJson = await inject({ method: 'POST', url: '/v1/jobs', payload: '{', headers: { 'content-type': 'application/json' } });
    expect(badJson.statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: '/v1/jobs/nope' })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/jobs/nope?verbose=1' })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/no/such/route' })).statusCode).toBe(404);
    expect((await inject({ method: 'DELETE', url: '/healthz' })).statusCode).toBe(404);
    expect((await inject({ method: 'HEAD', url: '/healthz' })).statusCode).toBe(200);
    expect((await inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    // A plugin's routes, under its prefix: `/docs` and `/docs/` are one route; a missing static file
    // goes to the not-found handler.
    expect((await inject({ method: 'GET', url: '/docs' })).statusCode).toBe(200);
    expect((await inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
    expect((await inject({ method: 'GET', url: '/docs/static/no-such-file.js' })).statusCode).toBe(404);

    expect(await latencyCounts(t)).toEqual({
      '/v1/jobs POST 201': 1,
      '/jobs POST 201': 1,
      '/v1/jobs POST 422': 1,
      '/v1/jobs POST 400': 1,
      '/v1/jobs/:id GET 404': 1,
      '/jobs/:id GET 404': 1,
      'unmatched GET 404': 2,
      'unmatched DELETE 404': 1,
      '/healthz HEAD 200': 1,
      '/healthz GET 200': 1,
      '/docs GET 200': 2,
    });
  });

  it('put each request in one series only, with its latency', async () => {
    t = await startTestRunway();
    for (let i = 0; i < 3; i++) await t.runway.app.inject({ method: 'GET', url: '/healthz' });
    const text = await t.runway.metrics.registry.getSingleMetricAsString('request_latency_seconds');
    expect(text).toMatch(/^request_latency_seconds_bucket\{le="\+Inf",route="\/healthz",method="GET",status="200"\} 3$/m);
    const sum = /^request_latency_seconds_sum\{route="\/healthz",method="GET",status="200"\} (\S+)$/m.exec(text);
    expect(Number(sum?.[1])).toBeGreaterThan(0);
  });
});

describe("a request's logger", () => {
  it('is not built when nothing is written (LOG_LEVEL=silent)', async () => {
    t = await startTestRunway({ LOG_LEVEL: 'silent' });
    const child = vi.spyOn(t.runway.logger, 'child');
    await t.runway.app.inject({ method: 'GET', url: '/healthz' });
    await t.runway.app.inject({ method: 'GET', url: '/no/such/route' });
    await t.runway.app.inject({ method: 'POST', url: '/v1/estimate', payload: README_JOB });
    expect(child).not.toHaveBeenCalled();
  });

  it('is built once for a request that writes, and every line it writes carries the request id', async () => {
    t = await startTestRunway();
    const child = vi.spyOn(t.runway.logger, 'child');
    await t.runway.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-9' } });
    expect(child).toHaveBeenCalledTimes(1);
    expect(t.logs.filter((l) => l.request_id === 'trace-9').map((l) => l.msg)).toEqual(['request']);

    // The service logs through the same logger: a failed creation writes two lines, both with the id.
    t.cluster.setAvailable(false);
    const res = await t.runway.app.inject({ method: 'POST', url: '/v1/jobs', payload: README_JOB, headers: { 'x-tenant-id': 'team-a', 'x-request-id': 'trace-10' } });
    expect(res.statusCode).toBe(503);
    const lines = t.logs.filter((l) => l.request_id === 'trace-10');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'job creation failed'],
      ['warn', 'request failed'],
      ['info', 'request'],
    ]);
  });
});

describe('the job_submitted line', () => {
  it('carries the job, its tenant, cost, GPUs, queue and status, with the request id', async () => {
    t = await startTestRunway();
    const res = await t.runway.app.inject({ method: 'POST', url: '/v1/jobs', payload: README_JOB, headers: { 'x-tenant-id': 'team-a', 'x-request-id': 'trace-11' } });
    expect(res.statusCode).toBe(201);
    const job = res.json<{ job_id: string; estimated_cost: { total: number } }>();
    const lines = t.logs.filter((l) => l.event === 'job_submitted');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: `job ${job.job_id} submitted`,
      request_id: 'trace-11',
      job_id: job.job_id,
      tenant_id: 'team-a',
      estimated_cost: job.estimated_cost.total,
      gpu_count: README_JOB.gpu_count,
      queue: 'default',
      status: 'PENDING',
    });
  });

  it('is not written, nor its logger built, at LOG_LEVEL=warn', async () => {
    t = await startTestRunway({ LOG_LEVEL: 'warn' });
    const child = vi.spyOn(t.runway.logger, 'child');
    const res = await t.runway.app.inject({ method: 'POST', url: '/v1/jobs', payload: README_JOB, headers: { 'x-tenant-id': 'team-a' } });
    expect(res.statusCode).toBe(201);
    expect(t.logs).toEqual([]);
    expect(child).not.toHaveBeenCalled();
  });
});
