/**
 * Runway against a real kube-apiserver, kube-controller-manager and kube-scheduler (Kubernetes 1.20
 * built from Debian's sources), with a simulated kubelet. Runway authenticates as the runway
 * ServiceAccount, so every test here also proves deploy/'s RBAC is enough.
 */
import { execFileSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AIJob } from '../../src/cluster/types.js';
import { KubeCluster } from '../../src/cluster/kube/index.js';
import { ClusterError } from '../../src/cluster/types.js';
import type { K8sJob, K8sPod } from '../../src/core/k8s.js';
import { addNodes, kubeRequest, startControlPlane, type ControlPlane } from './harness/control-plane.js';
import { startKubelet, type Kubelet } from './harness/kubelet.js';
import { applyDeploy, eventually, serviceAccountKubeConfig, startRunwayOnKube, type RunwayOnKube } from './harness/runway-on-kube.js';

const skip = process.env.RUNWAY_SKIP_K8S === '1';
const JOB = { image: 'busybox:1.36', cpu: 1, memory_mb: 512, timeout_s: 600 };

let cp: ControlPlane;
let kubelet: Kubelet;
let kc: KubeConfig;
let rw: RunwayOnKube | undefined;

const MAIN_ENV = { RUNWAY_BACKOFF_LIMIT: '1', RUNWAY_RATE_LIMIT_PER_MIN: '6000', RUNWAY_RATE_LIMIT_BURST: '1000' };

async function startMain(): Promise<RunwayOnKube> {
  rw = await startRunwayOnKube(kc, MAIN_ENV);
  return rw;
}

async function stopMain(): Promise<void> {
  await rw?.runway.close();
  rw = undefined;
}

async function submit(r: RunwayOnKube, body: Record<string, unknown>, tenant = 'team-a') {
  const res = await fetch(`${r.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
    body: JSON.stringify({ ...JOB, ...body }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> & { job_id: string } };
}

async function getJob(r: RunwayOnKube, id: string) {
  const res = await fetch(`${r.url}/v1/jobs/${id}`);
  return (await res.json()) as Record<string, unknown>;
}

function waitForStatus(r: RunwayOnKube, id: string, statuses: string[], timeoutMs = 90_000) {
  return eventually(`job ${id} to reach ${statuses.join('/')}`, async () => {
    const j = await getJob(r, id);
    return statuses.includes(j.status as string) ? j : undefined;
  }, timeoutMs);
}

async function listPods(jobName: string): Promise<K8sPod[]> {
  const res = await kubeRequest(cp, 'GET', `/api/v1/namespaces/jobs/pods?labelSelector=job-name%3D${jobName}`);
  return (res.body as { items: K8sPod[] }).items;
}

async function listJobs(selector: string): Promise<K8sJob[]> {
  const res = await kubeRequest(cp, 'GET', `/apis/batch/v1/namespaces/jobs/jobs?labelSelector=${encodeURIComponent(selector)}`);
  return (res.body as { items: K8sJob[] }).items;
}

async function listAIJobs(): Promise<AIJob[]> {
  const res = await kubeRequest(cp, 'GET', '/apis/runway.dev/v1alpha1/namespaces/jobs/aijobs');
  return (res.body as { items: AIJob[] }).items;
}

describe.skipIf(skip)('Runway on a real Kubernetes control plane', () => {
  beforeAll(async () => {
    cp = await startControlPlane();
    await addNodes(cp, [
      { name: 'cpu-1', cpu: '16', memory: '64Gi', labels: { 'runway.dev/pool': 'cpu' } },
      { name: 'gpu-1', cpu: '32', memory: '128Gi', gpus: 4, labels: { 'runway.dev/pool': 'gpu' } },
    ]);
    applyDeploy(cp);
    kubelet = await startKubelet(cp, ['cpu-1', 'gpu-1']);
    kc = await serviceAccountKubeConfig(cp);
    await startMain();
  }, 180_000);

  afterAll(async () => {
    await rw?.runway.close();
    await kubelet?.stop();
    await cp?.stop();
    for (const pid of cp?.pids() ?? []) expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);

  it('is ready: the CRDs are served and the caches are synced', async () => {
    const r = rw as RunwayOnKube;
    const res = await fetch(`${r.url}/readyz`);
    expect(await res.json()).toEqual({ status: 'ready', cluster: 'kube', namespace: 'jobs' });
  });

  it('runs a GPU job on the GPU node with the nvidia.com/gpu limit, and a CPU job without one', async () => {
    const r = rw as RunwayOnKube;
    const gpu = await submit(r, { gpu_count: 2, annotations: { 'sim.runway.dev/duration-s': '1' } });
    const cpu = await submit(r, { annotations: { 'sim.runway.dev/duration-s': '1' } });
    expect([gpu.status, cpu.status]).toEqual([201, 201]);
    const gpuDone = await waitForStatus(r, gpu.body.job_id, ['SUCCEEDED']);
    const cpuDone = await waitForStatus(r, cpu.body.job_id, ['SUCCEEDED']);
    expect(gpuDone).toMatchObject({ status: 'SUCCEEDED', exit_code: 0, attempts: 1 });
    expect(cpuDone).toMatchObject({ status: 'SUCCEEDED', exit_code: 0 });
    const [gpuPod] = await listPods(`${gpu.body.job_id}-1`);
    const [cpuPod] = await listPods(`${cpu.body.job_id}-1`);
    expect(gpuPod?.spec.nodeName).toBe('gpu-1');
    expect(gpuPod?.spec.containers[0]?.resources.limits?.['nvidia.com/gpu']).toBe('2');
    expect(cpuPod?.spec.containers[0]?.resources.limits?.['nvidia.com/gpu']).toBeUndefined();
    // The Job is owned by its AIJob, and the AIJob's status is written for kubectl users.
    const [job] = await listJobs(`runway.dev/job-id=${gpu.body.job_id}`);
    expect(job?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'AIJob', name: gpu.body.job_id, controller: true });
    const aijob = (await listAIJobs()).find((a) => a.metadata.name === gpu.body.job_id);
    expect(aijob?.status).toMatchObject({ phase: 'SUCCEEDED', exitCode: 0, attempt: 1 });
    expect(r.runway.ledger.inUse('team-a').gpu).toBe(0);
  }, 120_000);

  it('reports OOMKilled, exit code 3 and deadline exceeded as Kubernetes did them', async () => {
    const r = rw as RunwayOnKube;
    const oom = await submit(r, { annotations: { 'sim.runway.dev/oom': 'true', 'sim.runway.dev/duration-s': '1' } }, 'team-b');
    const exit3 = await submit(r, { annotations: { 'sim.runway.dev/exit-code': '3', 'sim.runway.dev/duration-s': '1' } }, 'team-b');
    const slow = await submit(r, { timeout_s: 3, annotations: { 'sim.runway.dev/duration-s': '120' } }, 'team-b');
    expect(await waitForStatus(r, oom.body.job_id, ['FAILED'])).toMatchObject({ status: 'FAILED', reason: 'OOMKilled', exit_code: 137, attempts: 2 });
    expect(await waitForStatus(r, exit3.body.job_id, ['FAILED'])).toMatchObject({ status: 'FAILED', reason: 'Error', exit_code: 3, attempts: 2 });
    expect(await waitForStatus(r, slow.body.job_id, ['DEADLINE'])).toMatchObject({ status: 'DEADLINE', reason: 'DeadlineExceeded' });
  }, 150_000);

  it('explains a GPU job that cannot be placed yet with the scheduler\'s reason, then runs it', async () => {
    const r = rw as RunwayOnKube;
    const big = await submit(r, { gpu_count: 4, annotations: { 'sim.runway.dev/duration-s': '4' } }, 'team-j');
    await waitForStatus(r, big.body.job_id, ['RUNNING']);
    const waiting = await submit(r, { gpu_count: 4, annotations: { 'sim.runway.dev/duration-s': '1' } }, 'team-k');
    const pending = await eventually('the scheduler\'s reason', async () => {
      const j = await getJob(r, waiting.body.job_id);
      return typeof j.message === 'string' && j.message.includes('nvidia.com/gpu') ? j : undefined;
    });
    expect(pending).toMatchObject({ status: 'PENDING' });
    expect(pending.message).toMatch(/Insufficient nvidia\.com\/gpu/);
    expect(await waitForStatus(r, waiting.body.job_id, ['SUCCEEDED'])).toMatchObject({ status: 'SUCCEEDED' });
  }, 90_000);

  it('retries a job that fails once, by backoffLimit, until it succeeds', async () => {
    const r = rw as RunwayOnKube;
    const flaky = await submit(r, { annotations: { 'sim.runway.dev/fail-attempts': '1', 'sim.runway.dev/duration-s': '1' } }, 'team-c');
    expect(await waitForStatus(r, flaky.body.job_id, ['SUCCEEDED', 'FAILED'])).toMatchObject({ status: 'SUCCEEDED', exit_code: 0, attempts: 2 });
    expect(await listPods(`${flaky.body.job_id}-1`)).toHaveLength(2);
  }, 120_000);

  it('loses nothing across a restart: no duplicates, and jobs that ended meanwhile are released once', async () => {
    let r = rw as RunwayOnKube;
    const short = await submit(r, { gpu_count: 1, annotations: { 'sim.runway.dev/duration-s': '3' } }, 'team-d');
    const long = await submit(r, { gpu_count: 2, annotations: { 'sim.runway.dev/duration-s': '30' } }, 'team-d');
    await waitForStatus(r, long.body.job_id, ['RUNNING']);
    await stopMain();
    // While Runway is down the short job finishes.
    await eventually('the short job to finish while Runway is down', async () => {
      const [job] = await listJobs(`runway.dev/job-id=${short.body.job_id}`);
      return job?.status?.succeeded === 1 ? true : undefined;
    });
    r = await startMain();
    expect(await waitForStatus(r, short.body.job_id, ['SUCCEEDED'])).toMatchObject({ status: 'SUCCEEDED' });
    expect((await getJob(r, long.body.job_id)).status).toBe('RUNNING');
    // Only the running job holds quota; the finished one was released exactly once.
    expect(r.runway.ledger.inUse('team-d').gpu).toBe(2);
    const metrics = await (await fetch(`${r.url}/metrics`)).text();
    expect(metrics).toContain('runway_job_outcomes_total{status="SUCCEEDED",reason="Completed"} 1');
    // Every AIJob has exactly one Job for its attempt.
    for (const id of [short.body.job_id, long.body.job_id]) expect(await listJobs(`runway.dev/job-id=${id}`)).toHaveLength(1);
    // The quota is enforced against what the cluster says is running, not a fresh zero.
    const over = await submit(r, { gpu_count: 4, annotations: { 'sim.runway.dev/duration-s': '1' } }, 'team-d');
    expect(over.status).toBe(201);
    const refused = await submit(r, { gpu_count: 3 }, 'team-d');
    expect(refused.status).toBe(403);
    expect((refused.body as unknown as { error: { details: unknown } }).error.details).toMatchObject({ in_use: 6, requested: 3, quota: 8 });
  }, 150_000);

  it('deleting an AIJob deletes its Job and pods (owner reference, real garbage collector)', async () => {
    const r = rw as RunwayOnKube;
    const job = await submit(r, { annotations: { 'sim.runway.dev/duration-s': '300' } }, 'team-l');
    await waitForStatus(r, job.body.job_id, ['RUNNING']);
    const del = await kubeRequest(cp, 'DELETE', `/apis/runway.dev/v1alpha1/namespaces/jobs/aijobs/${job.body.job_id}`);
    expect(del.status).toBe(200);
    // The garbage collector learns about a new CRD at its 30 s discovery resync, so allow for that.
    await eventually(
      'the Job and its pods to be collected',
      async () => ((await listJobs(`runway.dev/job-id=${job.body.job_id}`)).length === 0 && (await listPods(`${job.body.job_id}-1`)).length === 0 ? true : undefined),
      90_000,
    );
    // Runway forgets it and gives its quota back.
    await eventually('Runway to forget the job', async () => ((await fetch(`${r.url}/v1/jobs/${job.body.job_id}`)).status === 404 ? true : undefined));
    expect(r.runway.ledger.inUse('team-l').cpuMilli).toBe(0);
  }, 120_000);

  it('answers a submission with the same idempotency key with the same job, across restarts', async () => {
    const r = rw as RunwayOnKube;
    const first = await submit(r, { idempotency_key: 'nightly-2026-11-25', annotations: { 'sim.runway.dev/duration-s': '1' } }, 'team-e');
    const again = await submit(r, { idempotency_key: 'nightly-2026-11-25' }, 'team-e');
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body.job_id).toBe(first.body.job_id);
    expect((await listAIJobs()).filter((a) => a.spec.idempotency_key === 'nightly-2026-11-25')).toHaveLength(1);
  }, 60_000);

  describe('an ambiguous failure never stays ambiguous', () => {
    // These tests run their own Runway; two replicas without leader election would both act.
    beforeAll(async () => stopMain());
    afterAll(async () => startMain());

    /** A KubeCluster whose next Job create (and optionally AIJob delete) fails as during an outage. */
    class FlakyCluster extends KubeCluster {
      failJobCreate = 0;
      failAIJobDelete = 0;
      override async createJob(job: K8sJob) {
        if (this.failJobCreate > 0) {
          this.failJobCreate--;
          throw new ClusterError('Unavailable', 'injected: connection reset');
        }
        return super.createJob(job);
      }
      override async deleteAIJob(name: string) {
        if (this.failAIJobDelete > 0) {
          this.failAIJobDelete--;
          throw new ClusterError('Unavailable', 'injected: connection reset');
        }
        return super.deleteAIJob(name);
      }
    }

    it('503 with nothing left behind when the Job cannot be created', async () => {
      const cluster = new FlakyCluster(kc, { namespace: 'jobs' });
      const r = await startRunwayOnKube(kc, {}, { cluster });
      try {
        cluster.failJobCreate = 1;
        const res = await submit(r, { idempotency_key: 'k-clean' }, 'team-f');
        expect(res.status).toBe(503);
        await eventually('the rolled-back AIJob to disappear', async () =>
          (await listAIJobs()).some((a) => a.spec.idempotency_key === 'k-clean') ? undefined : true,
        );
        expect(await listJobs('runway.dev/tenant=team-f')).toHaveLength(0);
        expect(r.runway.ledger.inUse('team-f').cpuMilli).toBe(0);
      } finally {
        await r.runway.close();
      }
    }, 60_000);

    it('503, then the controller completes the surviving intent and a resubmission returns it', async () => {
      const cluster = new FlakyCluster(kc, { namespace: 'jobs' });
      const r = await startRunwayOnKube(kc, {}, { cluster });
      try {
        cluster.failJobCreate = 1;
        cluster.failAIJobDelete = 1;
        const res = await submit(r, { idempotency_key: 'k-intent', annotations: { 'sim.runway.dev/duration-s': '1' } }, 'team-g');
        expect(res.status).toBe(503);
        const again = await eventually('the resubmission to return the completed job', async () => {
          const s = await submit(r, { idempotency_key: 'k-intent' }, 'team-g');
          return s.status === 200 ? s : undefined;
        });
        expect(await waitForStatus(r, again.body.job_id, ['SUCCEEDED'])).toMatchObject({ status: 'SUCCEEDED' });
        expect(await listJobs('runway.dev/tenant=team-g')).toHaveLength(1);
        expect((await listAIJobs()).filter((a) => a.spec.tenant_id === 'team-g')).toHaveLength(1);
      } finally {
        await r.runway.close();
      }
    }, 90_000);
  });

  it('answers 503 fast while the API server is down, fails /readyz, and recovers by itself', async () => {
    const r = rw as RunwayOnKube;
    await cp.stopApiServer();
    try {
      const t0 = Date.now();
      const res = await submit(r, { annotations: { 'sim.runway.dev/duration-s': '1' } }, 'team-h');
      const elapsed = Date.now() - t0;
      expect(res.status).toBe(503);
      expect((res.body as unknown as { error: { code: string } }).error.code).toBe('CLUSTER_UNAVAILABLE');
      expect(elapsed).toBeLessThan(1500); // RUNWAY_CLUSTER_TIMEOUT_MS=1000, plus HTTP overhead
      expect((await fetch(`${r.url}/readyz`)).status).toBe(503);
      const metrics = await (await fetch(`${r.url}/metrics`)).text();
      expect(metrics).toMatch(/job_create_failures_total [1-9]/);
    } finally {
      await cp.startApiServer();
    }
    await eventually('/readyz to recover', async () => ((await fetch(`${r.url}/readyz`)).status === 200 ? true : undefined));
    const res = await submit(r, { annotations: { 'sim.runway.dev/duration-s': '1' } }, 'team-h');
    expect(res.status).toBe(201);
    expect(await waitForStatus(r, res.body.job_id, ['SUCCEEDED'])).toMatchObject({ status: 'SUCCEEDED' });
  }, 150_000);

  it('two replicas: one admits; kill it and the other takes over within the lease duration, no double admission', async () => {
    await stopMain();
    const env = { RUNWAY_RATE_LIMIT_PER_MIN: '6000', RUNWAY_RATE_LIMIT_BURST: '1000' };
    const a = await startRunwayOnKube(kc, env, { identity: 'replica-a' });
    const b = await startRunwayOnKube(kc, env, { identity: 'replica-b' });
    try {
      const leader = await eventually('a leader', async () => (a.elector?.isLeader() ? a : b.elector?.isLeader() ? b : undefined));
      const follower = leader === a ? b : a;
      expect(follower.elector?.isLeader()).toBe(false);
      const refused = await submit(follower, {}, 'team-i');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).not.toBeNull();
      expect((refused.body as unknown as { error: { code: string } }).error.code).toBe('NOT_LEADER');
      const before = await submit(leader, { annotations: { 'sim.runway.dev/duration-s': '1' } }, 'team-i');
      expect(before.status).toBe(201);
      // The follower serves reads from its own caches.
      await eventually('the follower to see the job', async () => ((await fetch(`${follower.url}/v1/jobs/${before.body.job_id}`)).status === 200 ? true : undefined));

      const killedAt = Date.now();
      leader.elector?.abandon(); // as a crash would: no hand-over
      await leader.runway.close();
      await eventually('the follower to take over', async () => (follower.elector?.isLeader() ? true : undefined), 30_000, 100);
      const tookMs = Date.now() - killedAt;
      expect(tookMs).toBeLessThan(15_000 + 2_000 + 1_000); // lease duration + one retry period + slack
      const after = await submit(follower, { annotations: { 'sim.runway.dev/duration-s': '1' } }, 'team-i');
      expect(after.status).toBe(201);
      await waitForStatus(follower, before.body.job_id, ['SUCCEEDED']);
      await waitForStatus(follower, after.body.job_id, ['SUCCEEDED']);
      for (const id of [before.body.job_id, after.body.job_id]) expect(await listJobs(`runway.dev/job-id=${id}`)).toHaveLength(1);
      expect((await listAIJobs()).filter((x) => x.spec.tenant_id === 'team-i')).toHaveLength(2);
    } finally {
      await a.runway.close().catch(() => undefined);
      await b.runway.close().catch(() => undefined);
    }
  }, 120_000);

  describe('queues on the real control plane: gang, preemption, cancel, retry', () => {
    // Policies as an operator applies them: custom resources, with kubectl.
    const POLICIES = `
apiVersion: runway.dev/v1alpha1
kind: AIJobQueue
metadata: {name: batch}
spec: {admission: queued, maxConcurrency: 100, preemptionPolicy: PreemptLowerPriority}
---
apiVersion: runway.dev/v1alpha1
kind: ComputeCluster
metadata: {name: cpu}
spec: {nodeSelector: {runway.dev/pool: cpu}}
---
apiVersion: runway.dev/v1alpha1
kind: ComputeCluster
metadata: {name: gpu}
spec: {nodeSelector: {runway.dev/pool: gpu}}
`;
    const GPU = { queue: 'batch', gpu_count: 2 };

    beforeAll(async () => {
      await stopMain();
      execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'apply', '-f', '-'], { input: POLICIES, stdio: ['pipe', 'ignore', 'inherit'] });
      // A short backoff so that a retry is due within the test, on the real clock; policy statuses every 0.5 s.
      rw = await startRunwayOnKube(kc, { ...MAIN_ENV, RUNWAY_RETRY_BASE_DELAY_S: '1', RUNWAY_POLICY_STATUS_INTERVAL_S: '0.5' });
      const r = rw;
      await eventually('the queue and the pools to reach the policy cache', async () => {
        const pools = (await (await fetch(`${r.url}/v1/nodepools`)).json()) as { items: Array<{ name: string }> };
        return pools.items.map((p) => p.name).join() === 'cpu,gpu' ? true : undefined;
      });
    }, 60_000);

    async function cancel(r: RunwayOnKube, id: string) {
      const res = await fetch(`${r.url}/v1/jobs/${id}`, { method: 'DELETE' });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }

    it('runs a gang as one Job with parallelism = completions = N, all of its pods on the GPU node', async () => {
      const r = rw as RunwayOnKube;
      const gang = await submit(r, { ...GPU, replicas: 2, annotations: { 'sim.runway.dev/duration-s': '2' } }, 'q-gang');
      expect(gang.status).toBe(201);
      const [job] = await listJobs(`runway.dev/job-id=${gang.body.job_id}`);
      expect(job?.metadata.name).toBe(`${gang.body.job_id}-1`);
      expect(job?.spec).toMatchObject({ parallelism: 2, completions: 2 });
      expect(await waitForStatus(r, gang.body.job_id, ['SUCCEEDED', 'FAILED'])).toMatchObject({ status: 'SUCCEEDED' });
      const pods = await listPods(`${gang.body.job_id}-1`);
      expect(pods.map((p) => p.spec.nodeName)).toEqual(['gpu-1', 'gpu-1']);
      expect(r.runway.ledger.inUse('q-gang').gpu).toBe(0);
    }, 120_000);

    it('a gang that cannot fit waits whole (202 QUEUED), with no Job and a reason', async () => {
      const r = rw as RunwayOnKube;
      const holder = await submit(r, { ...GPU, gpu_count: 1, annotations: { 'sim.runway.dev/duration-s': '4' } }, 'q-hold');
      expect(holder.status).toBe(201);
      const gang = await submit(r, { ...GPU, replicas: 2, annotations: { 'sim.runway.dev/duration-s': '1' } }, 'q-gang2');
      expect(gang.status).toBe(202);
      // The answer says where it stands and why; so does a later GET.
      expect(gang.body).toMatchObject({ status: 'QUEUED', queue_position: 1, pending_cause: 'Capacity' });
      expect(gang.body.pending_reason).toMatch(/^needs 4 GPUs in pool gpu, 3 free/);
      expect(await getJob(r, gang.body.job_id)).toMatchObject({ status: 'QUEUED', queue_position: 1, pending_cause: 'Capacity' });
      expect(await listJobs(`runway.dev/job-id=${gang.body.job_id}`)).toHaveLength(0);
      // Once the holder ends, the whole gang is admitted and runs.
      expect(await waitForStatus(r, gang.body.job_id, ['SUCCEEDED'])).toMatchObject({ status: 'SUCCEEDED', attempt: 1 });
    }, 120_000);

    it('preempts the lowest-priority, most recently admitted job: its Job is deleted and it queues again', async () => {
      const r = rw as RunwayOnKube;
      const older = await submit(r, { ...GPU, annotations: { 'sim.runway.dev/duration-s': '600' } }, 'q-low');
      await waitForStatus(r, older.body.job_id, ['RUNNING']);
      const newer = await submit(r, { ...GPU, annotations: { 'sim.runway.dev/duration-s': '600' } }, 'q-low');
      await waitForStatus(r, newer.body.job_id, ['RUNNING']);
      const high = await submit(r, { ...GPU, priority: 10, annotations: { 'sim.runway.dev/duration-s': '2' } }, 'q-high');
      expect(high.status).toBe(202);
      const victim = await waitForStatus(r, newer.body.job_id, ['QUEUED']);
      expect(victim).toMatchObject({ reason: 'Preempted', preemptions: 1 });
      expect(victim.failures).toBeUndefined();
      await eventually('the victim\'s Job to be deleted', async () => ((await listJobs(`runway.dev/job-id=${newer.body.job_id}`)).length === 0 ? true : undefined));
      expect((await getJob(r, older.body.job_id)).status).toBe('RUNNING');
      expect(await waitForStatus(r, high.body.job_id, ['SUCCEEDED'])).toMatchObject({ status: 'SUCCEEDED' });
      // The victim is admitted again, as attempt 2, when the preemptor is done.
      expect(await waitForStatus(r, newer.body.job_id, ['RUNNING'])).toMatchObject({ attempt: 2, preemptions: 1 });
      expect((await listJobs(`runway.dev/job-id=${newer.body.job_id}`)).map((j) => j.metadata.name)).toEqual([`${newer.body.job_id}-2`]);
      for (const id of [older.body.job_id, newer.body.job_id]) expect((await cancel(r, id)).status).toBe(200);
      await eventually('the pool to be empty', async () => (r.runway.ledger.inUse('q-low').gpu === 0 ? true : undefined));
    }, 180_000);

    it('cancels a running job (its Job deleted, quota released once) and a queued one; a finished job is 409', async () => {
      const r = rw as RunwayOnKube;
      const running = await submit(r, { ...GPU, annotations: { 'sim.runway.dev/duration-s': '600' } }, 'q-cancel');
      await waitForStatus(r, running.body.job_id, ['RUNNING']);
      const running2 = await submit(r, { ...GPU, annotations: { 'sim.runway.dev/duration-s': '600' } }, 'q-cancel');
      await waitForStatus(r, running2.body.job_id, ['RUNNING']);
      const queued = await submit(r, { ...GPU, annotations: { 'sim.runway.dev/duration-s': '1' } }, 'q-cancel');
      expect(queued.status).toBe(202);
      expect(await cancel(r, queued.body.job_id)).toMatchObject({ status: 200, body: { status: 'CANCELLED', attempt: 0 } });
      expect(await listJobs(`runway.dev/job-id=${queued.body.job_id}`)).toHaveLength(0);
      expect(await cancel(r, running.body.job_id)).toMatchObject({ status: 200, body: { status: 'CANCELLED', reason: 'Cancelled' } });
      expect(await cancel(r, running.body.job_id)).toMatchObject({ status: 200, body: { status: 'CANCELLED' } });
      await eventually('the cancelled Job and its pod to be gone', async () =>
        (await listJobs(`runway.dev/job-id=${running.body.job_id}`)).length === 0 && (await listPods(`${running.body.job_id}-1`)).length === 0 ? true : undefined,
      );
      expect(r.runway.ledger.inUse('q-cancel').gpu).toBe(2);
      const aijob = (await listAIJobs()).find((a) => a.metadata.name === running.body.job_id);
      expect(aijob?.status).toMatchObject({ phase: 'CANCELLED', reason: 'Cancelled' });
      expect((await cancel(r, running2.body.job_id)).status).toBe(200);
      await eventually('the quota to be free', async () => (r.runway.ledger.inUse('q-cancel').gpu === 0 ? true : undefined));
      const done = await submit(r, { queue: 'batch', annotations: { 'sim.runway.dev/duration-s': '1' } }, 'q-cancel');
      await waitForStatus(r, done.body.job_id, ['SUCCEEDED']);
      expect(await cancel(r, done.body.job_id)).toMatchObject({ status: 409, body: { error: { code: 'CONFLICT' } } });
    }, 180_000);

    it('retries a failed attempt as a new Job <id>-2 after its backoff, and retries a dead-lettered job by hand', async () => {
      const r = rw as RunwayOnKube;
      const flaky = await submit(r, { queue: 'batch', annotations: { 'sim.runway.dev/fail-attempts': '1', 'sim.runway.dev/duration-s': '1' } }, 'q-retry');
      const retrying = await waitForStatus(r, flaky.body.job_id, ['RETRYING', 'SUCCEEDED']);
      expect(retrying).toMatchObject({ status: 'RETRYING', failures: 1, attempt: 1 });
      expect(typeof retrying.next_attempt_at).toBe('string');
      expect(await waitForStatus(r, flaky.body.job_id, ['SUCCEEDED', 'DEAD_LETTER'])).toMatchObject({ status: 'SUCCEEDED', attempt: 2, failures: 1 });
      expect((await listJobs(`runway.dev/job-id=${flaky.body.job_id}`)).map((j) => j.metadata.name).sort()).toEqual([`${flaky.body.job_id}-1`, `${flaky.body.job_id}-2`]);

      const doomed = await submit(
        r,
        { queue: 'batch', retry_policy: { max_retries: 1, backoff_multiplier: 1 }, annotations: { 'sim.runway.dev/fail-attempts': '2', 'sim.runway.dev/duration-s': '1' } },
        'q-retry',
      );
      expect(await waitForStatus(r, doomed.body.job_id, ['DEAD_LETTER', 'SUCCEEDED'])).toMatchObject({ status: 'DEAD_LETTER', attempt: 2, failures: 2 });
      const res = await fetch(`${r.url}/v1/jobs/${doomed.body.job_id}/retry`, { method: 'POST' });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ status: 'PENDING', attempt: 3 });
      expect(await waitForStatus(r, doomed.body.job_id, ['SUCCEEDED', 'DEAD_LETTER', 'RETRYING'])).toMatchObject({ status: 'SUCCEEDED', attempt: 3 });
      expect((await fetch(`${r.url}/v1/jobs/${doomed.body.job_id}/retry`, { method: 'POST' })).status).toBe(409);
    }, 180_000);

    it('writes the status of the AIJobQueue, ComputeCluster and TenantPolicy objects while a job runs', async () => {
      const r = rw as RunwayOnKube;
      const tenantPolicy = 'apiVersion: runway.dev/v1alpha1\nkind: TenantPolicy\nmetadata: {name: q-status}\nspec: {gpuQuota: 8}\n';
      execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'apply', '-f', '-'], { input: tenantPolicy, stdio: ['pipe', 'ignore', 'inherit'] });
      const statusOf = async (path: string) =>
        ((await kubeRequest(cp, 'GET', `/apis/runway.dev/v1alpha1/${path}`)).body as { status?: Record<string, unknown> } | undefined)?.status;
      const statusBecomes = (path: string, want: Record<string, unknown>) =>
        eventually(`${path} status ${JSON.stringify(want)}`, async () => {
          const got = await statusOf(path);
          return isDeepStrictEqual(got, want) ? got : undefined; // key order aside: the API server sorts them
        }, 30_000);
      // kubectl's columns, read by the header's offsets (an empty cell stays empty).
      const columns = (resource: string): Record<string, string> => {
        const [header = '', row = ''] = execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'get', resource], { encoding: 'utf8' }).split('\n');
        const starts = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
        return Object.fromEntries(starts.map((c, i) => [c.name, row.slice(c.at, starts[i + 1]?.at ?? row.length).trim()]));
      };

      const job = await submit(r, { ...GPU, annotations: { 'sim.runway.dev/duration-s': '600' } }, 'q-status');
      expect(job.status).toBe(201);
      await waitForStatus(r, job.body.job_id, ['RUNNING']);
      await statusBecomes('aijobqueues/batch', { queued: 0, admitted: 0, running: 1 });
      await statusBecomes('computeclusters/gpu', { nodes: 1, runningJobs: 1, allocatedGPUs: 2, allocatedCPU: 1, allocatedMemoryMb: 512 });
      await statusBecomes('computeclusters/cpu', { nodes: 1, runningJobs: 0, allocatedGPUs: 0, allocatedCPU: 0, allocatedMemoryMb: 0 });
      await statusBecomes('tenantpolicies/q-status', { gpusAllocated: 2 });
      expect(columns('aijq/batch')).toMatchObject({ NAME: 'batch', QUEUED: '0', RUNNING: '1' });
      expect(columns('cc/gpu')).toMatchObject({ NAME: 'gpu', RUNNING: '1', GPUSUSED: '2' });
      // The API shows the same status in the documents.
      expect(((await (await fetch(`${r.url}/v1/queues/batch`)).json()) as { status?: unknown }).status).toEqual({ queued: 0, admitted: 0, running: 1 });

      expect((await cancel(r, job.body.job_id)).status).toBe(200);
      await statusBecomes('aijobqueues/batch', { queued: 0, admitted: 0, running: 0 });
      await statusBecomes('computeclusters/gpu', { nodes: 1, runningJobs: 0, allocatedGPUs: 0, allocatedCPU: 0, allocatedMemoryMb: 0 });
      await statusBecomes('tenantpolicies/q-status', { gpusAllocated: 0 });
    }, 120_000);
  });
});
