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

async function submitCpuJob(runway: TestRunway): Promise<string> {
  const res = await runway.runway.app.inject({
    method: 'POST',
    url: '/v1/jobs',
    payload: { ...CPU_JOB, annotations: { 'sim.runway.dev/duration-s': '600' } },
    headers: { 'x-tenant-id': 'team-a' },
  });
  return res.json<{ job_id: string }>().job_id;
}

/** Counts the controller's passes over one job from now on. */
function spyOnPasses(runway: TestRunway, id: string): () => number {
  const controller = runway.runway.controller as unknown as { reconcileOnce(id: string): Promise<string | undefined> };
  const spy = vi.spyOn(controller, 'reconcileOnce');
  return () => spy.mock.calls.filter(([jobId]) => jobId === id).length;
}

describe('controller passes', () => {
  it('a status write the cluster refused is written by the retry pass, 10 s later, without a full resync', async () => {
    // Only the controller's intervals are faked: watch deliveries and reconciles (setImmediate) run as usual.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    t = await startTestRunway();
    const resyncAll = vi.spyOn(t.runway.controller, 'resyncAll');
    const id = await submitCpuJob(t);
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

  it("a job's own status write does not bring it back for another pass", async () => {
    t = await startTestRunway();
    const id = await submitCpuJob(t);
    await t.settle();
    const passes = spyOnPasses(t, id);
    await t.advance(2000); // the pod starts: one pass writes RUNNING, and its echo starts none
    expect(await status(t, id)).toBe('RUNNING');
    expect(passes()).toBe(1);
  });

  it('a version written by someone else during the pass brings the job back for another', async () => {
    t = await startTestRunway();
    const id = await submitCpuJob(t);
    await t.settle();
    const cluster = t.cluster;
    const original = cluster.updateAIJobStatus.bind(cluster);
    let intruded = false;
    vi.spyOn(cluster, 'updateAIJobStatus').mockImplementation(async (name, next, resourceVersion) => {
      if (!intruded) {
        intruded = true; // someone else writes first: the controller's write then conflicts
        await original(name, { ...next, phase: 'PENDING', message: 'written by someone else' });
      }
      return original(name, next, resourceVersion);
    });
    const passes = spyOnPasses(t, id);
    await t.advance(2000);
    expect(intruded).toBe(true);
    expect(passes()).toBe(2);
    const job = t.runway.service.get(id);
    expect(job.status?.phase).toBe('RUNNING');
    expect(job.status?.message).toBeUndefined();
  });

  it('a version another part of Runway wrote straight to the cache during the pass brings the job back at once', async () => {
    // E.g. the scheduling loop or a cancel: the cache holds the newer version before its watch event,
    // so the event changes nothing there; the pass itself sees that the job changed under it.
    t = await startTestRunway();
    const id = await submitCpuJob(t);
    await t.settle();
    const cluster = t.cluster;
    const original = cluster.updateAIJobStatus.bind(cluster);
    let intruded = false;
    vi.spyOn(cluster, 'updateAIJobStatus').mockImplementation(async (name, next, resourceVersion) => {
      if (!intruded) {
        intruded = true;
        // Written, and put in the cache at once, before its watch event is delivered (as on a real API
        // server, where the answer usually comes before the event).
        void original(name, { ...next, phase: 'PENDING', message: 'written by Runway elsewhere' });
        const stored = cluster.aiJob(name);
        if (stored) t?.runway.controller.applyAIJob(stored);
      }
      return original(name, next, resourceVersion);
    });
    const passes = spyOnPasses(t, id);
    await t.advance(2000);
    expect(intruded).toBe(true);
    expect(passes()).toBe(2);
    expect(t.runway.service.get(id).status).toMatchObject({ phase: 'RUNNING' });
    expect(t.runway.service.get(id).status?.message).toBeUndefined();
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
