/** Picks the cluster adapter named by RUNWAY_CLUSTER, and leader election where it applies. */
import type { Config } from '../config.js';
import { LeaderElector } from '../controller/leader-election.js';
import { ScaledClock, SimCluster } from './sim/index.js';
import type { ClusterPort } from './types.js';

export const LEASE_NAME = 'runway-leader';

export async function createCluster(config: Config): Promise<{ cluster: ClusterPort; elector?: LeaderElector }> {
  switch (config.cluster) {
    case 'sim':
      return { cluster: new SimCluster({ namespace: config.namespace, clock: new ScaledClock(config.simSpeed) }) };
    case 'kube': {
      const { KubeCluster, KubeLeaseStore } = await import('./kube/index.js');
      const cluster = new KubeCluster(KubeCluster.loadConfig(), { namespace: config.namespace });
      if (config.installCrds) await cluster.installCrds();
      if (!config.leaderElection) return { cluster };
      const store = new KubeLeaseStore(cluster.kubeConfig, config.leaseNamespace, LEASE_NAME);
      return { cluster, elector: new LeaderElector(config.identity, store) };
    }
  }
}
