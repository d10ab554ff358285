/**
 * The scheduling cycle's vocabulary. The cycle is a pure function over a Snapshot (what the cluster
 * has, who uses what, the policies, the queued jobs) that returns Decisions (admissions, preemptions,
 * and why every other job waits). The controller builds the snapshot from its caches and applies the
 * decisions; nothing in src/scheduler does I/O.
 */
import type { Resources, TenantQuota } from '../core/quota.js';
import type { QueuedPair } from './queue-index.js';

export type AdmissionMode = 'direct' | 'queued';
export type PreemptionPolicy = 'Never' | 'PreemptLowerPriority';

export interface QueuePolicy {
  name: string;
  admission: AdmissionMode;
  /** Jobs of this queue admitted (not finished) at once; undefined = unlimited. */
  maxConcurrency?: number;
  /** Added to every job's own priority. */
  priority: number;
  preemptionPolicy: PreemptionPolicy;
  /** Pools (ComputeCluster names) this queue's jobs may use; empty = any. */
  pools: string[];
}

export interface PoolState {
  /** ComputeCluster name, e.g. "cpu", "gpu". */
  name: string;
  /** Sum of node allocatable in the pool (cpu millicores, memory MiB, GPUs). */
  allocatable: Resources;
  /** Largest single node's allocatable: a pod must fit on one node. */
  largestNode: Resources;
  /** Free per node, for packing gang pods (each replica must fit on some node). */
  nodesFree: Resources[];
  /** ComputeCluster capacity caps (undefined = none). */
  maxJobs?: number;
  maxGpus?: number;
  /**
   * Room on the pool's nodes still taken by pods of jobs that no longer hold it (preempted,
   * cancelled), which Kubernetes is removing: it is not free yet (nodesFree counts it as used), but
   * it will be without evicting anyone else, so a preemptor waits for it instead of taking more
   * victims. Undefined = none.
   */
  releasing?: Resources;
}

/** A job already admitted (running or pending on the cluster), as far as scheduling cares. */
export interface AdmittedJob {
  id: string;
  tenant: string;
  queue: string;
  pool: string;
  /** Effective priority (queue priority + job priority). */
  priority: number;
  /** Per-replica request. */
  perPod: Resources;
  replicas: number;
  /** When it was admitted (ms), for "most recently admitted" victim choice. */
  admittedAt: number;
  /** Expected end (ms), for ETAs; undefined when unknown. */
  expectedEndAt?: number;
}

export interface QueuedJob {
  id: string;
  tenant: string;
  queue: string;
  /** Job's own priority (the queue's is added by the cycle). */
  priority: number;
  perPod: Resources;
  replicas: number;
  /** Submission order (ms, then id breaks ties): FIFO within a priority. */
  queuedAt: number;
  /** Not admitted before this time (retry backoff), if set. */
  notBefore?: number;
  expectedRuntimeS?: number;
}

export interface Snapshot {
  now: number;
  pools: PoolState[];
  queues: Record<string, QueuePolicy>;
  /** Per-tenant quotas; tenants without an entry use `defaultQuota`. */
  quotas: Record<string, TenantQuota>;
  defaultQuota: TenantQuota;
  admitted: AdmittedJob[];
  /** The waiting jobs, in any order. */
  queued: QueuedJob[];
  /**
   * The same jobs grouped by the caller (a QueueIndex it keeps up to date): when set, the cycle uses
   * it instead of `queued` (leave that empty) and builds its order in O(pairs) rather than O(jobs).
   * The decisions are the same either way.
   */
  queuedPairs?: readonly QueuedPair[];
}

export interface Admission {
  id: string;
  pool: string;
}

export interface Preemption {
  /** The admitted job to evict (it goes back to the queue with reason Preempted). */
  id: string;
  /** The job it makes room for. */
  for: string;
}

export interface WaitReason {
  id: string;
  /** 1-based position among waiting jobs in the same queue, in the order the cycle considered them. */
  position: number;
  /** Machine-readable cause. */
  reason: 'Quota' | 'Capacity' | 'MaxConcurrency' | 'PoolLimit' | 'Backoff' | 'Gang' | 'Fairness' | 'NoQueue';
  /** A sentence for humans: "needs 4 GPUs in pool gpu, 2 free; 3 jobs ahead; estimated start in 12 min". */
  message: string;
  /** Estimated start (ms) when it can be estimated from running jobs' expected ends. */
  etaMs?: number;
  /**
   * Set when the job can never be admitted as things stand: bigger than its tenant's quota, or than
   * every allowed pool (total, largest node, GPU cap). The submit path refuses such jobs; the cycle
   * still says why for any that got into the queue.
   */
  neverFits?: boolean;
}

/** Tuning of one run of the cycle; every field is optional and the defaults suit the controller. */
export interface ScheduleOptions {
  /**
   * Admit at most this many jobs in this cycle (default: no limit). Jobs left unconsidered wait with
   * reason 'Capacity' and say so; the caller runs the cycle again after applying the admissions.
   */
  maxAdmissions?: number;
  /**
   * A job that has waited this long (ms since queuedAt) and is blocked only by pool room holds that
   * room: jobs after it in the cycle's order may not use it (default 15 min; Infinity turns it off).
   * One aged job per pool per cycle. This is what keeps a big job from starving behind small ones.
   */
  reserveAfterMs?: number;
  /**
   * Explain every waiting job (default true). With false, `waiting` is left empty and the cycle stops
   * as soon as nothing more can be admitted or preempted; admissions and preemptions are exactly
   * those of the full cycle. For event-driven cycles at scale, with a full cycle now and then for the
   * positions and reasons users see (Kueue's split between admission and pending-workloads views).
   */
  explain?: boolean;
}

export interface Decisions {
  admissions: Admission[];
  preemptions: Preemption[];
  waiting: WaitReason[];
}
