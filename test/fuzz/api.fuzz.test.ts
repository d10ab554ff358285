/**
 * Property: whatever the body, headers and path, Runway never answers 5xx, and every 4xx has the
 * error shape with the request id.
 */
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { README_JOB, startTestRunway, type TestRunway } from '../helpers/runway.js';

let t: TestRunway;
let port: number;
// No keep-alive: a server may close a connection after a bad request, and a reused socket would then fail.
const agent = new http.Agent({ keepAlive: false });
beforeAll(async () => {
  t = await startTestRunway({ RUNWAY_RATE_LIMIT_PER_MIN: '600000', RUNWAY_RATE_LIMIT_BURST: '100000', LOG_LEVEL: 'silent' });
  port = Number(new URL(await t.runway.listen()).port);
});
afterAll(async () => {
  agent.destroy();
  await t.close();
});

/** A raw HTTP request: the path goes on the wire as generated, without client-side normalisation. */
function send(method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const fieldValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1e308, -0, 0.0001, 4, 8.5, 1800, 32768),
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);
const fields = ['image', 'cpu', 'memory_mb', 'gpu_count', 'timeout_s', 'tenant_id', 'queue', 'priority', 'replicas', 'env', 'labels', 'annotations', 'command', 'retry_policy', 'name', 'idempotency_key', 'expected_runtime_s', 'extra', '__proto__', 'constructor'];
const mutatedJob = fc
  .record({ drop: fc.subarray(Object.keys(README_JOB)), set: fc.dictionary(fc.constantFrom(...fields), fieldValue, { maxKeys: 4 }) })
  .map(({ drop, set }) => {
    const body = Object.fromEntries(Object.entries(README_JOB).filter(([k]) => !drop.includes(k as keyof typeof README_JOB)));
    return JSON.stringify({ ...body, ...set });
  });
const rawBody = fc.oneof(mutatedJob, fc.json(), fc.string(), fc.string({ unit: 'grapheme' }), fc.constant(''), fc.constant('{"a":'), fc.constant('{"__proto__":{"x":1}}'));
const header = fc.option(fc.oneof(fc.constantFrom('team-a', '', ' ', 'é', 'a'.repeat(70)), fc.string({ maxLength: 80 })), { nil: undefined });
const path = fc.oneof(
  fc.constantFrom('/v1/jobs', '/jobs', '/v1/estimate', '/v1/jobs/j0000000000000000', '/healthz', '/readyz', '/v1/jobs?limit=5', '/v1/jobs/%00', '/v1/jobs/..%2F..', '/v1/jobs?status=RUNNING&tenant=team-a'),
  fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
  fc.string().map((s) => `/v1/jobs/${encodeURIComponent(s)}`),
  fc.string().map((s) => `/v1/jobs?${encodeURI(s).replace(/#/g, '%23')}`),
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH');
const contentType = fc.option(fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', 'multipart/form-data'), { nil: undefined });

describe('API robustness', () => {
  it('never answers 5xx and always uses the error shape for 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, rawBody, header, contentType, async (m, p, body, tenant, ct) => {
        const headers: Record<string, string> = {};
        if (tenant !== undefined) headers['x-tenant-id'] = tenant;
        if (ct !== undefined) headers['content-type'] = ct;
        const res = await send(m, p, headers, m === 'GET' ? undefined : body);
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) {
          const json = JSON.parse(res.text) as { error: { code: string; message: string; details: object }; request_id: string };
          expect(typeof json.error.code).toBe('string');
          expect(typeof json.error.message).toBe('string');
          expect(typeof json.error.details).toBe('object');
          expect(json.request_id).toBe(res.headers['x-request-id']);
        }
      }),
      { numRuns: 3000 },
    );
  }, 120_000);
});
