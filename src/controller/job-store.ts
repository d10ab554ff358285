/**
 * The in-memory index of AIJobs: a cache of the cluster, fed by list+watch and by Runway's own writes.
 * GET and list are served from here. Ids sort by creation time, so "newest first" pagination is a
 * walk down a sorted array and the continue token is simply the last id returned.
 */
import type { AIJob } from '../cluster/types.js';
import { LABEL_ADMISSION } from '../core/k8s.js';
import { isWaiting, type JobPhase } from '../core/status.js';

export interface ListQuery {
  tenant?: string;
  status?: JobPhase;
  queue?: string;
  limit: number;
  /** Return jobs older than this id (the previous page's last id). */
  after?: string;
}

export interface ListPage {
  items: AIJob[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

/**
 * The phase shown for an AIJob. A job whose status was not yet written is PENDING (direct admission:
 * its Job is created with it) or QUEUED (a queued queue's job, labelled so at creation).
 */
export function phaseOf(job: AIJob): JobPhase {
  return job.status?.phase ?? (job.metadata.labels?.[LABEL_ADMISSION] === 'queued' ? 'QUEUED' : 'PENDING');
}

/** Index of the first element >= id (ids sort by creation time). */
function lowerBound(arr: string[], id: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((arr[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(arr: string[], id: string): void {
  // New ids are the newest almost always: appending is the common case.
  if (arr.length === 0 || (arr[arr.length - 1] as string) < id) {
    arr.push(id);
    return;
  }
  const i = lowerBound(arr, id);
  if (arr[i] !== id) arr.splice(i, 0, id);
}

function removeSorted(arr: string[], id: string): void {
  const i = lowerBound(arr, id);
  if (arr[i] === id) arr.splice(i, 1);
}

/** True when `incoming` is not older than `current` (resourceVersions are integers on etcd-backed servers). */
export function isNewer(incoming: AIJob, current: AIJob | undefined): boolean {
  if (!current) return true;
  const a = incoming.metadata.resourceVersion;
  const b = current.metadata.resourceVersion;
  if (!a || !b) return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length !== b.length ? a.length > b.length : a > b;
  return a !== b;
}

export class JobStore {
  private readonly byId = new Map<string, AIJob>();
  private readonly ids: string[] = [];
  private readonly byTenant = new Map<string, string[]>();
  private readonly byIdempotencyKey = new Map<string, string>();
  /** Jobs per phase, and the ids of waiting jobs: kept as jobs change, so that a scrape does not walk every job. */
  private readonly phaseCounts = new Map<JobPhase, number>();
  private readonly waitingIds = new Set<string>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): AIJob | undefined {
    return this.byId.get(id);
  }

  /** Stores the job unless the cache already holds a newer version; returns the previous version. */
  upsert(job: AIJob): { stored: boolean; previous: AIJob | undefined } {
    const id = job.metadata.name;
    const previous = this.byId.get(id);
    if (previous && !isNewer(job, previous)) return { stored: false, previous };
    this.byId.set(id, job);
    if (previous) this.count(previous, -1);
    this.count(job, 1);
    if (!previous) {
      insertSorted(this.ids, id);
      const tenant = job.spec.tenant_id;
      let list = this.byTenant.get(tenant);
      if (!list) this.byTenant.set(tenant, (list = []));
      insertSorted(list, id);
      if (job.spec.idempotency_key) this.byIdempotencyKey.set(idemKey(tenant, job.spec.idempotency_key), id);
    }
    return { stored: true, previous };
  }

  remove(id: string): AIJob | undefined {
    const job = this.byId.get(id);
    if (!job) return undefined;
    this.byId.delete(id);
    this.count(job, -1);
    removeSorted(this.ids, id);
    const list = this.byTenant.get(job.spec.tenant_id);
    if (list) {
      removeSorted(list, id);
      if (list.length === 0) this.byTenant.delete(job.spec.tenant_id);
    }
    if (job.spec.idempotency_key) this.byIdempotencyKey.delete(idemKey(job.spec.tenant_id, job.spec.idempotency_key));
    return job;
  }

  private count(job: AIJob, delta: 1 | -1): void {
    const phase = phaseOf(job);
    const n = (this.phaseCounts.get(phase) ?? 0) + delta;
    if (n > 0) this.phaseCounts.set(phase, n);
    else this.phaseCounts.delete(phase);
    if (!isWaiting(phase)) return;
    if (delta > 0) this.waitingIds.add(job.metadata.name);
    else this.waitingIds.delete(job.metadata.name);
  }

  findByIdempotencyKey(tenant: string, key: string): AIJob | undefined {
    const id = this.byIdempotencyKey.get(idemKey(tenant, key));
    return id === undefined ? undefined : this.byId.get(id);
  }

  values(): IterableIterator<AIJob> {
    return this.byId.values();
  }

  /** Newest first, filtered, at most `limit` items. */
  list(q: ListQuery): ListPage {
    const ids = q.tenant !== undefined ? (this.byTenant.get(q.tenant) ?? []) : this.ids;
    const matches = (job: AIJob | undefined): job is AIJob =>
      job !== undefined &&
      (q.status === undefined || phaseOf(job) === q.status) &&
      (q.queue === undefined || job.spec.queue === q.queue);
    let i = (q.after !== undefined ? lowerBound(ids, q.after) : ids.length) - 1;
    const items: AIJob[] = [];
    for (; i >= 0 && items.length < q.limit; i--) {
      const job = this.byId.get(ids[i] as string);
      if (matches(job)) items.push(job);
    }
    // Only promise a next page when one more matching item exists.
    let hasMore = false;
    for (; i >= 0 && !hasMore; i--) hasMore = matches(this.byId.get(ids[i] as string));
    const last = items[items.length - 1];
    return hasMore && last ? { items, next: last.metadata.name } : { items };
  }

  /** Jobs per phase (phases with none are absent). */
  countsByPhase(): Map<JobPhase, number> {
    return new Map(this.phaseCounts);
  }

  /**
   * Jobs waiting for admission, per queue (queues with none are absent): QUEUED (and the transient
   * PREEMPTED), and RETRYING once its backoff has passed. A RETRYING job still in its backoff
   * (`nextAttemptAt` after `nowMs`, the cluster's clock) waits for its timer, not for its queue, and
   * is left out: the scheduling cycle would not admit it yet anyway (pending cause `Backoff`).
   */
  waitingByQueue(nowMs: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (const id of this.waitingIds) {
      const job = this.byId.get(id) as AIJob;
      const phase = phaseOf(job);
      if (phase === 'RETRYING') {
        const due = Date.parse(job.status?.nextAttemptAt ?? '');
        if (Number.isFinite(due) && due > nowMs) continue;
      }
      counts.set(job.spec.queue, (counts.get(job.spec.queue) ?? 0) + 1);
    }
    return counts;
  }
}

function idemKey(tenant: string, key: string): string {
  return `${tenant}\u0000${key}`;
}
