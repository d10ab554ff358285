/**
 * Nodes, pools and placement for the simulated cluster: what kube-scheduler's filters and a
 * bin-packing score would decide for one pod, and the "0/6 nodes are available: ..." message it
 * gives when nothing fits. Pure functions over node state; the cluster owns the mutations.
 */
import { GPU_RESOURCE, parseCount, parseCpuMilli, parseMemoryMb, POOL_LABEL, type Container, type K8sNode } from '../../core/k8s.js';

/** A homogeneous group of nodes. Nodes are named `<name>-1`, `<name>-2`, ... */
export interface PoolSpec {
  name: string;
  nodes: number;
  /** Cores per node. */
  cpu: number;
  /** GiB of memory per node. */
  memoryGi: number;
  /** nvidia.com/gpu per node (default 0). */
  gpu?: number;
}

export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
export const MAX_PODS_PER_NODE = 110;

export const DEFAULT_POOLS: readonly PoolSpec[] = Object.freeze([
  Object.freeze({ name: 'cpu', nodes: 4, cpu: 32, memoryGi: 128, gpu: 0 }),
  Object.freeze({ name: 'gpu', nodes: 2, cpu: 64, memoryGi: 512, gpu: 8 }),
]);

export interface Resources {
  cpuMilli: number;
  memoryMb: number;
  gpu: number;
}

export interface NodeState {
  node: K8sNode;
  name: string;
  pool: string;
  /** Position in the node list: the last tie-breaker, so placement is deterministic. */
  order: number;
  ready: boolean;
  capacity: Resources & { pods: number };
  allocated: Resources & { pods: number };
}

export function makeNode(name: string, pool: PoolSpec): K8sNode {
  const gpu = pool.gpu ?? 0;
  const capacity: Record<string, string> = { cpu: String(pool.cpu), memory: `${pool.memoryGi}Gi`, pods: String(MAX_PODS_PER_NODE) };
  if (gpu > 0) capacity[GPU_RESOURCE] = String(gpu);
  return {
    metadata: { name, labels: { [POOL_LABEL]: pool.name, [HOSTNAME_LABEL]: name } },
    spec: {},
    status: {
      capacity: { ...capacity },
      allocatable: { ...capacity },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

export function nodeState(node: K8sNode, order: number): NodeState {
  const alloc = node.status?.allocatable ?? node.status?.capacity ?? {};
  return {
    node,
    name: node.metadata.name,
    pool: node.metadata.labels?.[POOL_LABEL] ?? 'default',
    order,
    ready: isReady(node),
    capacity: {
      cpuMilli: parseCpuMilli(alloc.cpu),
      memoryMb: parseMemoryMb(alloc.memory),
      gpu: parseCount(alloc[GPU_RESOURCE]),
      pods: alloc.pods === undefined ? MAX_PODS_PER_NODE : parseCount(alloc.pods),
    },
    allocated: { cpuMilli: 0, memoryMb: 0, gpu: 0, pods: 0 },
  };
}

export function isReady(node: K8sNode): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** What a pod reserves: requests (limits where a request is absent, as the API server defaults it). */
export function podRequests(containers: readonly Container[]): Resources {
  const r: Resources = { cpuMilli: 0, memoryMb: 0, gpu: 0 };
  for (const c of containers) {
    const req = c.resources.requests ?? {};
    const lim = c.resources.limits ?? {};
    r.cpuMilli += safe(parseCpuMilli(req.cpu ?? lim.cpu));
    r.memoryMb += safe(parseMemoryMb(req.memory ?? lim.memory));
    r.gpu += safe(parseCount(lim[GPU_RESOURCE] ?? req[GPU_RESOURCE]));
  }
  return r;
}

function safe(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Why a node cannot take the pod, in kube-scheduler's words; empty when it fits. */
export function filterReasons(ns: NodeState, req: Resources, selector: Record<string, string> | undefined): string[] {
  if (!ns.ready) return ['node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn\'t tolerate'];
  if (ns.node.spec?.unschedulable) return ['node(s) were unschedulable'];
  if (selector) {
    const labels = ns.node.metadata.labels ?? {};
    for (const [k, v] of Object.entries(selector)) {
      if (labels[k] !== v) return ["node(s) didn't match node selector"];
    }
  }
  const out: string[] = [];
  const free = freeOf(ns);
  if (free.pods < 1) out.push('Too many pods');
  if (req.cpuMilli > free.cpuMilli) out.push('Insufficient cpu');
  if (req.memoryMb > free.memoryMb) out.push('Insufficient memory');
  if (req.gpu > free.gpu) out.push(`Insufficient ${GPU_RESOURCE}`);
  return out;
}

export function freeOf(ns: NodeState): Resources & { pods: number } {
  return {
    cpuMilli: ns.capacity.cpuMilli - ns.allocated.cpuMilli,
    memoryMb: ns.capacity.memoryMb - ns.allocated.memoryMb,
    gpu: ns.capacity.gpu - ns.allocated.gpu,
    pods: ns.capacity.pods - ns.allocated.pods,
  };
}

export type Placement = { node: NodeState; message?: undefined } | { node?: undefined; message: string };

/**
 * Picks a node for a pod. GPU pods go to the GPU node they fill best. CPU-only pods keep off GPU
 * nodes while a CPU node has room (GPUs are the scarce resource), best fit by remaining cpu.
 */
export function placePod(nodes: Iterable<NodeState>, req: Resources, selector?: Record<string, string>): Placement {
  let best: NodeState | undefined;
  let bestKey: number[] = [];
  let total = 0;
  const counts = new Map<string, number>();
  for (const ns of nodes) {
    total++;
    const reasons = filterReasons(ns, req, selector);
    if (reasons.length > 0) {
      for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
      continue;
    }
    const free = freeOf(ns);
    const key =
      req.gpu > 0
        ? [free.gpu - req.gpu, free.cpuMilli - req.cpuMilli, free.memoryMb - req.memoryMb, ns.order]
        : [ns.capacity.gpu > 0 ? 1 : 0, free.cpuMilli - req.cpuMilli, free.memoryMb - req.memoryMb, ns.order];
    if (!best || lessKey(key, bestKey)) {
      best = ns;
      bestKey = key;
    }
  }
  if (best) return { node: best };
  return { message: unschedulableMessage(total, counts) };
}

function lessKey(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y;
  }
  return false;
}

/** kube-scheduler's FitError message: "0/6 nodes are available: 2 Insufficient nvidia.com/gpu, 4 ...". */
export function unschedulableMessage(totalNodes: number, counts: Map<string, number>): string {
  if (totalNodes === 0) return 'no nodes available to schedule pods';
  const parts = [...counts].map(([reason, n]) => `${n} ${reason}`).sort();
  return `0/${totalNodes} nodes are available: ${parts.join(', ')}.`;
}
