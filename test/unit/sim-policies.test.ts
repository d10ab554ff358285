/**
 * Policy objects in the embedded simulated cluster: the seeds it starts with, putPolicy/deletePolicy
 * with the API server's semantics (resourceVersion, generation, no-op updates), immutability, and
 * the events watchers receive.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES, ManualClock, POOL_LABEL, SimCluster } from '../../src/cluster/sim/index.js';
import { ClusterError, type ClusterEvent } from '../../src/cluster/types.js';
import type { AIJobQueue, PolicyResource } from '../../src/core/policy.js';

const V = 'runway.dev/v1alpha1' as const;
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const queue = (name: string, spec: AIJobQueue['spec'], extra: Partial<AIJobQueue['metadata']> = {}): AIJobQueue => ({
  apiVersion: V,
  kind: 'AIJobQueue',
  metadata: { name, ...extra },
  spec,
});

function sim(policies?: readonly PolicyResource[]) {
  return new SimCluster({ namespace: 'jobs', clock: new ManualClock(0), ...(policies ? { policies } : {}) });
}

async function record(cluster: SimCluster) {
  const events: Array<string> = [];
  let synced = false;
  const stop = await cluster.watch({
    onEvent: (e: ClusterEvent) => {
      if (e.kind === 'AIJobQueue' || e.kind === 'ComputeCluster' || e.kind === 'TenantPolicy') {
        events.push(`${synced ? '' : 'initial '}${e.type} ${e.kind}/${e.object.metadata.name}`);
      }
    },
    onSynced: () => void (synced = true),
  });
  return { events, stop };
}

describe('SimCluster policies', () => {
  it('starts with queues default (direct) and batch (queued), and a ComputeCluster per pool selecting its nodes', () => {
    const c = sim();
    expect(c.policies('AIJobQueue').map((q) => [q.metadata.name, q.spec])).toEqual([
      ['batch', { admission: 'queued', maxConcurrency: 100, preemptionPolicy: 'PreemptLowerPriority' }],
      ['default', { admission: 'direct' }],
    ]);
    expect(c.policies('ComputeCluster').map((p) => [p.metadata.name, p.spec])).toEqual([
      ['cpu', { nodeSelector: { 'runway.dev/pool': 'cpu' } }],
      ['gpu', { nodeSelector: { 'runway.dev/pool': 'gpu' } }],
    ]);
    // The selectors match the nodes' labels.
    const pools = new Set(c.nodes().map((n) => n.metadata.labels?.[POOL_LABEL]));
    expect(pools).toEqual(new Set(['cpu', 'gpu']));
    expect(c.policies('TenantPolicy')).toEqual([]);
    expect(c.policy('AIJobQueue', 'default')?.metadata).toMatchObject({ generation: 1, uid: expect.any(String), resourceVersion: expect.any(String) });
    expect(DEFAULT_POLICIES).toHaveLength(4);
  });

  it('takes other seeds as an option, e.g. none', () => {
    expect(sim([]).policies('AIJobQueue')).toEqual([]);
    expect(sim([queue('only', {})]).policies('AIJobQueue').map((q) => q.metadata.name)).toEqual(['only']);
  });

  it('creates, replaces the spec (generation + 1), and leaves an unchanged object as it is', async () => {
    const c = sim([]);
    const created = await c.putPolicy(queue('q', { admission: 'queued' }, { labels: { team: 'ml' } }));
    expect(created.metadata).toMatchObject({ name: 'q', generation: 1, labels: { team: 'ml' } });
    expect(created.metadata.namespace).toBeUndefined(); // cluster-scoped

    const same = await c.putPolicy(queue('q', { admission: 'queued' }));
    expect(same).toBe(created);

    const replaced = await c.putPolicy(queue('q', { admission: 'queued', maxConcurrency: 3 }));
    expect(replaced.metadata).toMatchObject({ uid: created.metadata.uid, generation: 2, labels: { team: 'ml' } });
    expect(Number(replaced.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(replaced.spec).toEqual({ admission: 'queued', maxConcurrency: 3 });

    const relabelled = await c.putPolicy(queue('q', { admission: 'queued', maxConcurrency: 3 }, { labels: {} }));
    expect(relabelled.metadata).toMatchObject({ generation: 2, labels: {} });
  });

  it('stores frozen copies: neither the caller nor a reader can change them', async () => {
    const c = sim([]);
    const mine = queue('q', { clusters: ['gpu'] });
    const stored = await c.putPolicy(mine);
    mine.spec.clusters?.push('cpu');
    expect(stored.spec).toEqual({ clusters: ['gpu'] });
    expect(() => (stored.spec as { priority?: number }).priority = 1).toThrow(TypeError);
  });

  it('deletes, answering false when there was nothing to delete', async () => {
    const c = sim();
    expect(await c.deletePolicy('AIJobQueue', 'batch')).toBe(true);
    expect(await c.deletePolicy('AIJobQueue', 'batch')).toBe(false);
    expect(await c.deletePolicy('TenantPolicy', 'nobody')).toBe(false);
    expect(c.policy('AIJobQueue', 'batch')).toBeUndefined();
  });

  it('refuses objects the API server would refuse', async () => {
    const c = sim([]);
    await expect(c.putPolicy({ ...queue('', {}) })).rejects.toMatchObject({ kind: 'Invalid' });
    await expect(c.putPolicy({ ...queue('q', {}), apiVersion: 'v1' } as unknown as PolicyResource)).rejects.toMatchObject({ kind: 'Invalid' });
    await expect(c.putPolicy({ ...queue('q', {}), kind: 'Pod' } as unknown as PolicyResource)).rejects.toMatchObject({ kind: 'Invalid' });
  });

  it('fails like an unreachable API server on an outage or an injected fault, changing nothing', async () => {
    const c = sim([]);
    c.failNext('putPolicy');
    await expect(c.putPolicy(queue('q', {}))).rejects.toBeInstanceOf(ClusterError);
    expect(c.policy('AIJobQueue', 'q')).toBeUndefined();
    c.setAvailable(false);
    await expect(c.deletePolicy('AIJobQueue', 'default')).rejects.toMatchObject({ kind: 'Unavailable' });
  });

  it('replaces the status through the status subresource: new version, MODIFIED, spec untouched; equal status is a no-op', async () => {
    const c = sim([queue('q', { admission: 'queued' })]);
    const before = c.policy('AIJobQueue', 'q') as PolicyResource;
    const { events, stop } = await record(c);
    const written = await c.updatePolicyStatus('AIJobQueue', 'q', { queued: 2, admitted: 0, running: 1 }, before.metadata.resourceVersion);
    expect(written.status).toEqual({ queued: 2, admitted: 0, running: 1 });
    expect(written.spec).toBe(before.spec);
    expect(written.metadata).toMatchObject({ uid: before.metadata.uid, generation: before.metadata.generation });
    expect(Number(written.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    expect(Object.isFrozen(written.status)).toBe(true);
    expect(c.policy('AIJobQueue', 'q')).toBe(written);
    expect(await c.updatePolicyStatus('AIJobQueue', 'q', { queued: 2, admitted: 0, running: 1 })).toBe(written);
    // A spec update keeps the status, as the API server does.
    const replaced = await c.putPolicy(queue('q', { admission: 'queued', priority: 3 }));
    expect(replaced.status).toEqual({ queued: 2, admitted: 0, running: 1 });
    await flush();
    expect(events).toEqual(['initial ADDED AIJobQueue/q', 'MODIFIED AIJobQueue/q', 'MODIFIED AIJobQueue/q']);
    stop();
  });

  it('refuses a status write for a stale version (Conflict) or a missing object (NotFound), and fails on faults', async () => {
    const c = sim([queue('q', {})]);
    const rv = c.policy('AIJobQueue', 'q')?.metadata.resourceVersion;
    await c.putPolicy(queue('q', { priority: 1 }));
    await expect(c.updatePolicyStatus('AIJobQueue', 'q', { queued: 1 }, rv)).rejects.toMatchObject({ kind: 'Conflict' });
    await expect(c.updatePolicyStatus('TenantPolicy', 'nobody', { gpusAllocated: 0 })).rejects.toMatchObject({ kind: 'NotFound' });
    c.failNext('updatePolicyStatus');
    await expect(c.updatePolicyStatus('AIJobQueue', 'q', { queued: 1 })).rejects.toMatchObject({ kind: 'Unavailable' });
    expect(c.policy('AIJobQueue', 'q')?.status).toBeUndefined();
  });

  it('lists policies to a watcher as ADDED before onSynced, then sends every change', async () => {
    const c = sim([queue('default', { admission: 'direct' })]);
    const { events, stop } = await record(c);
    expect(events).toEqual(['initial ADDED AIJobQueue/default']);
    await c.putPolicy({ apiVersion: V, kind: 'TenantPolicy', metadata: { name: 'team-a' }, spec: { gpuQuota: 2 } });
    await c.putPolicy({ apiVersion: V, kind: 'TenantPolicy', metadata: { name: 'team-a' }, spec: { gpuQuota: 2 } }); // no change, no event
    await c.putPolicy({ apiVersion: V, kind: 'TenantPolicy', metadata: { name: 'team-a' }, spec: { gpuQuota: 4 } });
    await c.deletePolicy('TenantPolicy', 'team-a');
    await flush();
    expect(events).toEqual([
      'initial ADDED AIJobQueue/default',
      'ADDED TenantPolicy/team-a',
      'MODIFIED TenantPolicy/team-a',
      'DELETED TenantPolicy/team-a',
    ]);
    stop();
  });
});
