/**
 * The few Kubernetes object shapes Runway reads and writes, as plain data. Both cluster adapters
 * produce exactly these shapes (the simulated cluster fills them the way Kubernetes does), so one
 * status mapping and one manifest builder serve both.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  /** Bumped by the API server on every change of spec (custom resources with a status subresource). */
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ResourceList {
  cpu?: string;
  memory?: string;
  'nvidia.com/gpu'?: string;
  pods?: string;
  [name: string]: string | undefined;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value: string }>;
  resources: { requests?: ResourceList; limits?: ResourceList };
}

export interface PodTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    restartPolicy: 'Never' | 'OnFailure';
    containers: Container[];
    priorityClassName?: string;
    nodeSelector?: Record<string, string>;
    tolerations?: Array<Record<string, string>>;
  };
}

export interface JobCondition {
  type: 'Complete' | 'Failed' | 'Suspended';
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface K8sJob {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: ObjectMeta;
  spec: {
    backoffLimit: number;
    activeDeadlineSeconds: number;
    parallelism: number;
    completions: number;
    ttlSecondsAfterFinished?: number;
    template: PodTemplate;
  };
  status?: {
    active?: number;
    succeeded?: number;
    failed?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: JobCondition[];
  };
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { reason?: string; exitCode: number; message?: string; startedAt?: string; finishedAt?: string };
}

export interface K8sPod {
  metadata: ObjectMeta;
  spec: { nodeName?: string; containers: Container[] };
  status?: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    reason?: string;
    message?: string;
    startTime?: string;
    /** kube-scheduler explains an unschedulable pod in the PodScheduled condition. */
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ name: string; state?: ContainerState; restartCount?: number }>;
  };
}

export interface K8sNode {
  metadata: ObjectMeta;
  spec?: { unschedulable?: boolean; taints?: Array<{ key: string; value?: string; effect: string }> };
  status?: {
    capacity?: ResourceList;
    allocatable?: ResourceList;
    conditions?: Array<{ type: string; status: string }>;
  };
}

/** Labels Runway puts on everything it creates. */
export const LABEL_TENANT = 'runway.dev/tenant';
export const LABEL_JOB_ID = 'runway.dev/job-id';
export const LABEL_ATTEMPT = 'runway.dev/attempt';
export const LABEL_QUEUE = 'runway.dev/queue';
/** On AIJobs of queued queues: a job without a status is QUEUED, not PENDING (no Job exists yet). */
export const LABEL_ADMISSION = 'runway.dev/admission';
export const ANNOTATION_ESTIMATED_COST = 'runway.dev/estimated-cost';
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** The node label naming a node's pool (set by the Terraform node groups and the simulated cluster). */
export const POOL_LABEL = 'runway.dev/pool';

/** Simulated-workload annotations, read by the embedded cluster and the test kubelet. */
export const SIM_DURATION_S = 'sim.runway.dev/duration-s';
export const SIM_EXIT_CODE = 'sim.runway.dev/exit-code';
export const SIM_OOM = 'sim.runway.dev/oom';
export const SIM_FAIL_ATTEMPTS = 'sim.runway.dev/fail-attempts';

/** Parses a Kubernetes quantity for cpu into millicores ("2", "500m", "1.5"). */
export function parseCpuMilli(q: string | undefined): number {
  if (!q) return 0;
  if (q.endsWith('m')) return Math.round(Number(q.slice(0, -1)));
  return Math.round(Number(q) * 1000);
}

const MEMORY_UNITS: Record<string, number> = {
  Ki: 1 / 1024,
  Mi: 1,
  Gi: 1024,
  Ti: 1024 * 1024,
  k: 1000 / (1024 * 1024),
  M: 1e6 / (1024 * 1024),
  G: 1e9 / (1024 * 1024),
  T: 1e12 / (1024 * 1024),
};

/** Parses a Kubernetes memory quantity into MiB ("16384Mi", "128Gi", "1073741824"). */
export function parseMemoryMb(q: string | undefined): number {
  if (!q) return 0;
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  if (!m) return 0;
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  if (unit === '') return Math.floor(n / (1024 * 1024));
  const factor = MEMORY_UNITS[unit];
  return factor === undefined ? 0 : Math.floor(n * factor);
}

export function parseCount(q: string | undefined): number {
  if (!q) return 0;
  const n = Number(q);
  return Number.isFinite(n) ? n : 0;
}
