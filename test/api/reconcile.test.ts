/** The controller's passes: a failed reconcile is retried, a resync of many jobs is spread over turns. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AIJob } from '../../src/cluster/types.js';
import type { AIJobStatus } from '../../src/core/status.js';
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

  type Write = (name: string, status: AIJobStatus, resourceVersion?: string) => Promise<AIJob>;
  it.each<[string, (runway: TestRunway, write: Write, name: string, status: AIJobStatus) => Promise<void>]>([
    [
      'someone else (the cache learns it from its watch event, during the pass)',
      async (_runway, write, name, status) => {
        await write(name, { ...status, phase: 'PENDING', message: 'written by someone else' });
      },
    ],
    [
      // E.g. the scheduling loop or a cancel: the cache holds the newer version before its event (as on
      // a real API server, where the answer usually comes first), so the event changes nothing there.
      'another part of Runway, straight into the cache before its watch event',
      async (runway, write, name, status) => {
        void write(name, { ...status, phase: 'PENDING', message: 'written by Runway elsewhere' });
        const stored = runway.cluster.aiJob(name);
        if (stored) runway.runway.controller.applyAIJob(stored);
      },
    ],
  ])('a version written during the pass by %s brings the job back for another', async (_what, intrude) => {
    t = await startTestRunway();
    const runway = t;
    const id = await submitCpuJob(runway);
    await runway.settle();
    const original: Write = runway.cluster.updateAIJobStatus.bind(runway.cluster);
    let intruded = false;
    vi.spyOn(runway.cluster, 'updateAIJobStatus').mockImplementation(async (name, next, resourceVersion) => {
      if (!intruded) {
        intruded = true; // the controller's own write then conflicts
        await intrude(runway, original, name, next);
      }
      return original(name, next, resourceVersion);
    });
    const passes = spyOnPasses(runway, id);
    await runway.advance(2000);
    expect(intruded).toBe(true);
    expect(passes()).toBe(2);
    const job = runway.runway.service.get(id);
    expect(job.status?.phase).toBe('RUNNING');
    expect(job.status?.message).toBeUndefined();
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
