// The status of queues, node pools and tenant policies: the pure "what changed, what it becomes", and the
// reporter that writes it on the leader at most every N seconds.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterError } from '../../src/cluster/types.js';
import {
  policyStatusWrites,
  PolicyStatusReporter,
  type PolicyObjects,
  type PolicyStatusReporterDeps,
  type StatusSources,
} from '../../src/controller/policy-status.js';
import { PolicyStore } from '../../src/controller/policy-store.js';
import type { AIJobQueue, ComputeCluster, PolicyKind, PolicyResource, TenantPolicy } from '../../src/core/policy.js';
import { createLogger } from '../../src/observability/logger.js';

const V = 'runway.dev/v1alpha1' as const;
const meta = (name: string, rv: string) => ({ name, resourceVersion: rv });
const queue = (name: string, status?: Record<string, unknown>, rv = '1'): AIJobQueue => ({
  apiVersion: V,
  kind: 'AIJobQueue',
  metadata: meta(name, rv),
  spec: {},
  ...(status ? { status } : {}),
});
const pool = (name: string, status?: Record<string, unknown>, rv = '1'): ComputeCluster => ({
  apiVersion: V,
  kind: 'ComputeCluster',
  metadata: meta(name, rv),
  spec: {},
  ...(status ? { status } : {}),
});
const tenant = (name: string, spec: TenantPolicy['spec'] = {}, status?: Record<string, unknown>, rv = '1'): TenantPolicy => ({
  apiVersion: V,
  kind: 'TenantPolicy',
  metadata: meta(name, rv),
  spec,
  ...(status ? { status } : {}),
});

const SOURCES: StatusSources = {
  queues: [
    { name: 'batch', queued: 3, admitted: 1, running: 2 },
    { name: 'default', queued: 0, admitted: 0, running: 5 },
  ],
  pools: [
    { name: 'gpu', nodes: 2, running_jobs: 3, allocated: { cpu: 0.1 + 0.2, memory_mb: 49152, gpu: 12 } },
    { name: 'default', nodes: 6, running_jobs: 0, allocated: { cpu: 0, memory_mb: 0, gpu: 0 } },
  ],
  gpusInUse: (t) => ({ 'team-a': 8, ML_Team: 2 })[t] ?? 0,
};

const QUEUE_STATUS = { queued: 3, admitted: 1, running: 2 };
const GPU_STATUS = { nodes: 2, runningJobs: 3, allocatedGPUs: 12, allocatedCPU: 0.3, allocatedMemoryMb: 49152 };

describe('policyStatusWrites', () => {
  it('computes every existing object\'s status from the views and the ledger, with the version it read', () => {
    const objects: PolicyObjects = {
      queues: [queue('batch', undefined, '7')],
      clusters: [pool('gpu', undefined, '8')],
      tenants: [tenant('team-a', {}, undefined, '9'), tenant('ml-team', { tenantId: 'ML_Team' }), tenant('idle')],
    };
    expect(policyStatusWrites(objects, SOURCES)).toEqual([
      { kind: 'AIJobQueue', name: 'batch', resourceVersion: '7', status: QUEUE_STATUS },
      { kind: 'ComputeCluster', name: 'gpu', resourceVersion: '8', status: GPU_STATUS },
      { kind: 'TenantPolicy', name: 'team-a', resourceVersion: '9', status: { gpusAllocated: 8 } },
      { kind: 'TenantPolicy', name: 'ml-team', resourceVersion: '1', status: { gpusAllocated: 2 } },
      { kind: 'TenantPolicy', name: 'idle', resourceVersion: '1', status: { gpusAllocated: 0 } },
    ]);
  });

  it('writes nothing for objects whose stored status is already right', () => {
    const objects: PolicyObjects = {
      queues: [queue('batch', QUEUE_STATUS)],
      clusters: [pool('gpu', { ...GPU_STATUS })],
      tenants: [tenant('team-a', {}, { gpusAllocated: 8 })],
    };
    expect(policyStatusWrites(objects, SOURCES)).toEqual([]);
  });

  it('writes only what changed, keeping fields Runway does not own', () => {
    const conditions = [{ type: 'Ready', status: 'True' }];
    const objects: PolicyObjects = {
      queues: [queue('batch', { ...QUEUE_STATUS, running: 1, conditions })],
      clusters: [pool('gpu', GPU_STATUS)],
      tenants: [tenant('team-a', {}, { gpusAllocated: 8, spendMonthToDateUsd: 12.5 })],
    };
    expect(policyStatusWrites(objects, SOURCES)).toEqual([
      { kind: 'AIJobQueue', name: 'batch', resourceVersion: '1', status: { ...QUEUE_STATUS, conditions } },
    ]);
  });

  it('writes zeros for objects the views do not know yet (a queue or pool just created)', () => {
    const objects: PolicyObjects = { queues: [queue('fresh')], clusters: [pool('empty')], tenants: [] };
    expect(policyStatusWrites(objects, SOURCES).map((w) => w.status)).toEqual([
      { queued: 0, admitted: 0, running: 0 },
      { nodes: 0, runningJobs: 0, allocatedGPUs: 0, allocatedCPU: 0, allocatedMemoryMb: 0 },
    ]);
  });

  it('writes nothing for the implicit default queue and pool: no object, no status', () => {
    expect(policyStatusWrites({ queues: [], clusters: [], tenants: [] }, SOURCES)).toEqual([]);
  });
});

describe('PolicyStatusReporter', () => {
  afterEach(() => void vi.useRealTimers());

  function setup(overrides: Partial<PolicyStatusReporterDeps> = {}) {
    const store = new PolicyStore({ tenantGpuQuota: 8, rateLimitPerMin: 60, rateLimitBurst: 10 });
    let rv = 10;
    store.apply(queue('batch', undefined, String(rv)));
    store.apply(tenant('team-a', {}, undefined, String(++rv)));
    let changes = 0;
    store.onChange(() => changes++);
    const calls: Array<{ kind: PolicyKind; name: string; status: Record<string, unknown>; rv: string | undefined }> = [];
    let leader = true;
    const sources: StatusSources = { queues: [{ name: 'batch', queued: 1, admitted: 0, running: 0 }], pools: [], gpusInUse: () => 4 };
    const write = vi.fn(async (kind: PolicyKind, name: string, status: Record<string, unknown>, resourceVersion?: string) => {
      calls.push({ kind, name, status, rv: resourceVersion });
      const current = store.get(kind, name) as PolicyResource;
      return { ...current, metadata: { ...current.metadata, resourceVersion: String(++rv) }, status } as PolicyResource;
    });
    const reporter = new PolicyStatusReporter({
      write,
      policies: store,
      sources: () => sources,
      shouldWrite: () => leader,
      logger: createLogger('silent'),
      everyMs: 5000,
      ...overrides,
    });
    return { store, reporter, write, calls, sources, setLeader: (v: boolean) => void (leader = v), changes: () => changes };
  }

  it('writes changed statuses at most every N seconds, then nothing while nothing changes', async () => {
    vi.useFakeTimers();
    const { store, reporter, calls, sources, changes } = setup();
    reporter.start();
    await vi.advanceTimersByTimeAsync(4999);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([
      { kind: 'AIJobQueue', name: 'batch', status: { queued: 1, admitted: 0, running: 0 }, rv: '10' },
      { kind: 'TenantPolicy', name: 'team-a', status: { gpusAllocated: 4 }, rv: '11' },
    ]);
    // The written objects are in the cache at once, and are not a policy change.
    expect(store.get('AIJobQueue', 'batch')?.status).toEqual({ queued: 1, admitted: 0, running: 0 });
    expect(changes()).toBe(0);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(calls).toHaveLength(2);
    (sources.queues as Array<{ name: string; queued: number; admitted: number; running: number }>)[0] = { name: 'batch', queued: 0, admitted: 0, running: 1 };
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls.slice(2)).toEqual([{ kind: 'AIJobQueue', name: 'batch', status: { queued: 0, admitted: 0, running: 1 }, rv: '12' }]);
    reporter.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('writes nothing on a follower, and nothing after stop()', async () => {
    vi.useFakeTimers();
    const { reporter, write, setLeader } = setup();
    setLeader(false);
    reporter.start();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(write).not.toHaveBeenCalled();
    setLeader(true);
    reporter.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(write).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('skips objects changed or deleted meanwhile, logs other failures, and tries again at the next report', async () => {
    const { reporter, write, calls } = setup();
    write.mockRejectedValueOnce(new ClusterError('Conflict', 'modified')).mockRejectedValueOnce(new ClusterError('Unavailable', 'down'));
    expect(await reporter.reportNow()).toBe(0);
    expect(await reporter.reportNow()).toBe(2);
    expect(calls.map((c) => c.name)).toEqual(['batch', 'team-a']);
    expect(await reporter.reportNow()).toBe(0);
  });
});
