/** The embedded simulated cluster: the zero-setup default ClusterPort adapter and its clocks. */
export { ManualClock, ScaledClock, type SimClock } from './clock.js';
export { DEFAULT_DURATION_S, OOM_EXIT_CODE, outcomeFor, parseWorkload, type Outcome, type Workload } from './kubelet.js';
export { POOL_LABEL } from '../../core/k8s.js';
export { DEFAULT_POOLS, MAX_PODS_PER_NODE, placePod, type PoolSpec, type Resources } from './placement.js';
export { DEFAULT_POLICIES, defaultPolicies } from './policies.js';
export {
  JOB_BACKOFF_BASE_MS,
  JOB_BACKOFF_MAX_MS,
  SimCluster,
  type PoolUsage,
  type SimClusterOptions,
  type SimOp,
} from './sim-cluster.js';
