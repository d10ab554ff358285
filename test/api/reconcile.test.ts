/** The controller's passes: a failed reconcile is retried, a resync of many jobs is spread over turns. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { README_JOB, settle, startTestRunway, type TestRunway } from '../helpers/runway.js';

let t: TestRunway | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  vi.useRealTimers();
});

const CPU_JOB = { ...README_JOB, gpu_count: 0, cpu: 1, memory_mb: 1024 };

async function status(runway: TestRunway, id: string): Promise<string> {
  return (await runway.runway.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<{ status: string }>().status;
}

describe('controller passes', () => {
  it('a status write the cluster refused is written by the retry pass, 10 s later, without a full resync', async () => {
    // Only the controller's intervals are faked: watch deliveries and reconciles (setImmediate) run as usual.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    t = await startTestRunway();
    const resyncAll = vi.spyOn(t.runway.controller, 'resyncAll');
    const res = await t.runway.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { ...CPU_JOB, annotations: { 'sim.runway.dev/duration-s': '600' } },
      headers: { 'x-tenant-id': 'team-a' },
    });
    const id = res.json<{ job_id: string }>().job_id;
    await t.settle();
    expect(await status(t, id)).toBe('PENDING');

    t.cluster.failNext('updateAIJobStatus', 'Unavailable');
    await t.advance(2000); // the pod starts: the RUNNING write is refused
    expect(await status(t, id)).toBe('PENDING');
    expect(t.logs.filter((l) => l.msg === 'reconcile failed; will retry').map((l) => l.job_id)).toEqual([id]);
    await t.settle();
    expect(await status(t, id)).toBe('PENDING'); // nothing else brings it back

    vi.advanceTimersByTime(10_000);
    await t.settle();
    expect(await status(t, id)).toBe('RUNNING');
    expect(resyncAll).not.toHaveBeenCalled();
  });

  it('a resync of 2,500 jobs starts 1,000 reconciles per turn of the event loop, each job once', async () => {
    t = await startTestRunway({ RUNWAY_RATE_LIMIT_PER_MIN: '1000000', RUNWAY_RATE_LIMIT_BURST: '100000' });
    const log = createLogger('silent');
    const ids: string[] = [];
    for (let i = 0; i < 2500; i++) {
      ids.push((await t.runway.service.submit({ ...CPU_JOB }, `team-${i % 50}`, log)).job.metadata.name);
    }
    await t.settle();
    const controller = t.runway.controller as unknown as { reconcile(id: string): Promise<void> };
    const reconcile = vi.spyOn(controller, 'reconcile');

    t.runway.controller.resyncAll();
    await settle(1);
    expect(reconcile).toHaveBeenCalledTimes(1000);
    await settle(1);
    expect(reconcile).toHaveBeenCalledTimes(2000);
    await settle(2);
    expect(reconcile).toHaveBeenCalledTimes(2500);
    expect(new Set(reconcile.mock.calls.map(([id]) => id))).toEqual(new Set(ids));
  });
});
