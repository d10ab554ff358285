/** Picks the cluster adapter named by RUNWAY_CLUSTER. */
import type { Config } from '../config.js';
import { ScaledClock, SimCluster } from './sim/index.js';
import type { ClusterPort } from './types.js';

export async function createCluster(config: Config): Promise<ClusterPort> {
  switch (config.cluster) {
    case 'sim':
      return new SimCluster({ namespace: config.namespace, clock: new ScaledClock(config.simSpeed) });
    case 'kube': {
      const { createKubeCluster } = await import('./kube/index.js');
      return createKubeCluster(config);
    }
  }
}
