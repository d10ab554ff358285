// The policy cache: what it holds and resolves as cluster events arrive, and its own writes racing the watch.
import { describe, expect, it } from 'vitest';
import { PolicyStore } from '../../src/controller/policy-store.js';
import type { ClusterEvent, WatchEventType } from '../../src/cluster/types.js';
import type { AIJobQueue, ComputeCluster, PolicyResource, TenantPolicy } from '../../src/core/policy.js';

const DEFAULTS = { tenantGpuQuota: 8, rateLimitPerMin: 60, rateLimitBurst: 10 };
const V = 'runway.dev/v1alpha1' as const;

const queue = (name: string, spec: AIJobQueue['spec'], rv = '1'): AIJobQueue => ({ apiVersion: V, kind: 'AIJobQueue', metadata: { name, resourceVersion: rv }, spec });
const cluster = (name: string, spec: ComputeCluster['spec'], rv = '1'): ComputeCluster => ({ apiVersion: V, kind: 'ComputeCluster', metadata: { name, resourceVersion: rv }, spec });
const tenant = (name: string, spec: TenantPolicy['spec'], rv = '1'): TenantPolicy => ({ apiVersion: V, kind: 'TenantPolicy', metadata: { name, resourceVersion: rv }, spec });
const ev = (type: WatchEventType, object: PolicyResource): ClusterEvent => ({ kind: object.kind, type, object }) as ClusterEvent;

function storeWith(...objs: PolicyResource[]): PolicyStore {
  const s = new PolicyStore(DEFAULTS);
  for (const o of objs) s.onEvent(ev('ADDED', o));
  return s;
}

describe('PolicyStore', () => {
  it('consumes policy events and leaves every other kind to the controller', () => {
    const s = new PolicyStore(DEFAULTS);
    expect(s.onEvent(ev('ADDED', queue('batch', {})))).toBe(true);
    expect(s.onEvent({ kind: 'Node', type: 'ADDED', object: { metadata: { name: 'n' } } })).toBe(false);
    expect(s.list('AIJobQueue').map((q) => q.metadata.name)).toEqual(['batch']);
  });

  it('always resolves the default queue, direct, even with no object', () => {
    const s = new PolicyStore(DEFAULTS);
    expect(s.queue('default')).toEqual({ name: 'default', admission: 'direct', priority: 0, preemptionPolicy: 'Never', clusters: [] });
    expect(s.queue('batch')).toBeUndefined();
    expect(s.queues().map((q) => q.name)).toEqual(['default']);
    expect(s.get('AIJobQueue', 'default')).toBeUndefined();
  });

  it('resolves queues from their objects, by name, the default queue included once', () => {
    const s = storeWith(queue('zeta', { priority: 1 }), queue('batch', { admission: 'queued', maxConcurrency: 100 }), queue('default', { admission: 'queued' }));
    expect(s.queues().map((q) => [q.name, q.admission])).toEqual([
      ['batch', 'queued'],
      ['default', 'queued'],
      ['zeta', 'direct'],
    ]);
    expect(s.queue('batch')).toMatchObject({ admission: 'queued', maxConcurrency: 100, preemptionPolicy: 'Never' });
  });

  it('follows modifications and deletions; deleting the default queue object restores the implicit one', () => {
    const s = storeWith(queue('default', { admission: 'queued' }));
    s.onEvent(ev('MODIFIED', queue('default', { admission: 'queued', maxConcurrency: 2 }, '2')));
    expect(s.queue('default')?.maxConcurrency).toBe(2);
    s.onEvent(ev('DELETED', queue('default', {}, '2')));
    expect(s.queue('default')?.admission).toBe('direct');
  });

  it('lists compute clusters by name', () => {
    const s = storeWith(cluster('gpu', { nodeSelector: { 'runway.dev/pool': 'gpu' } }), cluster('cpu', {}));
    expect(s.computeClusters().map((c) => c.metadata.name)).toEqual(['cpu', 'gpu']);
    expect(s.get('ComputeCluster', 'gpu')?.spec.nodeSelector).toEqual({ 'runway.dev/pool': 'gpu' });
  });

  it('finds a tenant by spec.tenantId, else by the policy name, and defaults the rest from the environment', () => {
    const s = storeWith(tenant('team-a', { gpuQuota: 2, rateLimitPerMin: 6 }), tenant('ml-team', { tenantId: 'ML_Team', cpuQuota: 4 }));
    expect(s.tenant('team-a')).toEqual({ tenant: 'team-a', quota: { gpu: 2 }, rateLimitPerMin: 6, rateLimitBurst: 10, headroomRule: false });
    expect(s.tenant('ML_Team')).toMatchObject({ quota: { gpu: 8, cpuMilli: 4000 } });
    expect(s.tenant('ml-team')).toEqual({ tenant: 'ml-team', quota: { gpu: 8 }, rateLimitPerMin: 60, rateLimitBurst: 10, headroomRule: false });
    expect(s.tenant('nobody')).toEqual({ tenant: 'nobody', quota: { gpu: 8 }, rateLimitPerMin: 60, rateLimitBurst: 10, headroomRule: false });
    expect(s.tenantQuotas()).toEqual({ 'team-a': { gpu: 2 }, ML_Team: { gpu: 8, cpuMilli: 4000 } });
  });

  it('picks the first policy by name when two govern the same tenant', () => {
    const s = storeWith(tenant('b-policy', { tenantId: 't', gpuQuota: 1 }), tenant('a-policy', { tenantId: 't', gpuQuota: 3 }));
    expect(s.tenant('t').quota.gpu).toBe(3);
    s.onEvent(ev('DELETED', tenant('a-policy', {})));
    expect(s.tenant('t').quota.gpu).toBe(1);
  });

  it('notifies listeners after every change, not for an echo of what it holds, until they unsubscribe', () => {
    const s = new PolicyStore(DEFAULTS);
    let calls = 0;
    const off = s.onChange(() => calls++);
    s.onEvent(ev('ADDED', queue('batch', {}, '5')));
    s.onEvent(ev('MODIFIED', queue('batch', {}, '5'))); // same version: no change
    s.onEvent(ev('MODIFIED', queue('batch', { priority: 1 }, '6')));
    s.onEvent(ev('DELETED', queue('batch', {}, '6')));
    s.onEvent(ev('DELETED', queue('nothing', {}, '7'))); // nothing held: no change
    expect(calls).toBe(3);
    off();
    s.onEvent(ev('ADDED', queue('batch', {}, '8')));
    expect(calls).toBe(3);
  });

  it('stores a change of status only (the leader\'s status writes) without notifying listeners', () => {
    const s = storeWith(queue('batch', { admission: 'queued' }, '5'), tenant('team-a', { gpuQuota: 2 }, '6'));
    const resolved = s.queue('batch');
    let calls = 0;
    s.onChange(() => calls++);
    s.onEvent(ev('MODIFIED', { ...queue('batch', { admission: 'queued' }, '7'), status: { queued: 1, admitted: 0, running: 2 } }));
    s.apply({ ...tenant('team-a', { gpuQuota: 2 }, '8'), status: { gpusAllocated: 2 } });
    expect(calls).toBe(0);
    expect(s.get('AIJobQueue', 'batch')?.status).toEqual({ queued: 1, admitted: 0, running: 2 });
    expect(s.get('TenantPolicy', 'team-a')?.status).toEqual({ gpusAllocated: 2 });
    expect(s.queue('batch')).toBe(resolved); // nothing to resolve again
    // A change of spec or labels after it is a change again.
    s.onEvent(ev('MODIFIED', { ...queue('batch', { admission: 'queued', priority: 1 }, '9'), status: { queued: 1, admitted: 0, running: 2 } }));
    s.onEvent(ev('MODIFIED', { ...queue('batch', { admission: 'queued', priority: 1 }, '10'), metadata: { name: 'batch', resourceVersion: '10', labels: { a: 'b' } } }));
    expect(calls).toBe(2);
    expect(s.queue('batch')?.priority).toBe(1);
  });

  it('runs every listener even when one throws, then reports the failure', () => {
    const s = new PolicyStore(DEFAULTS);
    const seen: string[] = [];
    s.onChange(() => {
      seen.push('a');
      throw new Error('boom');
    });
    s.onChange(() => void seen.push('b'));
    expect(() => s.onEvent(ev('ADDED', queue('q', {})))).toThrow('boom');
    expect(seen).toEqual(['a', 'b']);
    expect(s.queue('q')).toBeDefined();
  });

  it("keeps its own newer write when the watch delivers an older version late", () => {
    const s = storeWith(queue('batch', { priority: 1 }, '10'));
    s.apply(queue('batch', { priority: 3 }, '12'));
    s.onEvent(ev('MODIFIED', queue('batch', { priority: 2 }, '11')));
    expect(s.queue('batch')?.priority).toBe(3);
    s.onEvent(ev('MODIFIED', queue('batch', { priority: 3 }, '12')));
    expect(s.queue('batch')?.priority).toBe(3);
  });

  it('does not let a late event revive what Runway deleted, but does take a re-creation', () => {
    const s = storeWith(queue('gone', {}, '20'));
    s.forget('AIJobQueue', 'gone');
    expect(s.get('AIJobQueue', 'gone')).toBeUndefined();
    s.onEvent(ev('MODIFIED', queue('gone', {}, '20')));
    expect(s.get('AIJobQueue', 'gone')).toBeUndefined();
    s.onEvent(ev('DELETED', queue('gone', {}, '20')));
    s.onEvent(ev('ADDED', queue('gone', { priority: 9 }, '25')));
    expect(s.queue('gone')?.priority).toBe(9);
  });

  it('hands out frozen resolutions (callers share them)', () => {
    const s = storeWith(tenant('team-a', { gpuQuota: 2 }));
    expect(Object.isFrozen(s.tenant('team-a'))).toBe(true);
    expect(Object.isFrozen(s.queue('default'))).toBe(true);
  });
});
