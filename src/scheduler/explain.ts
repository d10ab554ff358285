/**
 * What a waiting job is told: the sentences behind WaitReason.message. Kept apart from the cycle so
 * that the wording can be read (and changed) in one place; every function is pure over numbers the
 * cycle already has.
 */
import type { TenantQuota } from '../core/quota.js';
import type { PoolRun } from './pools.js';
import { CPU, DIMS, GPU, MEM, amount, amountsIn, describe, num, numsIn, overMask, type Resources } from './resources.js';
import type { WaitReason } from './types.js';

const MINUTE_MS = 60_000;

/** "no jobs ahead" / "1 job ahead" / "3 jobs ahead". */
export function ahead(n: number): string {
  return n === 0 ? 'no jobs ahead' : `${n} job${n === 1 ? '' : 's'} ahead`;
}

/** Whole minutes from now to etaMs, rounded up, at least 1 (an overdue end still has to be observed). */
export function minutesUntil(etaMs: number, now: number): number {
  return Math.max(1, Math.ceil((etaMs - now) / MINUTE_MS));
}

/** "estimated start in 12 min". */
export function startsIn(etaMs: number, now: number): string {
  return `estimated start in ${minutesUntil(etaMs, now)} min`;
}

export function minutes(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

/** Why `n` pods of `perPod` (total `req`) do not go into pool `p` now; `fit` is what the pool said. */
export function poolBlocked(
  p: PoolRun,
  fit: 'cap' | 'held' | 'agg' | 'node',
  perPod: Resources,
  n: number,
  req: Resources,
  placeable: number,
): { reason: WaitReason['reason']; message: string } {
  const s = p.state;
  switch (fit) {
    case 'cap':
      if (s.maxJobs !== undefined && p.jobs + p.heldJobs + 1 > s.maxJobs) {
        return { reason: 'PoolLimit', message: `pool ${p.name} is at its limit of ${s.maxJobs} job${s.maxJobs === 1 ? '' : 's'}` };
      }
      return {
        reason: 'PoolLimit',
        message: `needs ${amount('gpu', req.gpu)} in pool ${p.name}, ${Math.max(0, (s.maxGpus ?? 0) - p.usedGpu - p.heldCapGpu)} free under its limit of ${s.maxGpus ?? 0}`,
      };
    case 'agg': {
      const f = p.free;
      const short = overMask(req.cpuMilli, req.memoryMb, req.gpu, f.cpuMilli, f.memoryMb, f.gpu);
      return {
        reason: 'Capacity',
        message: `needs ${amountsIn(short, req.cpuMilli, req.memoryMb, req.gpu)} in pool ${p.name}, ${numsIn(short, f.cpuMilli, f.memoryMb, f.gpu)} free`,
      };
    }
    case 'held': {
      const c = p.free.cpuMilli - p.held.cpuMilli;
      const m = p.free.memoryMb - p.held.memoryMb;
      const g = p.free.gpu - p.held.gpu;
      const short = overMask(req.cpuMilli, req.memoryMb, req.gpu, c, m, g);
      return {
        reason: 'Fairness',
        message: `needs ${amountsIn(short, req.cpuMilli, req.memoryMb, req.gpu)} in pool ${p.name}, ${numsIn(short, c, m, g)} free after room held for job ${p.holder ?? '?'}`,
      };
    }
    case 'node':
      if (n === 1) {
        return { reason: 'Capacity', message: `needs ${describe(perPod)} on one node in pool ${p.name}, no node has that free` };
      }
      return { reason: 'Gang', message: `needs ${n} pods (${describe(perPod)} each) at once in pool ${p.name}, room for ${placeable}` };
  }
}

/**
 * Bits of the tenant's quota dimensions that `req` overflows (0 when it fits). A job asking for none
 * of a resource is never held back by that resource's quota (as in core/quota).
 */
export function quotaShort(usage: Resources, req: Resources, quota: TenantQuota): number {
  let mask = 0;
  if (quota.gpu !== undefined && req.gpu > 0 && usage.gpu + req.gpu > quota.gpu) mask |= GPU;
  if (quota.cpuMilli !== undefined && req.cpuMilli > 0 && usage.cpuMilli + req.cpuMilli > quota.cpuMilli) mask |= CPU;
  if (quota.memoryMb !== undefined && req.memoryMb > 0 && usage.memoryMb + req.memoryMb > quota.memoryMb) mask |= MEM;
  return mask;
}

export function quotaBlocked(tenant: string, short: number, usage: Resources, req: Resources, quota: TenantQuota): string {
  const parts: string[] = [];
  for (const [bit, d] of [[GPU, 'gpu'], [CPU, 'cpuMilli'], [MEM, 'memoryMb']] as const) {
    if (short & bit) parts.push(`${num(d, usage[d])} of ${num(d, quota[d] ?? 0)}`);
  }
  return `tenant ${tenant} quota: needs ${amountsIn(short, req.cpuMilli, req.memoryMb, req.gpu)}, ${parts.join(' and ')} in use`;
}

/** Why a job can never fit its tenant's quota, or undefined. */
export function quotaNeverFits(tenant: string, req: Resources, quota: TenantQuota): string | undefined {
  const over =
    (quota.gpu !== undefined && req.gpu > quota.gpu) ||
    (quota.cpuMilli !== undefined && req.cpuMilli > quota.cpuMilli) ||
    (quota.memoryMb !== undefined && req.memoryMb > quota.memoryMb);
  if (!over) return undefined;
  for (const d of DIMS) {
    const q = quota[d];
    if (q !== undefined && req[d] > q) return `needs ${amount(d, req[d])} but tenant ${tenant}'s quota is ${num(d, q)}`;
  }
  return undefined;
}
