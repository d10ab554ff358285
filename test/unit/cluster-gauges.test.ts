/** The pure functions behind the cluster-derived metrics (pools, GPUs of Runway pods, failure reasons). */
import { describe, expect, it } from 'vitest';
import type { K8sNode, K8sPod } from '../../src/core/k8s.js';
import { clusterGpus, lastFailureReason, podRequests, poolStats } from '../../src/observability/cluster-gauges.js';

function node(name: string, alloc: Record<string, string>, pool?: string): K8sNode {
  return { metadata: { name, labels: pool ? { 'runway.dev/pool': pool } : {} }, status: { allocatable: alloc, capacity: { ...alloc, cpu: '999' } } };
}

function pod(
  name: string,
  opts: { node?: string; phase?: NonNullable<K8sPod['status']>['phase']; gpu?: number; cpu?: string; memory?: string; deleting?: boolean; terminated?: { reason: string; exitCode: number; finishedAt: string }; reason?: string },
): K8sPod {
  const limits: Record<string, string> = { cpu: opts.cpu ?? '1', memory: opts.memory ?? '1Gi' };
  if (opts.gpu) limits['nvidia.com/gpu'] = String(opts.gpu);
  return {
    metadata: { name, ...(opts.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { ...(opts.node ? { nodeName: opts.node } : {}), containers: [{ name: 'job', image: 'x', resources: { requests: { cpu: limits.cpu, memory: limits.memory }, limits } }] },
    status: {
      phase: opts.phase ?? 'Running',
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.terminated ? { containerStatuses: [{ name: 'job', state: { terminated: opts.terminated } }] } : {}),
    },
  };
}

describe('podRequests', () => {
  it('takes GPUs from limits when requests omit them, and parses quantities', () => {
    expect(podRequests(pod('p', { gpu: 2, cpu: '500m', memory: '2Gi' }))).toEqual({ cpuMilli: 500, memoryMb: 2048, gpu: 2 });
  });
});

describe('poolStats', () => {
  it('groups nodes by runway.dev/pool (unlabelled: "default"), capacity from allocatable, allocation from bound unfinished pods', () => {
    const nodes = [node('g1', { cpu: '64', memory: '512Gi', 'nvidia.com/gpu': '8' }, 'gpu'), node('n1', { cpu: '4', memory: '16Gi' })];
    const pods = [
      pod('running', { node: 'g1', gpu: 2, cpu: '4', memory: '16Gi' }),
      pod('terminating', { node: 'g1', gpu: 1, deleting: true }), // still holds its node's resources
      pod('done', { node: 'g1', gpu: 4, phase: 'Succeeded' }),
      pod('failed', { node: 'g1', gpu: 4, phase: 'Failed' }),
      pod('waiting', { gpu: 4, phase: 'Pending' }),
      pod('elsewhere', { node: 'unknown-node', gpu: 1 }),
      pod('cpu', { node: 'n1', cpu: '1500m', memory: '512Mi' }),
    ];
    const s = poolStats(nodes, pods);
    expect(Object.fromEntries(s)).toEqual({
      gpu: { capacity: { cpuMilli: 64_000, memoryMb: 512 * 1024, gpu: 8 }, allocated: { cpuMilli: 5000, memoryMb: 17 * 1024, gpu: 3 } },
      default: { capacity: { cpuMilli: 4000, memoryMb: 16 * 1024, gpu: 0 }, allocated: { cpuMilli: 1500, memoryMb: 512, gpu: 0 } },
    });
  });
});

describe('clusterGpus', () => {
  it('splits live pods into bound (in use) and waiting; finished and terminating pods count nothing', () => {
    const pods = [
      pod('a', { node: 'g1', gpu: 2 }),
      pod('b', { node: 'g1', gpu: 1, phase: 'Pending' }), // bound, container creating
      pod('c', { gpu: 4, phase: 'Pending' }),
      pod('d', { node: 'g1', gpu: 8, phase: 'Succeeded' }),
      pod('e', { node: 'g1', gpu: 8, deleting: true }),
      pod('f', { node: 'g1' }),
    ];
    expect(clusterGpus(pods)).toEqual({ inUse: 3, unscheduled: 4 });
  });
});

describe('lastFailureReason', () => {
  it('is the reason of the latest failed container: OOMKilled, else Error', () => {
    const oom = pod('1', { phase: 'Failed', terminated: { reason: 'OOMKilled', exitCode: 137, finishedAt: '2026-01-01T00:00:10Z' } });
    const err = pod('2', { phase: 'Failed', terminated: { reason: 'Error', exitCode: 3, finishedAt: '2026-01-01T00:00:20Z' } });
    const ok = pod('3', { phase: 'Succeeded', terminated: { reason: 'Completed', exitCode: 0, finishedAt: '2026-01-01T00:00:30Z' } });
    expect(lastFailureReason([oom, err, ok])).toBe('Error');
    expect(lastFailureReason([err, oom])).toBe('Error'); // by finish time, not by order
    expect(lastFailureReason([oom])).toBe('OOMKilled');
  });

  it('falls back to a pod-level reason such as Evicted, then Unknown; odd reasons do not become labels', () => {
    expect(lastFailureReason([pod('x', { phase: 'Failed', reason: 'Evicted' })])).toBe('Evicted');
    expect(lastFailureReason([pod('x', { phase: 'Failed', reason: 'not a reason {}' })])).toBe('Unknown');
    expect(lastFailureReason([])).toBe('Unknown');
  });
});
