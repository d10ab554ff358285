/** Placeholder until the adapter lands: selecting kube fails at start with a clear message. */
import type { Config } from '../../config.js';
import type { ClusterPort } from '../types.js';

export function createKubeCluster(_config: Config): ClusterPort {
  throw new Error('RUNWAY_CLUSTER=kube is not available in this build yet; use RUNWAY_CLUSTER=sim');
}
