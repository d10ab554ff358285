/**
 * Fair sharing across tenants (Kueue's fair_sharing_iterator, with tenants in place of cluster
 * queues). Within one priority level the cycle repeatedly takes the tenant with the lowest
 * dominant-resource share (DRF: the largest of its CPU, memory and GPU usage, each divided by the
 * whole cluster's allocatable) and considers that tenant's oldest job, whatever its queue. Usage
 * includes what the cycle admitted so far, so a tenant's share rises with every admission and the
 * next tenant gets a turn. Equal shares fall back to FIFO: the tenant whose next job was queued
 * first goes first.
 *
 * The heap holds one entry per tenant. Only the tenant just considered can change its share (an
 * admission or a hold charges the job's own tenant) or its next job, so each step is one
 * O(log tenants) sift of the top.
 */
import type { Resources } from './resources.js';
import type { QueuedJob } from './types.js';

/** max over dimensions of usage / total, ignoring dimensions the cluster has none of. */
export function dominantShare(usage: Resources, total: Resources): number {
  let s = 0;
  if (total.cpuMilli > 0) s = Math.max(s, usage.cpuMilli / total.cpuMilli);
  if (total.memoryMb > 0) s = Math.max(s, usage.memoryMb / total.memoryMb);
  if (total.gpu > 0) s = Math.max(s, usage.gpu / total.gpu);
  return s;
}

/** FIFO order: queuedAt, then id (code-unit order, locale-free so the cycle is deterministic). */
export function fifoCompare(a: QueuedJob, b: QueuedJob): number {
  if (a.queuedAt !== b.queuedAt) return a.queuedAt < b.queuedAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** What the heap orders by: the tenant's share when last (re)inserted, then its next job (FIFO). */
export interface FairShareKey {
  share: number;
  readonly head: QueuedJob;
}

function before(a: FairShareKey, b: FairShareKey): boolean {
  if (a.share !== b.share) return a.share < b.share;
  return fifoCompare(a.head, b.head) < 0;
}

/** A binary min-heap keyed by (share, head queuedAt, head id). */
export class FairShareHeap<T extends FairShareKey> {
  private readonly a: T[];

  constructor(items: T[]) {
    this.a = items;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  get size(): number {
    return this.a.length;
  }

  /** The item to consider next. Only valid while size > 0. */
  peek(): T {
    return this.a[0] as T;
  }

  /** The top item's key changed (its share or its head): restore order. */
  updateTop(): void {
    this.down(0);
  }

  pop(): void {
    const last = this.a.pop();
    if (last !== undefined && this.a.length > 0) {
      this.a[0] = last;
      this.down(0);
    }
  }

  private down(i: number): void {
    const a = this.a;
    const n = a.length;
    const item = a[i] as T;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(a[r] as T, a[l] as T)) c = r;
      const child = a[c] as T;
      if (!before(child, item)) break;
      a[i] = child;
      i = c;
    }
    a[i] = item;
  }
}
