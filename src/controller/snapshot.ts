/**
 * What the scheduling cycle sees, built from the controller's caches: node pools from Nodes and
 * ComputeClusters, jobs from AIJobs. Pure functions; the scheduling loop calls them before each cycle.
 *
 * A pool is a ComputeCluster: the Ready, schedulable nodes its nodeSelector matches, its capacity caps,
 * and per node what is still free after the requests of Runway's bound, unfinished pods (terminating
 * ones included: they hold their node until they are gone). With no ComputeCluster defined, every
 * node forms one pool, `default`. Other workloads on the nodes are not subtracted (Runway watches its
 * own pods only), as in the pool metrics.
 */
import type { AIJob } from '../cluster/types.js';
import { GPU_RESOURCE, parseCount, parseCpuMilli, parseMemoryMb, type K8sNode, type K8sPod } from '../core/k8s.js';
import type { JobSpec } from '../core/job-spec.js';
import type { ComputeCluster, ResolvedQueue } from '../core/policy.js';
import type { Resources } from '../core/quota.js';
import { isFinished, podRequests } from '../observability/cluster-gauges.js';
import type { AdmittedJob, PoolState, QueuePolicy, QueuedJob } from '../scheduler/types.js';

export const IMPLICIT_POOL = 'default';

export interface Pool {
  state: PoolState;
  nodeSelector: Record<string, string>;
  /** Names of the pool's nodes (Ready and schedulable). */
  nodes: string[];
}

function isSchedulable(node: K8sNode): boolean {
  if (node.spec?.unschedulable) return false;
  if (node.metadata.deletionTimestamp) return false;
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function matches(node: K8sNode, selector: Record<string, string>): boolean {
  const labels = node.metadata.labels ?? {};
  for (const key in selector) if (labels[key] !== selector[key]) return false;
  return true;
}

function allocatableOf(node: K8sNode): Resources {
  const a = node.status?.allocatable ?? node.status?.capacity ?? {};
  return { cpuMilli: parseCpuMilli(a.cpu), memoryMb: parseMemoryMb(a.memory), gpu: parseCount(a[GPU_RESOURCE]) };
}

/**
 * Free room per node: allocatable less what Runway's bound, unfinished pods request; and per node
 * the part of that used room held by pods `isReleasing` says are on their way out.
 */
function roomByNode(
  nodes: Iterable<K8sNode>,
  pods: Iterable<K8sPod>,
  isReleasing: (pod: K8sPod) => boolean,
): { free: Map<string, Resources>; releasing: Map<string, Resources> } {
  const free = new Map<string, Resources>();
  const releasing = new Map<string, Resources>();
  for (const node of nodes) free.set(node.metadata.name, allocatableOf(node));
  for (const pod of pods) {
    const name = pod.spec.nodeName;
    if (!name || isFinished(pod)) continue;
    const f = free.get(name);
    if (!f) continue;
    const r = podRequests(pod);
    f.cpuMilli -= r.cpuMilli;
    f.memoryMb -= r.memoryMb;
    f.gpu -= r.gpu;
    if (isReleasing(pod)) {
      const rel = releasing.get(name) ?? { cpuMilli: 0, memoryMb: 0, gpu: 0 };
      rel.cpuMilli += r.cpuMilli;
      rel.memoryMb += r.memoryMb;
      rel.gpu += r.gpu;
      releasing.set(name, rel);
    }
  }
  return { free, releasing };
}

/**
 * The pools of the snapshot. `isReleasing` names the pods of jobs that no longer hold their room
 * (preempted or cancelled, or an attempt that is over), still on their nodes while Kubernetes
 * removes them: their room is counted as used, and as PoolState.releasing.
 */
export function buildPools(
  nodes: readonly K8sNode[],
  pods: Iterable<K8sPod>,
  clusters: readonly ComputeCluster[],
  isReleasing: (pod: K8sPod) => boolean = () => false,
): Pool[] {
  const { free, releasing: releasingByNode } = roomByNode(nodes, pods, isReleasing);
  const defs =
    clusters.length > 0
      ? clusters.map((c) => ({ name: c.metadata.name, selector: c.spec.nodeSelector ?? {}, capacity: c.spec.capacity }))
      : [{ name: IMPLICIT_POOL, selector: {}, capacity: undefined }];
  return defs
    .slice()
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((def) => {
      const allocatable: Resources = { cpuMilli: 0, memoryMb: 0, gpu: 0 };
      const largestNode: Resources = { cpuMilli: 0, memoryMb: 0, gpu: 0 };
      const nodesFree: Resources[] = [];
      const releasing: Resources = { cpuMilli: 0, memoryMb: 0, gpu: 0 };
      const names: string[] = [];
      for (const node of nodes) {
        if (!isSchedulable(node) || !matches(node, def.selector)) continue;
        const a = allocatableOf(node);
        allocatable.cpuMilli += a.cpuMilli;
        allocatable.memoryMb += a.memoryMb;
        allocatable.gpu += a.gpu;
        largestNode.cpuMilli = Math.max(largestNode.cpuMilli, a.cpuMilli);
        largestNode.memoryMb = Math.max(largestNode.memoryMb, a.memoryMb);
        largestNode.gpu = Math.max(largestNode.gpu, a.gpu);
        const f = free.get(node.metadata.name) ?? a;
        nodesFree.push({ cpuMilli: Math.max(0, f.cpuMilli), memoryMb: Math.max(0, f.memoryMb), gpu: Math.max(0, f.gpu) });
        const rel = releasingByNode.get(node.metadata.name);
        if (rel) {
          releasing.cpuMilli += rel.cpuMilli;
          releasing.memoryMb += rel.memoryMb;
          releasing.gpu += rel.gpu;
        }
        names.push(node.metadata.name);
      }
      const cap = def.capacity;
      if (cap?.maxCPU !== undefined) allocatable.cpuMilli = Math.min(allocatable.cpuMilli, Math.round(cap.maxCPU * 1000));
      if (cap?.maxMemoryMb !== undefined) allocatable.memoryMb = Math.min(allocatable.memoryMb, cap.maxMemoryMb);
      const state: PoolState = { name: def.name, allocatable, largestNode, nodesFree };
      if (cap?.maxJobs !== undefined) state.maxJobs = cap.maxJobs;
      if (cap?.maxGPUs !== undefined) state.maxGpus = cap.maxGPUs;
      if (releasing.cpuMilli > 0 || releasing.memoryMb > 0 || releasing.gpu > 0) state.releasing = releasing;
      return { state, nodeSelector: def.selector, nodes: names };
    });
}

export function queuePolicyOf(q: ResolvedQueue): QueuePolicy {
  const policy: QueuePolicy = {
    name: q.name,
    admission: q.admission,
    priority: q.priority,
    preemptionPolicy: q.preemptionPolicy,
    pools: q.clusters,
  };
  if (q.maxConcurrency !== undefined) policy.maxConcurrency = q.maxConcurrency;
  return policy;
}

/** One pod's request (a gang asks for `replicas` of these at once). */
export function perPodOf(spec: JobSpec): Resources {
  return { cpuMilli: Math.round(spec.cpu * 1000), memoryMb: spec.memory_mb, gpu: spec.gpu_count };
}

function ms(iso: string | undefined, fallback: number): number {
  if (!iso) return fallback;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : fallback;
}

/** The pool an admitted job uses: the one the scheduler chose, else that of a node its pods run on, else the first that could hold it. */
export function poolOfAdmitted(job: AIJob, pods: readonly K8sPod[], pools: readonly Pool[], poolOfNode: ReadonlyMap<string, string> = nodePools(pools)): string {
  if (job.status?.pool && pools.some((p) => p.state.name === job.status?.pool)) return job.status.pool;
  for (const pod of pods) {
    const node = pod.spec.nodeName;
    const pool = node === undefined ? undefined : poolOfNode.get(node);
    if (pool !== undefined) return pool;
  }
  const gpu = job.spec.gpu_count > 0;
  const candidate = pools.find((p) => (p.state.allocatable.gpu > 0) === gpu) ?? pools[0];
  return candidate?.state.name ?? IMPLICIT_POOL;
}

/** Each node's pool, for looking up many pods (poolOfAdmitted). */
export function nodePools(pools: readonly Pool[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of pools) for (const node of p.nodes) if (!out.has(node)) out.set(node, p.state.name);
  return out;
}

export function admittedJobOf(job: AIJob, queue: ResolvedQueue | undefined, pool: string, nowMs: number): AdmittedJob {
  const admittedAt = ms(job.status?.admittedAt, ms(job.metadata.creationTimestamp, nowMs));
  const out: AdmittedJob = {
    id: job.metadata.name,
    tenant: job.spec.tenant_id,
    queue: job.spec.queue,
    pool,
    priority: (queue?.priority ?? 0) + job.spec.priority,
    perPod: perPodOf(job.spec),
    replicas: job.spec.replicas,
    admittedAt,
  };
  // ETAs: the expected run time when the user gave one, else the timeout (an upper bound), from its start.
  const started = ms(job.status?.startTime, admittedAt);
  out.expectedEndAt = started + (job.spec.expected_runtime_s ?? job.spec.timeout_s) * 1000;
  return out;
}

export function queuedJobOf(job: AIJob, nowMs: number): QueuedJob {
  const out: QueuedJob = {
    id: job.metadata.name,
    tenant: job.spec.tenant_id,
    queue: job.spec.queue,
    priority: job.spec.priority,
    perPod: perPodOf(job.spec),
    replicas: job.spec.replicas,
    queuedAt: ms(job.metadata.creationTimestamp, nowMs),
  };
  const next = job.status?.phase === 'RETRYING' ? job.status.nextAttemptAt : undefined;
  if (next) out.notBefore = ms(next, nowMs);
  out.expectedRuntimeS = job.spec.expected_runtime_s ?? job.spec.timeout_s;
  return out;
}
