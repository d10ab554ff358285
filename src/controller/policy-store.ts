/**
 * The policy cache: every AIJobQueue, ComputeCluster and TenantPolicy the cluster holds, fed by the
 * controller's watch (and by the API's own writes, ahead of their watch echo), and what they resolve
 * to with the environment's defaults filled in. Admission asks it "which queue, which guardrails for
 * this tenant"; the scheduling loop reads the queues, pools and quotas and re-runs on `onChange`.
 *
 * It does no I/O and only ever holds the objects the cluster sent (read-only, as informer caches are).
 *
 * A new version that changes only the status (what the leader's PolicyStatusReporter writes every few
 * seconds) is stored, so that reads show it, but is not a change: listeners are not called, so the
 * scheduling loop does not run a cycle for it (its own status writes would otherwise re-trigger it).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ClusterEvent } from '../cluster/types.js';
import {
  DEFAULT_QUEUE_NAME,
  isPolicyKind,
  POLICY_KINDS,
  resolveQueue,
  resolveTenant,
  type ComputeCluster,
  type PolicyDefaults,
  type PolicyKind,
  type PolicyOf,
  type PolicyResource,
  type ResolvedQueue,
  type ResolvedTenant,
  type TenantPolicy,
} from '../core/policy.js';
import { deepFreeze } from '../core/immutable.js';
import type { TenantQuota } from '../core/quota.js';

/**
 * True when resourceVersion `a` is newer than `b`. They are integers on etcd-backed API servers (and in
 * the simulated cluster); anything else cannot be ordered, and a different version counts as newer.
 */
function newerVersion(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length !== b.length ? a.length > b.length : a > b;
  return a !== b;
}

/**
 * True when `next` differs from `current` at most in its status and server bookkeeping (resourceVersion,
 * managedFields, ...): its spec, labels and annotations, everything a policy means, are the same.
 */
export function onlyStatusChanged(current: PolicyResource, next: PolicyResource): boolean {
  return (
    isDeepStrictEqual(current.spec ?? {}, next.spec ?? {}) &&
    isDeepStrictEqual(current.metadata.labels ?? {}, next.metadata.labels ?? {}) &&
    isDeepStrictEqual(current.metadata.annotations ?? {}, next.metadata.annotations ?? {})
  );
}

const byName = (a: { metadata: { name: string } }, b: { metadata: { name: string } }) =>
  a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;

/** The tenant a TenantPolicy governs. */
export function tenantOf(policy: TenantPolicy): string {
  return policy.spec?.tenantId ?? policy.metadata.name;
}

export class PolicyStore {
  private readonly objects = new Map<PolicyKind, Map<string, PolicyResource>>(POLICY_KINDS.map((k) => [k, new Map()]));
  /** Objects Runway deleted itself: older versions arriving late from the watch must not revive them. */
  private readonly tombstones = new Map<string, string | undefined>();
  private readonly listeners = new Set<() => void>();
  // Derived views, rebuilt lazily after a change of their kind.
  private resolvedQueues: Map<string, ResolvedQueue> | undefined;
  private tenantIndex: Map<string, ResolvedTenant> | undefined;
  private readonly defaults: PolicyDefaults;

  /** `defaults` are the environment's guardrails for tenants (and fields) without a policy. */
  constructor(defaults: PolicyDefaults) {
    this.defaults = { tenantGpuQuota: defaults.tenantGpuQuota, rateLimitPerMin: defaults.rateLimitPerMin, rateLimitBurst: defaults.rateLimitBurst };
  }

  /**
   * Takes a cluster event. Returns true when it was a policy event (consumed here, whatever its
   * content), false for every other kind, which the caller handles.
   */
  onEvent(e: ClusterEvent): boolean {
    if (!isPolicyKind(e.kind)) return false;
    const obj = e.object as PolicyResource;
    if (e.type === 'DELETED') this.remove(e.kind, obj.metadata.name, false);
    else this.put(e.kind, obj);
    return true;
  }

  /**
   * Records an object Runway has just written (the API's PUT), so that reads on this replica see it
   * before the watch echoes it. An older version than the one held is ignored.
   */
  apply(obj: PolicyResource): void {
    this.put(obj.kind, obj);
  }

  /** Forgets an object Runway has just deleted; versions up to `resourceVersion` arriving later are ignored. */
  forget(kind: PolicyKind, name: string, resourceVersion?: string): void {
    this.remove(kind, name, resourceVersion ?? this.get(kind, name)?.metadata.resourceVersion);
  }

  /**
   * Calls `listener` after every change of any policy (not after a change of status only); returns a
   * function that unsubscribes it.
   */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get<K extends PolicyKind>(kind: K, name: string): PolicyOf<K> | undefined {
    return this.map(kind).get(name) as PolicyOf<K> | undefined;
  }

  /** Every object of a kind, by name. */
  list<K extends PolicyKind>(kind: K): PolicyOf<K>[] {
    return ([...this.map(kind).values()] as PolicyOf<K>[]).sort(byName);
  }

  /**
   * The queue of that name with defaults filled in, or undefined when no such queue exists. The
   * default queue always exists: without an object it is the v1 direct queue.
   */
  queue(name: string): ResolvedQueue | undefined {
    return this.queueIndex().get(name);
  }

  /** Every queue, by name, the implicit default queue included. */
  queues(): ResolvedQueue[] {
    return [...this.queueIndex().values()];
  }

  computeClusters(): ComputeCluster[] {
    return this.list('ComputeCluster');
  }

  /**
   * The tenant's guardrails: its TenantPolicy (found by spec.tenantId, else metadata.name) over the
   * environment's defaults. Should two policies name the same tenant, the first by object name wins.
   */
  tenant(tenantId: string): ResolvedTenant {
    return this.tenantPolicies().get(tenantId) ?? resolveTenant(tenantId, undefined, this.defaults);
  }

  /** Quotas of the tenants that have a policy (the others have the environment's GPU quota). */
  tenantQuotas(): Record<string, TenantQuota> {
    const out: Record<string, TenantQuota> = {};
    for (const [tenant, resolved] of this.tenantPolicies()) out[tenant] = resolved.quota;
    return out;
  }

  // ------------------------------------------------------------------------------------------

  private map(kind: PolicyKind): Map<string, PolicyResource> {
    return this.objects.get(kind) as Map<string, PolicyResource>;
  }

  private put(kind: PolicyKind, obj: PolicyResource): void {
    const name = obj.metadata.name;
    const rv = obj.metadata.resourceVersion;
    const key = `${kind}/${name}`;
    if (this.tombstones.has(key)) {
      if (!newerVersion(rv, this.tombstones.get(key))) return; // a version from before Runway deleted it
      this.tombstones.delete(key);
    }
    const map = this.map(kind);
    const current = map.get(name);
    // The echo of Runway's own write, or an older version: nothing changes.
    if (current && !newerVersion(rv, current.metadata.resourceVersion)) return;
    map.set(name, obj);
    // A status write (the leader's, every few seconds): nothing admission or the cycle reads changed.
    if (current && onlyStatusChanged(current, obj)) return;
    this.changed(kind);
  }

  /** `tombstone`: the last version Runway deleted (false: the watch reported the delete itself). */
  private remove(kind: PolicyKind, name: string, tombstone: string | undefined | false): void {
    const key = `${kind}/${name}`;
    if (tombstone === false) this.tombstones.delete(key); // the watch confirmed the delete
    else this.tombstones.set(key, tombstone);
    if (this.map(kind).delete(name)) this.changed(kind);
  }

  private changed(kind: PolicyKind): void {
    if (kind === 'AIJobQueue') this.resolvedQueues = undefined;
    if (kind === 'TenantPolicy') this.tenantIndex = undefined;
    let failure: unknown;
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  }

  private queueIndex(): Map<string, ResolvedQueue> {
    if (this.resolvedQueues) return this.resolvedQueues;
    const out = new Map<string, ResolvedQueue>();
    const queues = this.list('AIJobQueue');
    if (!this.map('AIJobQueue').has(DEFAULT_QUEUE_NAME)) out.set(DEFAULT_QUEUE_NAME, deepFreeze(resolveQueue(DEFAULT_QUEUE_NAME, undefined)));
    for (const q of queues) out.set(q.metadata.name, deepFreeze(resolveQueue(q.metadata.name, q.spec)));
    this.resolvedQueues = new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return this.resolvedQueues;
  }

  private tenantPolicies(): Map<string, ResolvedTenant> {
    if (this.tenantIndex) return this.tenantIndex;
    const out = new Map<string, ResolvedTenant>();
    for (const p of this.list('TenantPolicy')) {
      const tenant = tenantOf(p);
      if (!out.has(tenant)) out.set(tenant, deepFreeze(resolveTenant(tenant, p.spec, this.defaults)));
    }
    this.tenantIndex = out;
    return out;
  }
}
