/** Builders for scheduler snapshots, shared by the table-driven and the property tests. */
import type { Resources } from '../../src/core/quota.js';
import type { AdmittedJob, PoolState, QueuePolicy, QueuedJob, Snapshot } from '../../src/scheduler/types.js';

export const MIN = 60_000;
/** 10 minutes in: every queuedAt near 0 is younger than the 15-minute aging threshold. */
export const NOW = 10 * MIN;

/** cores (fractional allowed), MiB, GPUs. */
export function r(cores: number, memoryMb = 1024, gpu = 0): Resources {
  return { cpuMilli: Math.round(cores * 1000), memoryMb, gpu };
}

/** A pool of `nodes` identical empty nodes; pass nodesFree for nodes that already run something. */
export function pool(name: string, node: Resources, nodes: number, extra: Partial<PoolState> = {}): PoolState {
  return {
    name,
    allocatable: { cpuMilli: node.cpuMilli * nodes, memoryMb: node.memoryMb * nodes, gpu: node.gpu * nodes },
    largestNode: { ...node },
    nodesFree: Array.from({ length: nodes }, () => ({ ...node })),
    ...extra,
  };
}

export function queue(name: string, extra: Partial<QueuePolicy> = {}): QueuePolicy {
  return { name, admission: 'queued', priority: 0, preemptionPolicy: 'Never', pools: [], ...extra };
}

export function job(id: string, extra: Partial<QueuedJob> = {}): QueuedJob {
  return { id, tenant: 'a', queue: 'batch', priority: 0, perPod: r(1), replicas: 1, queuedAt: 0, ...extra };
}

export function running(id: string, extra: Partial<AdmittedJob> = {}): AdmittedJob {
  return { id, tenant: 'a', queue: 'batch', pool: 'cpu', priority: 0, perPod: r(1), replicas: 1, admittedAt: 0, ...extra };
}

export function snapshot(extra: Partial<Snapshot> = {}): Snapshot {
  return {
    now: NOW,
    pools: [],
    queues: { batch: queue('batch') },
    quotas: {},
    defaultQuota: {},
    admitted: [],
    queued: [],
    ...extra,
  };
}
