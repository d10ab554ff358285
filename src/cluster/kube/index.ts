/** The real Kubernetes adapter (RUNWAY_CLUSTER=kube). */
export { createKubeCluster } from './kube-cluster.js';
