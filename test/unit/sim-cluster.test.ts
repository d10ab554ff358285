/**
 * The embedded simulated cluster: Kubernetes 1.20 behaviour as Runway observes it (Job controller,
 * scheduler, kubelet, garbage collector, watch), driven on a ManualClock so nothing waits on wall time.
 */
import { describe, expect, it, vi } from 'vitest';
import { ManualClock, ScaledClock, SimCluster, type PoolSpec } from '../../src/cluster/sim/index.js';
import { ClusterError, RUNWAY_API_VERSION, type AIJob, type ClusterEvent } from '../../src/cluster/types.js';
import { DEFAULT_RATES, estimateCost } from '../../src/core/cost.js';
import type { JobSpec } from '../../src/core/job-spec.js';
import {
  GPU_RESOURCE,
  LABEL_JOB_ID,
  SIM_DURATION_S,
  SIM_EXIT_CODE,
  SIM_FAIL_ATTEMPTS,
  SIM_OOM,
  type K8sJob,
  type K8sPod,
} from '../../src/core/k8s.js';
import { buildJobManifest } from '../../src/core/manifest.js';
import { deriveAttemptStatus, type AttemptStatus } from '../../src/core/status.js';

const T0 = Date.UTC(2026, 0, 1);
const NS = 'jobs';
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A sim without policy resources: the tests here are about workloads and their events (see sim-policies.test.ts). */
function setup(pools?: PoolSpec[]) {
  const clock = new ManualClock(T0);
  const sim = new SimCluster({ namespace: NS, clock, ...(pools ? { pools } : {}), policies: [] });
  return { clock, sim };
}

function makeSpec(over: Partial<JobSpec> = {}): JobSpec {
  return {
    tenant_id: 'team-a',
    image: 'busybox',
    cpu: 4,
    memory_mb: 16384,
    gpu_count: 0,
    timeout_s: 1800,
    queue: 'default',
    priority: 0,
    replicas: 1,
    ...over,
  };
}

interface ManifestOptions {
  attempt?: number;
  backoffLimit?: number;
  owner?: AIJob;
}

function manifest(jobId: string, spec: JobSpec, opts: ManifestOptions = {}): K8sJob {
  return buildJobManifest({
    jobId,
    attempt: opts.attempt ?? 1,
    spec,
    namespace: NS,
    backoffLimit: opts.backoffLimit ?? 2,
    estimate: estimateCost(spec, DEFAULT_RATES),
    ...(opts.owner
      ? { owner: { apiVersion: RUNWAY_API_VERSION, kind: 'AIJob', name: opts.owner.metadata.name, uid: opts.owner.metadata.uid as string } }
      : {}),
  });
}

async function submit(sim: SimCluster, jobId: string, over: Partial<JobSpec> = {}, opts: ManifestOptions = {}): Promise<string> {
  const job = manifest(jobId, makeSpec(over), opts);
  await sim.createJob(job);
  return job.metadata.name;
}

function aiJob(name: string, spec: JobSpec = makeSpec()): AIJob {
  return { apiVersion: RUNWAY_API_VERSION, kind: 'AIJob', metadata: { name }, spec };
}

function statusOf(sim: SimCluster, jobName: string) {
  const job = sim.job(jobName);
  if (!job) throw new Error(`no job ${jobName}`);
  return deriveAttemptStatus(job, sim.podsOfJob(jobName));
}

const byCreation = (pods: K8sPod[]) =>
  [...pods].sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));

function terminated(pod: K8sPod) {
  return pod.status?.containerStatuses?.[0]?.state?.terminated;
}

async function expectClusterError(p: Promise<unknown>, kind: ClusterError['kind']): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClusterError);
  expect((err as ClusterError).kind).toBe(kind);
}

describe('ManualClock', () => {
  it('runs due timers in time order, including timers set by timers inside the window', () => {
    const clock = new ManualClock(T0);
    const seen: string[] = [];
    clock.setTimer(T0 + 3000, () => seen.push('c@3'));
    clock.setTimer(T0 + 1000, () => {
      seen.push('a@1');
      clock.setTimer(clock.now() + 1000, () => seen.push('b@2'));
      clock.setTimer(clock.now() + 5000, () => seen.push('d@6'));
    });
    const cancel = clock.setTimer(T0 + 2500, () => seen.push('cancelled'));
    cancel();
    clock.advance(4000);
    expect(seen).toEqual(['a@1', 'b@2', 'c@3']);
    expect(clock.now()).toBe(T0 + 4000);
    expect(clock.pendingTimers()).toBe(1);
    clock.runUntilIdle();
    expect(seen).toEqual(['a@1', 'b@2', 'c@3', 'd@6']);
    expect(clock.now()).toBe(T0 + 6000);
  });

  it('never goes backwards, runs overdue timers on the next advance, and bounds runUntilIdle', () => {
    const clock = new ManualClock(T0);
    const seen: number[] = [];
    clock.advanceTo(T0 - 5000);
    expect(clock.now()).toBe(T0);
    clock.setTimer(T0 - 1, () => seen.push(clock.now()));
    clock.advance(0);
    expect(seen).toEqual([T0]);
    const tick = () => clock.setTimer(clock.now() + 1000, tick);
    tick();
    expect(clock.runUntilIdle(10_000)).toBe(10);
    expect(clock.now()).toBe(T0 + 10_000);
  });
});

describe('ScaledClock', () => {
  it('runs speed times faster than the wall clock', () => {
    let wall = 1_000_000;
    const clock = new ScaledClock(60, () => wall);
    wall += 1000;
    expect(clock.now()).toBe(1_000_000 + 60_000);
    clock.close();
  });

  it('fires timers at the scaled time (re-arming if woken early) and close() clears them', () => {
    vi.useFakeTimers({ now: T0 });
    try {
      const clock = new ScaledClock(1000);
      const fired: number[] = [];
      clock.setTimer(T0 + 20_000, () => fired.push(clock.now()));
      clock.setTimer(T0 + 1_000_000, () => fired.push(-1));
      vi.advanceTimersByTime(19);
      expect(fired).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(fired).toEqual([T0 + 20_000]);
      clock.close();
      vi.advanceTimersByTime(10_000);
      expect(fired).toEqual([T0 + 20_000]);
    } finally {
      vi.useRealTimers();
    }
  });

});

describe('SimCluster nodes', () => {
  it('has the default pools: 4 cpu nodes and 2 gpu nodes, labelled and Ready', () => {
    const { sim } = setup();
    const nodes = sim.nodes();
    expect(nodes.map((n) => n.metadata.name)).toEqual(['cpu-1', 'cpu-2', 'cpu-3', 'cpu-4', 'gpu-1', 'gpu-2']);
    const cpu = nodes[0];
    const gpu = nodes[4];
    expect(cpu?.metadata.labels?.['runway.dev/pool']).toBe('cpu');
    expect(cpu?.status?.allocatable).toEqual({ cpu: '32', memory: '128Gi', pods: '110' });
    expect(gpu?.metadata.labels?.['runway.dev/pool']).toBe('gpu');
    expect(gpu?.status?.capacity).toEqual({ cpu: '64', memory: '512Gi', pods: '110', [GPU_RESOURCE]: '8' });
    expect(gpu?.status?.conditions).toEqual([{ type: 'Ready', status: 'True' }]);
    expect(sim.poolUsage()).toEqual({
      cpu: { nodes: 4, readyNodes: 4, capacity: { cpuMilli: 128_000, memoryMb: 524_288, gpu: 0 }, allocated: { cpuMilli: 0, memoryMb: 0, gpu: 0 } },
      gpu: { nodes: 2, readyNodes: 2, capacity: { cpuMilli: 128_000, memoryMb: 1_048_576, gpu: 16 }, allocated: { cpuMilli: 0, memoryMb: 0, gpu: 0 } },
    });
  });
});

describe('SimCluster AIJobs', () => {
  it('stores AIJobs with uid, resourceVersion, creationTimestamp and namespace', async () => {
    const { sim } = setup();
    const a = await sim.createAIJob(aiJob('j1'));
    const b = await sim.createAIJob(aiJob('j2'));
    expect(a.metadata).toMatchObject({ name: 'j1', namespace: NS, creationTimestamp: at(0) });
    expect(a.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    await expectClusterError(sim.createAIJob(aiJob('j1')), 'AlreadyExists');

    const updated = await sim.updateAIJobStatus('j1', { phase: 'RUNNING', attempts: 1, attempt: 1 });
    expect(updated.status?.phase).toBe('RUNNING');
    expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(Number(b.metadata.resourceVersion));
    await expectClusterError(sim.updateAIJobStatus('nope', { phase: 'RUNNING', attempts: 1, attempt: 1 }), 'NotFound');

    await sim.deleteAIJob('j1');
    await sim.deleteAIJob('j1');
    expect(sim.aiJobs().map((j) => j.metadata.name)).toEqual(['j2']);
  });

  it('copies what it is given and hands out read-only objects: nobody changes the store behind its back', async () => {
    const { sim } = setup();
    const input = aiJob('j1');
    const created = await sim.createAIJob(input);
    input.spec.image = 'changed by the caller after the write';
    expect(() => {
      created.spec.image = 'evil';
    }).toThrow(TypeError);
    expect(() => {
      created.metadata.labels = { x: 'y' };
    }).toThrow(TypeError);
    expect(sim.aiJob('j1')?.spec.image).toBe('busybox');
    expect(sim.aiJob('j1')?.metadata.labels).toBeUndefined();
    const status = { phase: 'RUNNING' as const, attempts: 1, attempt: 1 };
    const updated = await sim.updateAIJobStatus('j1', status);
    status.attempts = 99;
    expect(updated.status).toEqual({ phase: 'RUNNING', attempts: 1, attempt: 1 });
    expect(Object.isFrozen(updated.status)).toBe(true);
    expect(created.status).toBeUndefined(); // a change is a new object; what was handed out stays as it was
  });
});

interface OutcomeCase {
  name: string;
  annotations: Record<string, string>;
  timeout?: number;
  want: Partial<AttemptStatus>;
  pods: number;
  endS: number;
}

describe('SimCluster Job outcomes', () => {
  it.each<OutcomeCase>([
    {
      name: 'success',
      annotations: {},
      want: { phase: 'SUCCEEDED', reason: 'Completed', exitCode: 0, attempts: 1 },
      pods: 1,
      endS: 6,
    },
    {
      name: 'OOMKilled on every attempt',
      annotations: { [SIM_OOM]: 'true' },
      want: { phase: 'FAILED', reason: 'OOMKilled', exitCode: 137, attempts: 3 },
      pods: 3,
      endS: 48, // 0 -> 6 fail, +10 s back-off -> 16..22 fail, +20 s -> 42..48 fail
    },
    {
      name: 'exit code 3',
      annotations: { [SIM_EXIT_CODE]: '3' },
      want: { phase: 'FAILED', reason: 'Error', exitCode: 3, attempts: 3 },
      pods: 3,
      endS: 48,
    },
    {
      name: 'deadline exceeded',
      annotations: { [SIM_DURATION_S]: '100' },
      timeout: 10,
      want: { phase: 'DEADLINE', reason: 'DeadlineExceeded', attempts: 1 },
      pods: 0,
      endS: 10,
    },
    {
      name: 'fail twice then succeed',
      annotations: { [SIM_FAIL_ATTEMPTS]: '2' },
      want: { phase: 'SUCCEEDED', reason: 'Completed', exitCode: 0, attempts: 3 },
      pods: 3,
      endS: 48,
    },
    {
      name: 'bad annotation values fall back to defaults',
      annotations: { [SIM_DURATION_S]: 'soon', [SIM_EXIT_CODE]: 'x', [SIM_OOM]: 'maybe', [SIM_FAIL_ATTEMPTS]: '-1' },
      want: { phase: 'SUCCEEDED', reason: 'Completed', exitCode: 0, attempts: 1 },
      pods: 1,
      endS: 6,
    },
  ])('$name', async ({ annotations, timeout, want, pods, endS }) => {
    const { sim, clock } = setup();
    const name = await submit(sim, 'job', { annotations, ...(timeout ? { timeout_s: timeout } : {}) });
    expect(statusOf(sim, name).phase).toBe('PENDING');
    clock.runUntilIdle();
    const status = statusOf(sim, name);
    expect(status).toMatchObject(want);
    expect(status.completionTime).toBe(at(endS));
    expect(sim.podsOfJob(name)).toHaveLength(pods);
    expect(sim.poolUsage().cpu?.allocated).toEqual({ cpuMilli: 0, memoryMb: 0, gpu: 0 });
  });

  it('writes the 1.20 Job conditions and counts', async () => {
    const { sim, clock } = setup();
    const oom = await submit(sim, 'oom', { annotations: { [SIM_OOM]: 'true' } });
    const dl = await submit(sim, 'dl', { timeout_s: 10, annotations: { [SIM_DURATION_S]: '100' } });
    const ok = await submit(sim, 'ok');
    clock.runUntilIdle();
    expect(sim.job(oom)?.status).toEqual({
      startTime: at(0),
      failed: 3,
      conditions: [
        { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: at(48) },
      ],
    });
    expect(sim.job(dl)?.status).toEqual({
      startTime: at(0),
      failed: 1,
      conditions: [
        { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: at(10) },
      ],
    });
    expect(sim.job(ok)?.status).toEqual({
      startTime: at(0),
      succeeded: 1,
      completionTime: at(6),
      conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: at(6) }],
    });
  });

  it('backs off 10 s then 20 s between a failure and the replacement pod', async () => {
    const { sim, clock } = setup();
    const name = await submit(sim, 'flaky', { annotations: { [SIM_FAIL_ATTEMPTS]: '2', [SIM_EXIT_CODE]: '4' } });
    clock.runUntilIdle();
    const pods = byCreation(sim.podsOfJob(name));
    expect(pods.map((p) => terminated(p)?.exitCode)).toEqual([4, 4, 0]);
    const created = pods.map((p) => Date.parse(p.metadata.creationTimestamp ?? ''));
    const finished = pods.map((p) => Date.parse(terminated(p)?.finishedAt ?? ''));
    expect([(created[1] ?? 0) - (finished[0] ?? 0), (created[2] ?? 0) - (finished[1] ?? 0)]).toEqual([10_000, 20_000]);
  });

  it('counts fail-attempts across attempt Jobs of the same Runway job', async () => {
    const { sim, clock } = setup();
    const annotations = { [SIM_FAIL_ATTEMPTS]: '2' };
    const first = await submit(sim, 'retry', { annotations }, { attempt: 1, backoffLimit: 0 });
    clock.runUntilIdle();
    expect(statusOf(sim, first)).toMatchObject({ phase: 'FAILED', reason: 'Error', exitCode: 1, attempts: 1 });
    const second = await submit(sim, 'retry', { annotations }, { attempt: 2, backoffLimit: 0 });
    clock.runUntilIdle();
    expect(statusOf(sim, second)).toMatchObject({ phase: 'FAILED', attempts: 1 });
    const third = await submit(sim, 'retry', { annotations }, { attempt: 3, backoffLimit: 0 });
    clock.runUntilIdle();
    expect(statusOf(sim, third)).toMatchObject({ phase: 'SUCCEEDED', attempts: 1 });
  });

  it('names, labels and owns pods like the Job controller', async () => {
    const { sim } = setup();
    const name = await submit(sim, 'labels', { labels: { team: 'a' }, annotations: { [SIM_DURATION_S]: '7' } });
    const job = sim.job(name);
    const [pod] = sim.podsOfJob(name);
    expect(pod?.metadata.name).toMatch(new RegExp(`^${name}-[a-z0-9]{5}$`));
    expect(pod?.metadata.labels).toMatchObject({ team: 'a', [LABEL_JOB_ID]: 'labels', 'job-name': name, 'controller-uid': job?.metadata.uid });
    expect(pod?.metadata.annotations).toEqual({ [SIM_DURATION_S]: '7' });
    expect(pod?.metadata.ownerReferences).toEqual([
      { apiVersion: 'batch/v1', kind: 'Job', name, uid: job?.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
  });

  it('reports RUNNING with the pod Running, started after the start delay', async () => {
    const { sim, clock } = setup();
    const name = await submit(sim, 'run');
    clock.advance(500);
    expect(statusOf(sim, name).phase).toBe('PENDING');
    clock.advance(500);
    const [pod] = sim.podsOfJob(name);
    expect(pod?.status).toMatchObject({ phase: 'Running', startTime: at(1) });
    expect(pod?.status?.containerStatuses?.[0]?.state?.running).toEqual({ startedAt: at(1) });
    expect(statusOf(sim, name)).toMatchObject({ phase: 'RUNNING', attempts: 1, startTime: at(1) });
    expect(sim.job(name)?.status?.startTime).toBe(at(0));
  });
});

describe('SimCluster placement', () => {
  it('puts GPU jobs on gpu nodes with the right limit and CPU jobs on cpu nodes', async () => {
    const { sim, clock } = setup();
    const gpu = await submit(sim, 'gpu', { gpu_count: 2 });
    const cpu = await submit(sim, 'cpu');
    clock.advance(1000);
    const [gpuPod] = sim.podsOfJob(gpu);
    const [cpuPod] = sim.podsOfJob(cpu);
    expect(gpuPod?.spec.nodeName).toMatch(/^gpu-\d$/);
    expect(gpuPod?.spec.containers[0]?.resources.limits?.[GPU_RESOURCE]).toBe('2');
    expect(cpuPod?.spec.nodeName).toMatch(/^cpu-\d$/);
    expect(sim.poolUsage().gpu?.allocated).toEqual({ cpuMilli: 4000, memoryMb: 16384, gpu: 2 });
    expect(sim.poolUsage().cpu?.allocated).toEqual({ cpuMilli: 4000, memoryMb: 16384, gpu: 0 });
  });

  it('keeps a third 8-GPU job Pending (Unschedulable) until one of two running 8-GPU jobs ends', async () => {
    const { sim, clock } = setup();
    const long = { gpu_count: 8, annotations: { [SIM_DURATION_S]: '100' } };
    const a = await submit(sim, 'a', long);
    const b = await submit(sim, 'b', { gpu_count: 8, annotations: { [SIM_DURATION_S]: '200' } });
    const c = await submit(sim, 'c', { gpu_count: 8 });
    clock.advance(2000);
    expect(statusOf(sim, a).phase).toBe('RUNNING');
    expect(statusOf(sim, b).phase).toBe('RUNNING');
    const waiting = statusOf(sim, c);
    expect(waiting.phase).toBe('PENDING');
    expect(waiting.message).toBe('0/6 nodes are available: 6 Insufficient nvidia.com/gpu.');
    expect(sim.podsOfJob(c)[0]?.status).toMatchObject({ phase: 'Pending', reason: 'Unschedulable' });

    clock.advanceTo(T0 + 101_000); // a ends at 1 + 100 s
    expect(statusOf(sim, a).phase).toBe('SUCCEEDED');
    expect(sim.podsOfJob(c)[0]?.spec.nodeName).toBe(sim.podsOfJob(a)[0]?.spec.nodeName);
    clock.advance(1000);
    expect(statusOf(sim, c).phase).toBe('RUNNING');
  });

  it('keeps CPU pods off GPU nodes until the CPU nodes are full', async () => {
    const { sim, clock } = setup([
      { name: 'cpu', nodes: 1, cpu: 4, memoryGi: 64 },
      { name: 'gpu', nodes: 1, cpu: 4, memoryGi: 64, gpu: 1 },
    ]);
    const names = [await submit(sim, 'x1'), await submit(sim, 'x2'), await submit(sim, 'x3')];
    clock.advance(0);
    expect(names.map((n) => sim.podsOfJob(n)[0]?.spec.nodeName)).toEqual(['cpu-1', 'gpu-1', undefined]);
    expect(statusOf(sim, names[2] as string).message).toBe('0/2 nodes are available: 2 Insufficient cpu.');
  });

  it('does no gang scheduling: of 3 pods needing 8 GPUs each, 2 run and 1 waits', async () => {
    const { sim, clock } = setup();
    const name = await submit(sim, 'gang', { gpu_count: 8, replicas: 3 });
    expect(sim.job(name)?.spec).toMatchObject({ parallelism: 3, completions: 3 });
    clock.advance(1000);
    const pods = sim.podsOfJob(name);
    expect(pods.map((p) => p.status?.phase).sort()).toEqual(['Pending', 'Running', 'Running']);
    expect(pods.filter((p) => p.spec.nodeName).map((p) => p.spec.nodeName).sort()).toEqual(['gpu-1', 'gpu-2']);
    expect(statusOf(sim, name)).toMatchObject({ phase: 'RUNNING', attempts: 3 });
    clock.runUntilIdle();
    expect(statusOf(sim, name)).toMatchObject({ phase: 'SUCCEEDED', attempts: 3 });
  });

  it('retries waiting pods oldest first when a node is added', async () => {
    const { sim, clock } = setup([{ name: 'cpu', nodes: 1, cpu: 4, memoryGi: 64 }]);
    const long = { annotations: { [SIM_DURATION_S]: '1000' } };
    const names = [await submit(sim, 'n1', long), await submit(sim, 'n2', long), await submit(sim, 'n3', long)];
    sim.addNodes({ name: 'cpu', nodes: 1, cpu: 4, memoryGi: 64 });
    clock.advance(0);
    expect(names.map((n) => sim.podsOfJob(n)[0]?.spec.nodeName)).toEqual(['cpu-1', 'cpu-2', undefined]);
  });

  it('schedules nothing on NotReady nodes, and replaces the pods of a removed node', async () => {
    const { sim, clock } = setup([{ name: 'cpu', nodes: 2, cpu: 4, memoryGi: 64 }]);
    sim.setNodeReady('cpu-2', false);
    const long = { annotations: { [SIM_DURATION_S]: '1000' } };
    const a = await submit(sim, 'r1', long);
    const b = await submit(sim, 'r2', long);
    expect(sim.podsOfJob(a)[0]?.spec.nodeName).toBe('cpu-1');
    expect(statusOf(sim, b).message).toBe(
      "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate.",
    );
    sim.setNodeReady('cpu-2', true);
    expect(sim.podsOfJob(b)[0]?.spec.nodeName).toBe('cpu-2');
    clock.advance(5000);
    const before = sim.podsOfJob(a)[0]?.metadata.name;
    sim.removeNode('cpu-1');
    expect(sim.nodes().map((n) => n.metadata.name)).toEqual(['cpu-2']);
    const after = sim.podsOfJob(a);
    expect(after).toHaveLength(1);
    expect(after[0]?.metadata.name).not.toBe(before);
    expect(after[0]?.status?.phase).toBe('Pending');
    expect(sim.job(a)?.status?.failed).toBeUndefined();
  });

  it('runs a long queue of jobs to completion without overcommitting', async () => {
    const { sim, clock } = setup();
    const names: string[] = [];
    for (let i = 0; i < 300; i++) names.push(await submit(sim, `q${i}`, { cpu: 8, gpu_count: i % 10 === 0 ? 1 : 0 }));
    let maxCpu = 0;
    while (clock.nextTimerAt() !== undefined) {
      clock.advanceTo(clock.nextTimerAt() ?? 0);
      for (const u of Object.values(sim.poolUsage())) {
        expect(u.allocated.cpuMilli).toBeLessThanOrEqual(u.capacity.cpuMilli);
        expect(u.allocated.gpu).toBeLessThanOrEqual(u.capacity.gpu);
      }
      maxCpu = Math.max(maxCpu, sim.poolUsage().cpu?.allocated.cpuMilli ?? 0);
    }
    expect(maxCpu).toBe(128_000);
    expect(names.every((n) => statusOf(sim, n).phase === 'SUCCEEDED')).toBe(true);
  });
});

describe('SimCluster deletion', () => {
  it('deleting the AIJob deletes its Job and pods (ownerReference, background)', async () => {
    const { sim, clock } = setup();
    const owner = await sim.createAIJob(aiJob('j1', makeSpec({ gpu_count: 4 })));
    const other = await sim.createAIJob(aiJob('j2'));
    const name = await submit(sim, 'j1', { gpu_count: 4, annotations: { [SIM_DURATION_S]: '100' } }, { owner });
    const kept = await submit(sim, 'j2', {}, { owner: other });
    clock.advance(2000);
    expect(statusOf(sim, name).phase).toBe('RUNNING');
    await sim.deleteAIJob('j1');
    expect(sim.job(name)).toBeUndefined();
    expect(sim.pods().filter((p) => p.metadata.labels?.['job-name'] === name)).toEqual([]);
    expect(sim.job(kept)).toBeDefined();
    expect(sim.poolUsage().gpu?.allocated.gpu).toBe(0);
  });

  it('deleteJob removes the Job and kills its pods, freeing their nodes; missing is fine', async () => {
    const { sim, clock } = setup();
    const name = await submit(sim, 'del', { annotations: { [SIM_DURATION_S]: '100' } });
    clock.advance(2000);
    await sim.deleteJob(name);
    await sim.deleteJob(name);
    expect(sim.jobs()).toEqual([]);
    expect(sim.pods()).toEqual([]);
    expect(sim.poolUsage().cpu?.allocated.cpuMilli).toBe(0);
    await expectClusterError(sim.readLogs(name, 10), 'NotFound');
    clock.runUntilIdle();
    expect(sim.pods()).toEqual([]);
  });

  it('createJob is idempotent: created, then exists, one set of pods', async () => {
    const { sim } = setup();
    const job = manifest('twice', makeSpec({ replicas: 2 }));
    expect(await sim.createJob(job)).toBe('created');
    expect(await sim.createJob(job)).toBe('exists');
    expect(sim.jobs()).toHaveLength(1);
    expect(sim.pods()).toHaveLength(2);
  });
});

describe('SimCluster watch', () => {
  it('delivers the initial list as ADDED, then onSynced, then changes in order', async () => {
    const { sim, clock } = setup([{ name: 'cpu', nodes: 1, cpu: 8, memoryGi: 32 }]);
    await sim.createAIJob(aiJob('j0'));
    const seen: string[] = [];
    const rvs: number[] = [];
    let synced = false;
    const stop = await sim.watch({
      onEvent: (e: ClusterEvent) => {
        seen.push(`${e.kind} ${e.type} ${e.object.metadata.name}${e.kind === 'Pod' ? ` ${e.object.status?.phase}${e.object.spec.nodeName ? '@' + e.object.spec.nodeName : ''}` : ''}`);
        if (synced) rvs.push(Number(e.object.metadata.resourceVersion));
      },
      onSynced: () => {
        synced = true;
        seen.push('SYNCED');
      },
    });
    expect(seen).toEqual(['AIJob ADDED j0', 'Node ADDED cpu-1', 'SYNCED']);

    await sim.createAIJob(aiJob('w'));
    const name = await submit(sim, 'w');
    clock.runUntilIdle();
    await flush();
    const pod = sim.podsOfJob(name)[0]?.metadata.name ?? '';
    expect(seen.slice(3)).toEqual([
      'AIJob ADDED w',
      `Job ADDED ${name}`,
      `Pod ADDED ${pod} Pending`,
      `Job MODIFIED ${name}`,
      `Pod MODIFIED ${pod} Pending@cpu-1`,
      `Pod MODIFIED ${pod} Running@cpu-1`,
      `Pod MODIFIED ${pod} Succeeded@cpu-1`,
      `Job MODIFIED ${name}`,
    ]);
    expect(rvs).toEqual([...rvs].sort((x, y) => x - y));
    expect(new Set(rvs).size).toBe(rvs.length);

    stop();
    await sim.deleteJob(name);
    await flush();
    expect(seen.at(-1)).toBe(`Job MODIFIED ${name}`);
  });

  it('delivers asynchronously, so a watcher may write from onEvent; several watchers see the same order', async () => {
    const { sim } = setup();
    const a: string[] = [];
    const b: string[] = [];
    const mutationErrors: unknown[] = [];
    await sim.watch({
      onEvent: (e) => {
        if (e.kind === 'Node') return;
        a.push(`${e.kind} ${e.type} ${e.object.metadata.name}`);
        if (e.kind === 'AIJob' && e.type === 'ADDED') {
          void sim.updateAIJobStatus(e.object.metadata.name, { phase: 'PENDING', attempts: 0, attempt: 1 });
          try {
            e.object.spec.image = 'mutated by a watcher';
          } catch (err) {
            mutationErrors.push(err);
          }
        }
      },
      onSynced: () => undefined,
    });
    await sim.watch({
      onEvent: (e) => {
        if (e.kind !== 'Node') b.push(`${e.kind} ${e.type} ${e.object.metadata.name}`);
      },
      onSynced: () => undefined,
    });
    const created = sim.createAIJob(aiJob('x'));
    expect(sim.aiJob('x')).toBeDefined();
    expect(a).toEqual([]);
    await created;
    await flush();
    expect(a).toEqual(['AIJob ADDED x', 'AIJob MODIFIED x']);
    expect(b).toEqual(a);
    expect(mutationErrors).toEqual([expect.any(TypeError)]);
    expect(sim.aiJob('x')?.spec.image).toBe('busybox');
  });

  it('reports only Runway pods (labelled with a job id)', async () => {
    const { sim } = setup();
    const pods: string[] = [];
    await sim.watch({ onEvent: (e) => e.kind === 'Pod' && pods.push(e.object.metadata.name), onSynced: () => undefined });
    // Manifests are immutable values: build one whose pods carry no job-id label.
    const built = manifest('foreign', makeSpec());
    const { [LABEL_JOB_ID]: _dropped, ...labels } = built.spec.template.metadata.labels ?? {};
    const template = { ...built.spec.template, metadata: { ...built.spec.template.metadata, labels } };
    const foreign: K8sJob = { ...built, spec: { ...built.spec, template } };
    await sim.createJob(foreign);
    await flush();
    expect(sim.pods()).toHaveLength(1);
    expect(pods).toEqual([]);
  });
});

describe('SimCluster faults', () => {
  it('setAvailable(false) makes every port call reject with Unavailable and stores nothing', async () => {
    const { sim } = setup();
    await sim.createAIJob(aiJob('before'));
    sim.setAvailable(false);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['createAIJob', () => sim.createAIJob(aiJob('x'))],
      ['updateAIJobStatus', () => sim.updateAIJobStatus('before', { phase: 'RUNNING', attempts: 1, attempt: 1 })],
      ['deleteAIJob', () => sim.deleteAIJob('before')],
      ['createJob', () => sim.createJob(manifest('x', makeSpec()))],
      ['deleteJob', () => sim.deleteJob('x-1')],
      ['ping', () => sim.ping()],
      ['readLogs', () => sim.readLogs('x-1', 10)],
      ['watch', () => sim.watch({ onEvent: () => undefined, onSynced: () => undefined })],
    ];
    for (const [, call] of calls) await expectClusterError(call(), 'Unavailable');
    expect(sim.aiJobs().map((j) => j.metadata.name)).toEqual(['before']);
    expect(sim.aiJob('before')?.status).toBeUndefined();
    expect(sim.jobs()).toEqual([]);
    sim.setAvailable(true);
    await sim.ping();
    expect(await sim.createJob(manifest('x', makeSpec()))).toBe('created');
  });

  it('failNext fails the named operation the given number of times, then recovers', async () => {
    const { sim } = setup();
    sim.failNext('createJob');
    sim.failNext('createAIJob', 'Conflict', 2);
    await expectClusterError(sim.createJob(manifest('f', makeSpec())), 'Unavailable');
    expect(sim.jobs()).toEqual([]);
    expect(await sim.createJob(manifest('f', makeSpec()))).toBe('created');
    await expectClusterError(sim.createAIJob(aiJob('f')), 'Conflict');
    await expectClusterError(sim.createAIJob(aiJob('f')), 'Conflict');
    await sim.createAIJob(aiJob('f'));
    expect(sim.aiJobs()).toHaveLength(1);
  });
});

describe('SimCluster logs and lifecycle', () => {
  it('readLogs returns the last lines of the Job pods', async () => {
    const { sim, clock } = setup();
    const name = await submit(sim, 'logs', { annotations: { [SIM_EXIT_CODE]: '2' } }, { backoffLimit: 0 });
    clock.runUntilIdle();
    const [pod] = sim.podsOfJob(name);
    const all = (await sim.readLogs(name, 100)).split('\n');
    expect(all).toEqual([
      `[sim] pod ${pod?.metadata.name} scheduled on node ${pod?.spec.nodeName}`,
      `[sim] pod ${pod?.metadata.name} started (image busybox)`,
      `[sim] pod ${pod?.metadata.name} exited with code 2 (Error)`,
      `[sim] job ${name} failed: BackoffLimitExceeded (Job has reached the specified backoff limit)`,
    ]);
    expect(await sim.readLogs(name, 2)).toBe(all.slice(-2).join('\n'));
    expect(await sim.readLogs(name, 0)).toBe('');
    await expectClusterError(sim.readLogs('unknown-1', 10), 'NotFound');
  });

  it('delegates now/setTimer to the clock and close() cancels every sim timer', async () => {
    const { sim, clock } = setup();
    expect(sim.now()).toBe(T0);
    let fired = 0;
    sim.setTimer(T0 + 1000, () => fired++);
    await submit(sim, 'closing');
    await sim.close();
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(10_000);
    expect(fired).toBe(0);
  });
});
