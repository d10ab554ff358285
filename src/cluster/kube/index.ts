/** The real Kubernetes adapter (RUNWAY_CLUSTER=kube). */
export { KubeCluster } from './kube-cluster.js';
export { KubeLeaseStore } from './lease-store.js';
