/**
 * Pure functions behind the cluster-derived metrics: node-pool capacity and allocation, GPUs held by
 * Runway's pods, and the reason of a pod's failure. They read the controller's caches at scrape time
 * and do no I/O.
 *
 * What "allocated" means: the controller caches only Runway's own pods (label runway.dev/job-id), so
 * allocation is what Runway's pods request. DaemonSets, system pods and other workloads on the same
 * nodes are not subtracted: the real free capacity of a shared pool can be lower than reported.
 */
import { GPU_RESOURCE, parseCount, parseCpuMilli, parseMemoryMb, POOL_LABEL, type K8sNode, type K8sPod } from '../core/k8s.js';

/** The pool of nodes without a POOL_LABEL label. */
export const DEFAULT_POOL = 'default';

export interface PoolResources {
  cpuMilli: number;
  memoryMb: number;
  gpu: number;
}

export interface PoolStats {
  /** Sum of the nodes' allocatable (capacity when allocatable is absent), every node, ready or not. */
  capacity: PoolResources;
  /** Sum of the requests of Runway's pods bound to the pool's nodes and not finished. */
  allocated: PoolResources;
}

const zero = (): PoolResources => ({ cpuMilli: 0, memoryMb: 0, gpu: 0 });

export function poolOf(node: K8sNode): string {
  return node.metadata.labels?.[POOL_LABEL] ?? DEFAULT_POOL;
}

/** Succeeded or Failed: the pod holds nothing on its node any more. */
export function isFinished(pod: K8sPod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** What a pod asks for: per container, requests, else limits (Kubernetes copies limits to requests). */
export function podRequests(pod: K8sPod): PoolResources {
  const r = zero();
  for (const c of pod.spec.containers) {
    const req = c.resources.requests ?? {};
    const lim = c.resources.limits ?? {};
    r.cpuMilli += parseCpuMilli(req.cpu ?? lim.cpu);
    r.memoryMb += parseMemoryMb(req.memory ?? lim.memory);
    r.gpu += containerGpus(c);
  }
  return r;
}

/** The GPUs a container asks for: requests, else limits (GPUs are usually given as limits only). */
function containerGpus(c: K8sPod['spec']['containers'][number]): number {
  return parseCount(c.resources.requests?.[GPU_RESOURCE] ?? c.resources.limits?.[GPU_RESOURCE]);
}

/**
 * Capacity and Runway's allocation per pool. A pod counts while it is bound and not finished,
 * including while it terminates (it holds its node's resources until it is gone, as kube-scheduler sees it).
 */
export function poolStats(nodes: Iterable<K8sNode>, pods: Iterable<K8sPod>): Map<string, PoolStats> {
  const out = new Map<string, PoolStats>();
  const poolByNode = new Map<string, PoolStats>();
  for (const node of nodes) {
    const pool = poolOf(node);
    let s = out.get(pool);
    if (!s) out.set(pool, (s = { capacity: zero(), allocated: zero() }));
    poolByNode.set(node.metadata.name, s);
    const alloc = node.status?.allocatable ?? node.status?.capacity ?? {};
    s.capacity.cpuMilli += parseCpuMilli(alloc.cpu);
    s.capacity.memoryMb += parseMemoryMb(alloc.memory);
    s.capacity.gpu += parseCount(alloc[GPU_RESOURCE]);
  }
  for (const pod of pods) {
    const nodeName = pod.spec.nodeName;
    if (!nodeName || isFinished(pod)) continue;
    const s = poolByNode.get(nodeName);
    if (!s) continue; // bound to a node not (yet) in the cache
    const r = podRequests(pod);
    s.allocated.cpuMilli += r.cpuMilli;
    s.allocated.memoryMb += r.memoryMb;
    s.allocated.gpu += r.gpu;
  }
  return out;
}

export interface ClusterGpus {
  /** GPUs of Runway's pods bound to a node, not finished and not being deleted. */
  inUse: number;
  /** GPUs requested by Runway's pods waiting to be scheduled (no node yet), not being deleted. */
  unscheduled: number;
}

/**
 * GPUs of Runway's live pods, counted from the pod cache alone (independently of AIJob statuses and
 * the quota ledger). Pods being deleted are left out: their job is over as far as quota is concerned.
 */
export function clusterGpus(pods: Iterable<K8sPod>): ClusterGpus {
  const out: ClusterGpus = { inUse: 0, unscheduled: 0 };
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    if (holdsRoom(pod)) out.inUse += podGpus(pod);
    else out.unscheduled += unscheduledGpusOf(pod);
  }
  return out;
}

/** Bound to a node and not finished: the pod holds what it requests there (while it terminates, too). */
export function holdsRoom(pod: K8sPod): boolean {
  return !!pod.spec.nodeName && !isFinished(pod);
}

/** The GPUs a live pod waits for while no node has been found for it; 0 for any other pod. */
export function unscheduledGpusOf(pod: K8sPod): number {
  if (pod.spec.nodeName || isFinished(pod) || pod.metadata.deletionTimestamp) return 0;
  return podGpus(pod);
}

/** podRequests(pod).gpu, without parsing the CPU and memory quantities. */
function podGpus(pod: K8sPod): number {
  let gpu = 0;
  for (const c of pod.spec.containers) gpu += containerGpus(c);
  return gpu;
}

const REASON = /^[A-Z][A-Za-z]{0,39}$/;

/**
 * Why the latest failed pod failed, as a bounded label value: `OOMKilled`, `Error` (any other non-zero
 * exit), a pod-level reason such as `Evicted` when no container says more, else `Unknown`.
 */
export function lastFailureReason(pods: readonly K8sPod[]): string {
  let best: { reason: string; at: string } | undefined;
  for (const pod of pods) {
    for (const cs of pod.status?.containerStatuses ?? []) {
      const t = cs.state?.terminated;
      if (!t || t.exitCode === 0) continue;
      const at = t.finishedAt ?? '';
      if (!best || at >= best.at) best = { reason: t.reason === 'OOMKilled' ? 'OOMKilled' : 'Error', at };
    }
  }
  if (best) return best.reason;
  for (const pod of pods) {
    const reason = pod.status?.reason;
    if (pod.status?.phase === 'Failed' && reason && REASON.test(reason)) return reason;
  }
  return 'Unknown';
}
