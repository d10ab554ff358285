/**
 * Tenant quota accounting. A ledger of what each non-terminal job holds, keyed by job id, so that a
 * job's resources are released exactly once however many times its end is observed. Check-and-reserve
 * is one synchronous step: concurrent submissions interleave only at awaits, never inside it, which
 * makes the quota exact under concurrency in a single process (the leader).
 */
import { errors } from './errors.js';
import { ShapeMemo } from './shape-memo.js';

export interface Resources {
  /** millicores, to keep sums exact */
  cpuMilli: number;
  memoryMb: number;
  gpu: number;
}

/** Per-tenant limits; an absent field means unlimited. */
export interface TenantQuota {
  gpu?: number;
  cpuMilli?: number;
  memoryMb?: number;
}

export const ZERO: Readonly<Resources> = Object.freeze({ cpuMilli: 0, memoryMb: 0, gpu: 0 });

/**
 * What a job holds, frozen and shared by the jobs that hold the same: the quota ledger keeps one per
 * job for as long as the job holds quota.
 */
export function resourcesOf(spec: { cpu: number; memory_mb: number; gpu_count: number; replicas: number }): Readonly<Resources> {
  const res: Resources = {
    cpuMilli: Math.round(spec.cpu * 1000) * spec.replicas,
    memoryMb: spec.memory_mb * spec.replicas,
    gpu: spec.gpu_count * spec.replicas,
  };
  return sharedResources.get('', res.cpuMilli, res.memoryMb, res.gpu, res);
}
const sharedResources = new ShapeMemo<Readonly<Resources>, Resources>(4096, (res) => Object.freeze(res));

interface Holding {
  tenant: string;
  res: Resources;
}

export class QuotaLedger {
  private readonly usage = new Map<string, Resources>();
  private readonly holdings = new Map<string, Holding>();

  /** What the tenant's non-terminal jobs hold now. */
  inUse(tenant: string): Resources {
    return this.usage.get(tenant) ?? ZERO;
  }

  holds(jobId: string): boolean {
    return this.holdings.has(jobId);
  }

  /** Ids of the jobs holding quota. */
  ids(): IterableIterator<string> {
    return this.holdings.keys();
  }

  /** Throws QUOTA_EXCEEDED (naming in use, requested and quota) when the request does not fit. */
  check(tenant: string, req: Resources, quota: TenantQuota): void {
    const used = this.inUse(tenant);
    if (quota.gpu !== undefined && req.gpu > 0 && used.gpu + req.gpu > quota.gpu) {
      throw errors.quotaExceeded('GPUs', tenant, used.gpu, req.gpu, quota.gpu);
    }
    if (quota.cpuMilli !== undefined && used.cpuMilli + req.cpuMilli > quota.cpuMilli) {
      throw errors.quotaExceeded('CPU cores', tenant, used.cpuMilli / 1000, req.cpuMilli / 1000, quota.cpuMilli / 1000);
    }
    if (quota.memoryMb !== undefined && used.memoryMb + req.memoryMb > quota.memoryMb) {
      throw errors.quotaExceeded('MiB of memory', tenant, used.memoryMb, req.memoryMb, quota.memoryMb);
    }
  }

  /** Check and record in one step. Reserving a job id twice is a no-op (idempotent rebuilds). */
  reserve(jobId: string, tenant: string, req: Resources, quota: TenantQuota = {}): void {
    if (this.holdings.has(jobId)) return;
    this.check(tenant, req, quota);
    this.hold(jobId, tenant, req);
  }

  /** Records a holding without checking: used when rebuilding from the cluster, which is the truth. */
  add(jobId: string, tenant: string, req: Resources): void {
    if (!this.holdings.has(jobId)) this.hold(jobId, tenant, req);
  }

  /** Records a holding the ledger does not have (one lookup in a map of every job, not two). */
  private hold(jobId: string, tenant: string, req: Resources): void {
    this.holdings.set(jobId, { tenant, res: req });
    const used = this.inUse(tenant);
    this.usage.set(tenant, {
      cpuMilli: used.cpuMilli + req.cpuMilli,
      memoryMb: used.memoryMb + req.memoryMb,
      gpu: used.gpu + req.gpu,
    });
  }

  /** Releases what the job holds. Returns false when it held nothing (already released). */
  release(jobId: string): boolean {
    const h = this.holdings.get(jobId);
    if (!h) return false;
    this.holdings.delete(jobId);
    const used = this.inUse(h.tenant);
    const next = {
      cpuMilli: used.cpuMilli - h.res.cpuMilli,
      memoryMb: used.memoryMb - h.res.memoryMb,
      gpu: used.gpu - h.res.gpu,
    };
    if (next.cpuMilli === 0 && next.memoryMb === 0 && next.gpu === 0) this.usage.delete(h.tenant);
    else this.usage.set(h.tenant, next);
    return true;
  }

  clear(): void {
    this.usage.clear();
    this.holdings.clear();
  }

  /** Total GPUs held across tenants (for metrics and drift checks). */
  totalGpu(): number {
    let n = 0;
    for (const u of this.usage.values()) n += u.gpu;
    return n;
  }
}

/** Each quota dimension: its name in messages, and how to read it from a request and a quota. */
const DIMENSIONS = [
  { resource: 'GPUs', of: (r: Resources) => r.gpu, quota: (q: TenantQuota) => q.gpu, scale: 1 },
  { resource: 'CPU cores', of: (r: Resources) => r.cpuMilli, quota: (q: TenantQuota) => q.cpuMilli, scale: 1000 },
  { resource: 'MiB of memory', of: (r: Resources) => r.memoryMb, quota: (q: TenantQuota) => q.memoryMb, scale: 1 },
] as const;

/** Throws QUOTA_EXCEEDED when the request alone is over the tenant's quota: it could never be admitted. */
export function checkCouldEverFit(tenant: string, req: Resources, quota: TenantQuota): void {
  for (const d of DIMENSIONS) {
    const limit = d.quota(quota);
    if (limit !== undefined && d.of(req) > limit) throw errors.quotaNeverFits(d.resource, tenant, d.of(req) / d.scale, limit / d.scale);
  }
}

/** The headroom rule: fraction of a quota that usage plus a request may not reach. */
export const HEADROOM_THRESHOLD = 0.9;

/**
 * Throws BUDGET_EXCEEDED when, in a dimension the job asks for, usage plus the request reaches 90% of
 * the tenant's quota (the batch-platform design's headroom rule, for tenants whose policy enables it).
 */
export function checkHeadroom(tenant: string, used: Resources, req: Resources, quota: TenantQuota): void {
  for (const d of DIMENSIONS) {
    const limit = d.quota(quota);
    if (limit === undefined || d.of(req) === 0) continue;
    if (d.of(used) + d.of(req) >= HEADROOM_THRESHOLD * limit) {
      throw errors.headroom(d.resource, tenant, d.of(used) / d.scale, d.of(req) / d.scale, limit / d.scale);
    }
  }
}
