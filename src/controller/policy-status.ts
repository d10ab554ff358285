/**
 * The status of the policy objects: what `kubectl get aijq,cc,tp` shows in its Queued, Running and
 * GPUsUsed columns, and GET /v1/{queues,clusters,tenants}/{name} in `status`. The leader writes it
 * every few seconds (RUNWAY_POLICY_STATUS_INTERVAL_S, 10 by default) from the numbers the views
 * already compute: the queue view (GET /v1/queues), the pool view (GET /v1/nodepools) and the quota
 * ledger.
 *
 * `policyStatusWrites` is the pure part: given the objects and those numbers, which objects' statuses
 * differ from what is stored, and what they become. Only those are written, so a quiet cluster costs
 * no API calls and no watch events. Objects that do not exist (the implicit `default` queue, the
 * implicit `default` pool) are not written. A status write is not a policy change for the PolicyStore
 * (see onlyStatusChanged), so it does not start a scheduling cycle.
 *
 * What Runway owns in a status: AIJobQueue `queued`, `admitted`, `running`; ComputeCluster `nodes`,
 * `runningJobs`, `allocatedGPUs`, `allocatedCPU`, `allocatedMemoryMb`; TenantPolicy `gpusAllocated`.
 * Other fields of a stored status (e.g. `conditions` someone else wrote) are kept as they are.
 * `spendMonthToDateUsd` is left unset: budgets are not enforced by this version.
 */
import { isClusterError } from '../cluster/types.js';
import type { AIJobQueue, ComputeCluster, PolicyKind, PolicyOf, PolicyResource, TenantPolicy } from '../core/policy.js';
import type { Logger } from '../observability/logger.js';
import { withDeadline } from './job-service.js';
import { tenantOf } from './policy-store.js';
import type { PoolView, QueueView } from './scheduling-loop.js';

export interface AIJobQueueStatus {
  /** Jobs waiting for admission (QUEUED, RETRYING). */
  queued: number;
  /** Jobs admitted and not running yet (PENDING). */
  admitted: number;
  running: number;
}

export interface ComputeClusterStatus {
  /** Ready, schedulable nodes the pool's nodeSelector matches. */
  nodes: number;
  /** Admitted jobs placed in the pool (PENDING or RUNNING), as `running_jobs` of GET /v1/nodepools. */
  runningJobs: number;
  /** What Runway's pods in the pool request, as `allocated` of GET /v1/nodepools. */
  allocatedGPUs: number;
  allocatedCPU: number;
  allocatedMemoryMb: number;
}

export interface TenantPolicyStatus {
  /** GPUs the tenant's admitted jobs hold (the quota ledger). */
  gpusAllocated: number;
}

/** The numbers statuses are made of. */
export interface StatusSources {
  queues: ReadonlyArray<Pick<QueueView, 'name' | 'queued' | 'admitted' | 'running'>>;
  pools: ReadonlyArray<Pick<PoolView, 'name' | 'nodes' | 'running_jobs' | 'allocated'>>;
  /** GPUs a tenant holds now. */
  gpusInUse(tenant: string): number;
}

/** The stored policy objects (with their current status). */
export interface PolicyObjects {
  queues: readonly AIJobQueue[];
  clusters: readonly ComputeCluster[];
  tenants: readonly TenantPolicy[];
}

/** One status to write: the whole new status of the object, and the version it was computed from. */
export interface StatusWrite {
  kind: PolicyKind;
  name: string;
  resourceVersion?: string;
  status: Record<string, unknown>;
}

const count = (n: number): number => Math.max(0, Math.round(n));
/** Cores, to the millicore (the CRD field is a number; sums of fractions must not print 0.30000000000000004). */
const cores = (n: number): number => Math.max(0, Math.round(n * 1000) / 1000);

export function queueStatus(view: Pick<QueueView, 'queued' | 'admitted' | 'running'> | undefined): AIJobQueueStatus {
  return { queued: count(view?.queued ?? 0), admitted: count(view?.admitted ?? 0), running: count(view?.running ?? 0) };
}

export function computeClusterStatus(view: Pick<PoolView, 'nodes' | 'running_jobs' | 'allocated'> | undefined): ComputeClusterStatus {
  return {
    nodes: count(view?.nodes ?? 0),
    runningJobs: count(view?.running_jobs ?? 0),
    allocatedGPUs: count(view?.allocated.gpu ?? 0),
    allocatedCPU: cores(view?.allocated.cpu ?? 0),
    allocatedMemoryMb: count(view?.allocated.memory_mb ?? 0),
  };
}

export function tenantPolicyStatus(gpus: number): TenantPolicyStatus {
  return { gpusAllocated: count(gpus) };
}

/**
 * The status writes that bring every existing policy object up to date: one per object whose stored
 * status differs, in a field Runway owns, from the computed one. The written status is the stored one
 * with Runway's fields replaced, so fields Runway does not own survive. Pure: no I/O, no clock.
 */
export function policyStatusWrites(objects: PolicyObjects, sources: StatusSources): StatusWrite[] {
  const queues = new Map(sources.queues.map((q) => [q.name, q]));
  const pools = new Map(sources.pools.map((p) => [p.name, p]));
  const out: StatusWrite[] = [];
  const consider = (obj: PolicyResource, computed: object): void => {
    const stored = obj.status ?? {};
    const changed = Object.entries(computed).some(([key, value]) => stored[key] !== value);
    if (!changed) return;
    const write: StatusWrite = { kind: obj.kind, name: obj.metadata.name, status: { ...stored, ...computed } };
    if (obj.metadata.resourceVersion !== undefined) write.resourceVersion = obj.metadata.resourceVersion;
    out.push(write);
  };
  for (const q of objects.queues) consider(q, queueStatus(queues.get(q.metadata.name)));
  for (const c of objects.clusters) consider(c, computeClusterStatus(pools.get(c.metadata.name)));
  for (const t of objects.tenants) consider(t, tenantPolicyStatus(sources.gpusInUse(tenantOf(t))));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The reporter: runs policyStatusWrites on the leader, at most every `everyMs`, and applies them.
// ---------------------------------------------------------------------------------------------

export interface PolicyStatusReporterDeps {
  /** The port's updatePolicyStatus. */
  write: (kind: PolicyKind, name: string, status: Record<string, unknown>, resourceVersion?: string) => Promise<PolicyResource>;
  /** The policy cache: what is stored, and where a written object goes before its watch echo. */
  policies: { list<K extends PolicyKind>(kind: K): PolicyOf<K>[]; apply(obj: PolicyResource): void };
  /** The numbers, read at each tick (the views and the ledger). */
  sources(): StatusSources;
  /** True on the leader, once its caches are synced: only then are statuses written. */
  shouldWrite(): boolean;
  logger: Logger;
  /** Wall-clock ms between the end of one report and the start of the next (default 10 s). */
  everyMs?: number;
  /** How long one status write may take before it counts as failed (default 10 s). */
  writeTimeoutMs?: number;
}

export const DEFAULT_POLICY_STATUS_EVERY_MS = 10_000;

export class PolicyStatusReporter {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<number> = Promise.resolve(0);
  readonly everyMs: number;

  constructor(private readonly deps: PolicyStatusReporterDeps) {
    const every = deps.everyMs ?? DEFAULT_POLICY_STATUS_EVERY_MS;
    this.everyMs = Number.isFinite(every) && every > 0 ? every : DEFAULT_POLICY_STATUS_EVERY_MS;
  }

  /** Reports every `everyMs` from now on (the first report after `everyMs`). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Computes and writes the statuses that changed, now (after a report already under way); resolves
   * with the number of objects written. Nothing on a follower or before the caches are synced.
   */
  reportNow(): Promise<number> {
    this.running = this.running.then(() => this.report());
    return this.running;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reportNow().finally(() => this.arm());
    }, this.everyMs);
    this.timer.unref();
  }

  private async report(): Promise<number> {
    const { write, policies, logger } = this.deps;
    if (!this.deps.shouldWrite()) return 0;
    let writes: StatusWrite[];
    try {
      const objects = { queues: policies.list('AIJobQueue'), clusters: policies.list('ComputeCluster'), tenants: policies.list('TenantPolicy') };
      writes = policyStatusWrites(objects, this.deps.sources());
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'computing policy statuses failed');
      return 0;
    }
    let written = 0;
    const failed: string[] = [];
    let lastError = '';
    for (const w of writes) {
      if (!this.deps.shouldWrite()) break; // leadership lost meanwhile
      try {
        const stored = await withDeadline(
          write(w.kind, w.name, w.status, w.resourceVersion),
          this.deps.writeTimeoutMs ?? 10_000,
          `writing the status of ${w.kind} ${w.name}`,
        );
        policies.apply(stored);
        written++;
      } catch (err) {
        // Changed or deleted since it was read: the next report starts from the new version.
        if (isClusterError(err, 'Conflict') || isClusterError(err, 'NotFound')) continue;
        failed.push(`${w.kind}/${w.name}`);
        lastError = (err as Error).message;
      }
    }
    if (failed.length > 0) {
      logger.warn({ failed: failed.length, objects: failed.slice(0, 10), err: lastError }, 'writing policy statuses failed; retried at the next report');
    }
    return written;
  }
}
