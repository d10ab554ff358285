/**
 * The policy objects the embedded cluster starts with, so that `npm start` has queues and node pools
 * to show and schedule on: the v1 `default` queue (direct admission), a `batch` queue (queued
 * admission, at most 100 jobs admitted at once, preempting lower-priority jobs), and one
 * ComputeCluster per node pool, selecting the pool's nodes by their POOL_LABEL.
 */
import { POOL_LABEL } from '../../core/k8s.js';
import { DEFAULT_QUEUE_NAME, POLICY_API_VERSION, type AIJobQueue, type ComputeCluster, type PolicyResource } from '../../core/policy.js';
import { DEFAULT_POOLS, type PoolSpec } from './placement.js';
import { deepFreeze } from './util.js';

/** The seed queues and one ComputeCluster per pool (named after it). */
export function defaultPolicies(pools: readonly PoolSpec[] = DEFAULT_POOLS): PolicyResource[] {
  const queue = (name: string, spec: AIJobQueue['spec']): AIJobQueue => ({ apiVersion: POLICY_API_VERSION, kind: 'AIJobQueue', metadata: { name }, spec });
  const cluster = (pool: PoolSpec): ComputeCluster => ({
    apiVersion: POLICY_API_VERSION,
    kind: 'ComputeCluster',
    metadata: { name: pool.name },
    spec: { nodeSelector: { [POOL_LABEL]: pool.name } },
  });
  return deepFreeze([
    queue(DEFAULT_QUEUE_NAME, { admission: 'direct' }),
    queue('batch', { admission: 'queued', maxConcurrency: 100, preemptionPolicy: 'PreemptLowerPriority' }),
    ...pools.map(cluster),
  ]);
}

/** What the embedded cluster holds at start by default: queues default and batch, ComputeClusters cpu and gpu. */
export const DEFAULT_POLICIES: readonly PolicyResource[] = defaultPolicies();
