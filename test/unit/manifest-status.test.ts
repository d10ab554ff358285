import { describe, expect, it } from 'vitest';
import { DEFAULT_RATES, estimateCost } from '../../src/core/cost.js';
import type { JobSpec } from '../../src/core/job-spec.js';
import { README_SPEC } from '../helpers/fixtures.js';
import type { K8sJob, K8sPod } from '../../src/core/k8s.js';
import { isImmutable } from '../../src/core/immutable.js';
import { buildJobManifest, cpuQuantity } from '../../src/core/manifest.js';
import { deriveAttemptStatus } from '../../src/core/status.js';

const spec: JobSpec = README_SPEC;
const estimate = estimateCost(spec, DEFAULT_RATES);
const owner = { apiVersion: 'runway.dev/v1alpha1', kind: 'AIJob', name: 'j1', uid: 'uid-1' };

describe('buildJobManifest', () => {
  const job = buildJobManifest({ jobId: 'j1', attempt: 1, spec, namespace: 'jobs', backoffLimit: 2, estimate, owner });
  const pod = job.spec.template;
  const container = pod.spec.containers[0];

  it('names the Job <job-id>-<attempt> in the jobs namespace', () => {
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.kind).toBe('Job');
    expect(job.metadata.name).toBe('j1-1');
    expect(job.metadata.namespace).toBe('jobs');
  });
  it('labels the Job and its pods with tenant and job id', () => {
    const labels = { 'runway.dev/tenant': 'team-a', 'runway.dev/job-id': 'j1', 'runway.dev/attempt': '1', 'runway.dev/queue': 'default' };
    expect(job.metadata.labels).toEqual(labels);
    expect(pod.metadata.labels).toEqual(labels);
  });
  it('carries the estimate in an annotation', () => {
    expect(JSON.parse(job.metadata.annotations?.['runway.dev/estimated-cost'] ?? '')).toEqual(estimate);
  });
  it('is owned by the AIJob, so deleting the AIJob deletes it', () => {
    expect(job.metadata.ownerReferences).toEqual([{ ...owner, controller: true, blockOwnerDeletion: true }]);
  });
  it('sets deadline, backoff limit, restart policy and one completion', () => {
    expect(job.spec.activeDeadlineSeconds).toBe(1800);
    expect(job.spec.backoffLimit).toBe(2);
    expect(job.spec.parallelism).toBe(1);
    expect(job.spec.completions).toBe(1);
    expect(pod.spec.restartPolicy).toBe('Never');
  });
  it('sets requests equal to limits for cpu and memory, and a GPU limit', () => {
    expect(container?.image).toBe('pytorch/pytorch:2.3');
    expect(container?.resources.requests).toEqual({ cpu: '4', memory: '16384Mi' });
    expect(container?.resources.limits).toEqual({ cpu: '4', memory: '16384Mi', 'nvidia.com/gpu': '2' });
  });
  it('has no GPU resource at all for a CPU job', () => {
    const cpuJob = buildJobManifest({ jobId: 'j2', attempt: 1, spec: { ...spec, gpu_count: 0, cpu: 0.5 }, namespace: 'jobs', backoffLimit: 2, estimate });
    const c = cpuJob.spec.template.spec.containers[0];
    expect(c?.resources.limits).toEqual({ cpu: '500m', memory: '16384Mi' });
    expect(c?.resources.requests).toEqual({ cpu: '500m', memory: '16384Mi' });
    expect(JSON.stringify(cpuJob)).not.toContain('nvidia.com/gpu');
    expect(cpuJob.metadata.ownerReferences).toBeUndefined();
  });
  it('passes command, args, env, user labels and annotations (sim annotations included) to the pod', () => {
    const j = buildJobManifest({
      jobId: 'j3',
      attempt: 2,
      spec: { ...spec, command: ['python'], args: ['train.py'], env: { EPOCHS: '3' }, labels: { team: 'ml' }, annotations: { 'sim.runway.dev/duration-s': '30' } },
      namespace: 'jobs',
      backoffLimit: 0,
      estimate,
    });
    const c = j.spec.template.spec.containers[0];
    expect(j.metadata.name).toBe('j3-2');
    expect(c?.command).toEqual(['python']);
    expect(c?.args).toEqual(['train.py']);
    expect(c?.env).toEqual([{ name: 'EPOCHS', value: '3' }]);
    expect(j.spec.template.metadata.labels?.team).toBe('ml');
    expect(j.spec.template.metadata.annotations).toEqual({ 'sim.runway.dev/duration-s': '30' });
  });
  it('shares one frozen container list between jobs of the same shape, not with other shapes or custom containers', () => {
    const of = (jobId: string, s: JobSpec) => buildJobManifest({ jobId, attempt: 1, spec: s, namespace: 'jobs', backoffLimit: 2, estimate });
    const a = of('s1', spec).spec.template.spec.containers;
    const b = of('s2', { ...spec, tenant_id: 'team-b', queue: 'other' }).spec.template.spec.containers;
    expect(b).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a[0]) && Object.isFrozen(a[0]?.resources.limits)).toBe(true);
    for (const other of [{ ...spec, image: 'other:1' }, { ...spec, cpu: 2 }, { ...spec, memory_mb: 1024 }, { ...spec, gpu_count: 1 }]) {
      expect(of('s3', other).spec.template.spec.containers).not.toBe(a);
    }
    // A command, args or env makes the container the job's own (not cached by its contents).
    const withEnv = of('s4', { ...spec, env: { A: '1' } }).spec.template.spec.containers;
    expect(withEnv).not.toBe(of('s5', { ...spec, env: { A: '1' } }).spec.template.spec.containers);
    expect(withEnv[0]?.env).toEqual([{ name: 'A', value: '1' }]);
  });
  it('is immutable all the way down, so that adapters can share it', () => {
    const gpu = buildJobManifest({
      jobId: 'j5',
      attempt: 1,
      spec: { ...spec, labels: { team: 'ml' }, annotations: { a: 'b' }, env: { A: '1' } },
      namespace: 'jobs',
      backoffLimit: 2,
      estimate,
      owner,
      gpuTolerations: ['nvidia.com/gpu'],
      gpuNodeSelector: { accelerator: 'a100' },
      poolNodeSelector: { pool: 'gpu' },
      priorityClassName: 'high',
    });
    const unfrozen: string[] = [];
    const walk = (v: unknown, path: string): void => {
      if (typeof v !== 'object' || v === null) return;
      if (!Object.isFrozen(v)) unfrozen.push(path);
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
    };
    for (const m of [job, gpu]) walk(m, m.metadata.name);
    expect(unfrozen).toEqual([]);
    expect(isImmutable(job) && isImmutable(gpu)).toBe(true);
    // The mark is invisible to what users and the kube adapter read, and a copy does not inherit it.
    expect(Object.keys(job)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(JSON.parse(JSON.stringify(job))).toEqual(job);
    expect(isImmutable({ ...job })).toBe(false);
    expect(isImmutable(Object.freeze({ ...job }))).toBe(false);
    expect(isImmutable(job.spec)).toBe(false); // only the value it was given is marked
    expect(gpu.spec.template.spec.nodeSelector).toEqual({ accelerator: 'a100', pool: 'gpu' });
    expect(gpu.spec.template.spec.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(gpu.spec.template.spec.priorityClassName).toBe('high');
  });
  it('runs a gang as one Job with parallelism = completions = replicas', () => {
    const j = buildJobManifest({ jobId: 'j4', attempt: 1, spec: { ...spec, replicas: 4 }, namespace: 'jobs', backoffLimit: 2, estimate });
    expect(j.spec.parallelism).toBe(4);
    expect(j.spec.completions).toBe(4);
  });
  it.each([
    [1, '1'],
    [0.5, '500m'],
    [0.001, '1m'],
    [2.25, '2250m'],
  ])('formats %s cores as %s', (cores, q) => expect(cpuQuantity(cores)).toBe(q));
});

function jobWith(status: K8sJob['status']): K8sJob {
  return { ...buildJobManifest({ jobId: 'j1', attempt: 1, spec, namespace: 'jobs', backoffLimit: 2, estimate }), status };
}

function pod(
  name: string,
  phase: NonNullable<K8sPod['status']>['phase'],
  terminated?: { reason: string; exitCode: number; finishedAt: string; startedAt?: string },
  runningSince?: string,
): K8sPod {
  const state = terminated ? { terminated } : phase === 'Running' ? { running: { startedAt: runningSince ?? t(1) } } : {};
  return {
    metadata: { name, labels: { 'job-name': 'j1-1' } },
    spec: { containers: [] },
    status: { phase, containerStatuses: [{ name: 'main', state }] },
  };
}

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe('deriveAttemptStatus', () => {
  it('is PENDING until a pod runs', () => {
    expect(deriveAttemptStatus(jobWith({ active: 1 }), [pod('p1', 'Pending')])).toEqual({ phase: 'PENDING', attempts: 1 });
    expect(deriveAttemptStatus(jobWith(undefined), [])).toEqual({ phase: 'PENDING', attempts: 0 });
  });
  it('is RUNNING while a pod runs, started when its container started (not when the Job did)', () => {
    expect(deriveAttemptStatus(jobWith({ active: 1, startTime: t(0) }), [pod('p1', 'Running', undefined, t(3))])).toEqual({ phase: 'RUNNING', attempts: 1, startTime: t(3) });
  });
  it('is SUCCEEDED with exit code 0 when the Job completes', () => {
    const s = deriveAttemptStatus(
      jobWith({ succeeded: 1, startTime: t(0), completionTime: t(9), conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: t(9) }] }),
      [pod('p1', 'Succeeded', { reason: 'Completed', exitCode: 0, startedAt: t(2), finishedAt: t(9) })],
    );
    expect(s).toEqual({ phase: 'SUCCEEDED', reason: 'Completed', exitCode: 0, attempts: 1, startTime: t(2), completionTime: t(9) });
  });
  it('is DEADLINE/DeadlineExceeded when the deadline passes', () => {
    const s = deriveAttemptStatus(
      jobWith({ failed: 1, startTime: t(0), conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: t(30) }] }),
      [],
    );
    expect(s).toEqual({ phase: 'DEADLINE', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', attempts: 1, completionTime: t(30) });
  });
  it('is FAILED/OOMKilled/137 from the last failed container', () => {
    const failed = { type: 'Failed' as const, status: 'True' as const, reason: 'BackoffLimitExceeded', lastTransitionTime: t(40) };
    const s = deriveAttemptStatus(jobWith({ failed: 3, conditions: [failed] }), [
      pod('p1', 'Failed', { reason: 'Error', exitCode: 1, finishedAt: t(10) }),
      pod('p2', 'Failed', { reason: 'OOMKilled', exitCode: 137, finishedAt: t(30) }),
    ]);
    expect(s.phase).toBe('FAILED');
    expect(s.reason).toBe('OOMKilled');
    expect(s.exitCode).toBe(137);
    expect(s.attempts).toBe(3);
  });
  it('is FAILED/Error with the exit code', () => {
    const failed = { type: 'Failed' as const, status: 'True' as const, reason: 'BackoffLimitExceeded', lastTransitionTime: t(40) };
    const s = deriveAttemptStatus(jobWith({ failed: 3, conditions: [failed] }), [pod('p1', 'Failed', { reason: 'Error', exitCode: 3, finishedAt: t(10) })]);
    expect([s.phase, s.reason, s.exitCode]).toEqual(['FAILED', 'Error', 3]);
  });
  it('is FAILED/BackoffLimitExceeded when no pod says more', () => {
    const failed = { type: 'Failed' as const, status: 'True' as const, reason: 'BackoffLimitExceeded', lastTransitionTime: t(40) };
    const s = deriveAttemptStatus(jobWith({ failed: 3, conditions: [failed] }), []);
    expect([s.phase, s.reason, s.exitCode]).toEqual(['FAILED', 'BackoffLimitExceeded', undefined]);
  });
  it('explains an unschedulable pod with kube-scheduler\'s PodScheduled condition', () => {
    const p = pod('p1', 'Pending');
    p.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient nvidia.com/gpu.' }] };
    expect(deriveAttemptStatus(jobWith({ active: 1 }), [p])).toEqual({ phase: 'PENDING', attempts: 1, message: '0/2 nodes are available: 2 Insufficient nvidia.com/gpu.' });
  });

  it('stays PENDING with a retry message between Kubernetes retries', () => {
    const s = deriveAttemptStatus(jobWith({ failed: 1, active: 1 }), [pod('p1', 'Failed', { reason: 'Error', exitCode: 1, finishedAt: t(5) }), pod('p2', 'Pending')]);
    expect(s).toEqual({ phase: 'PENDING', attempts: 2, message: 'retrying after exit 1 (1 failed)' });
  });
});
