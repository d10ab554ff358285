/** Jobs run to completion on the embedded simulated cluster, observed through the API. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { README_JOB, startTestRunway, type TestRunway } from '../helpers/runway.js';

let t: TestRunway;
beforeEach(async () => {
  t = await startTestRunway({ RUNWAY_BACKOFF_LIMIT: '2' });
});
afterEach(async () => t.close());

async function run(annotations: Record<string, string>, patch: Record<string, unknown> = {}, forMs = 600_000) {
  const res = await t.runway.app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: { ...README_JOB, ...patch, annotations },
    headers: { 'x-tenant-id': 'team-a' },
  });
  expect(res.statusCode).toBe(201);
  const id = res.json<{ job_id: string }>().job_id;
  const seen: string[] = [];
  const get = async () => (await t.runway.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<Record<string, unknown>>();
  for (let ms = 0; ms <= forMs; ms += 1000) {
    const job = await get();
    if (seen[seen.length - 1] !== job.status) seen.push(job.status as string);
    if (['SUCCEEDED', 'FAILED', 'DEADLINE'].includes(job.status as string)) return { job, seen };
    await t.advance(1000);
  }
  throw new Error(`job did not finish: ${seen.join(' -> ')}`);
}

describe('lifecycle on the simulated cluster', () => {
  it('success: PENDING -> RUNNING -> SUCCEEDED, exit 0', async () => {
    const { job, seen } = await run({ 'sim.runway.dev/duration-s': '10' });
    expect(seen).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
    expect(job).toMatchObject({ status: 'SUCCEEDED', exit_code: 0, attempts: 1 });
  });

  it('OOM: FAILED / OOMKilled / exit 137 after backoffLimit retries', async () => {
    const { job } = await run({ 'sim.runway.dev/oom': 'true', 'sim.runway.dev/duration-s': '2' });
    expect(job).toMatchObject({ status: 'FAILED', reason: 'OOMKilled', exit_code: 137, attempts: 3 });
  });

  it('exit code: FAILED / Error with the exit code', async () => {
    const { job } = await run({ 'sim.runway.dev/exit-code': '3', 'sim.runway.dev/duration-s': '2' });
    expect(job).toMatchObject({ status: 'FAILED', reason: 'Error', exit_code: 3, attempts: 3 });
  });

  it('deadline: DEADLINE / DeadlineExceeded when the job outlives timeout_s', async () => {
    const { job, seen } = await run({ 'sim.runway.dev/duration-s': '600' }, { timeout_s: 30 });
    expect(seen).toEqual(['PENDING', 'RUNNING', 'DEADLINE']);
    expect(job).toMatchObject({ status: 'DEADLINE', reason: 'DeadlineExceeded' });
  });

  it('retries then success: two failed attempts, the third succeeds', async () => {
    const { job } = await run({ 'sim.runway.dev/fail-attempts': '2', 'sim.runway.dev/duration-s': '2' });
    expect(job).toMatchObject({ status: 'SUCCEEDED', exit_code: 0, attempts: 3 });
  });

  it('retries exhausted: more failures than backoffLimit allows ends FAILED', async () => {
    const { job } = await run({ 'sim.runway.dev/fail-attempts': '5', 'sim.runway.dev/duration-s': '2' });
    expect(job).toMatchObject({ status: 'FAILED', reason: 'Error', exit_code: 1, attempts: 3 });
  });

  it('releases the GPU quota exactly once per finished job, whatever the outcome', async () => {
    await run({ 'sim.runway.dev/oom': 'true', 'sim.runway.dev/duration-s': '1' });
    await run({ 'sim.runway.dev/duration-s': '1' });
    expect(t.runway.ledger.inUse('team-a').gpu).toBe(0);
    const metrics = (await t.runway.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('runway_job_outcomes_total{status="FAILED",reason="OOMKilled"} 1');
    expect(metrics).toContain('runway_job_outcomes_total{status="SUCCEEDED",reason="Completed"} 1');
  });

  it('a GPU job waits PENDING while the GPU pool is full, then runs', async () => {
    // Two tenants fill both GPU nodes (8 GPUs each, 4 GPUs per job).
    const long = { 'sim.runway.dev/duration-s': '100' };
    for (const tenant of ['a', 'a', 'b', 'b']) {
      const r = await t.runway.app.inject({ method: 'POST', url: '/v1/jobs', payload: { ...README_JOB, gpu_count: 4, annotations: long }, headers: { 'x-tenant-id': tenant } });
      expect(r.statusCode).toBe(201);
    }
    const r = await t.runway.app.inject({ method: 'POST', url: '/v1/jobs', payload: { ...README_JOB, gpu_count: 4, annotations: { 'sim.runway.dev/duration-s': '5' } }, headers: { 'x-tenant-id': 'c' } });
    const id = r.json<{ job_id: string }>().job_id;
    await t.advance(10_000);
    const waiting = (await t.runway.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<{ status: string; message?: string }>();
    expect(waiting.status).toBe('PENDING');
    expect(waiting.message).toContain('nvidia.com/gpu');
    await t.advance(120_000);
    const done = (await t.runway.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<{ status: string }>();
    expect(done.status).toBe('SUCCEEDED');
  });
});
