/**
 * The one builder of the batch/v1 Job that runs an attempt of a Runway job, for every cluster adapter.
 * Requests equal limits for cpu and memory (Guaranteed QoS: what was priced is what is reserved);
 * nvidia.com/gpu is a limit only when GPUs are asked for (Kubernetes copies it to requests).
 */
import { costAnnotation, type CostEstimate } from './cost.js';
import { attemptJobName } from './ids.js';
import type { JobSpec } from './job-spec.js';
import {
  ANNOTATION_ESTIMATED_COST,
  GPU_RESOURCE,
  LABEL_ATTEMPT,
  LABEL_JOB_ID,
  LABEL_QUEUE,
  LABEL_TENANT,
  type K8sJob,
  type OwnerReference,
  type ResourceList,
} from './k8s.js';

export interface ManifestInput {
  jobId: string;
  attempt: number;
  spec: JobSpec;
  namespace: string;
  backoffLimit: number;
  estimate: CostEstimate;
  /** The AIJob that owns the Job, so deleting it cleans up (absent only where there is no owner object). */
  owner?: OwnerReference;
  /** Placement for GPU pods: taint keys to tolerate and node labels to require (e.g. on EKS). */
  gpuTolerations?: string[];
  gpuNodeSelector?: Record<string, string>;
  /** The node pool (ComputeCluster) the scheduler admitted the attempt to: its nodeSelector pins the pods there. */
  poolNodeSelector?: Record<string, string>;
  /** The queue's PriorityClass, so that kube-scheduler orders and preempts the pods the same way. */
  priorityClassName?: string;
}

export function cpuQuantity(cores: number): string {
  const milli = Math.round(cores * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

export function memoryQuantity(mb: number): string {
  return `${mb}Mi`;
}

// Objects here are built as literals, not as `{ ...other }` copies: in V8 (Node 20) a spread copy gets
// a hidden class of its own, so adding a key to it or freezing it (the submit path freezes manifests,
// see core/immutable.ts) costs microseconds instead of nanoseconds.
function runwayLabelsOf(input: ManifestInput, attempt: string): Record<string, string> {
  return {
    [LABEL_TENANT]: input.spec.tenant_id,
    [LABEL_JOB_ID]: input.jobId,
    [LABEL_ATTEMPT]: attempt,
    [LABEL_QUEUE]: input.spec.queue,
  };
}

export function buildJobManifest(input: ManifestInput): K8sJob {
  const { spec } = input;
  const attempt = String(input.attempt);
  const runwayLabels = runwayLabelsOf(input, attempt);
  const cpu = cpuQuantity(spec.cpu);
  const memory = memoryQuantity(spec.memory_mb);
  const requests: ResourceList = { cpu, memory };
  const limits: ResourceList = spec.gpu_count > 0 ? { cpu, memory, [GPU_RESOURCE]: String(spec.gpu_count) } : { cpu, memory };

  const container: K8sJob['spec']['template']['spec']['containers'][number] = {
    name: 'main',
    image: spec.image,
    resources: { requests, limits },
  };
  if (spec.command) container.command = spec.command;
  if (spec.args) container.args = spec.args;
  if (spec.env) container.env = Object.entries(spec.env).map(([name, value]) => ({ name, value }));

  const job: K8sJob = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: attemptJobName(input.jobId, input.attempt),
      namespace: input.namespace,
      labels: runwayLabelsOf(input, attempt),
      annotations: { [ANNOTATION_ESTIMATED_COST]: costAnnotation(input.estimate) },
    },
    spec: {
      backoffLimit: input.backoffLimit,
      activeDeadlineSeconds: spec.timeout_s,
      parallelism: spec.replicas,
      completions: spec.replicas,
      template: {
        metadata: {
          labels: { ...(spec.labels ?? {}), ...runwayLabels },
          annotations: { ...(spec.annotations ?? {}) },
        },
        spec: { restartPolicy: 'Never', containers: [container] },
      },
    },
  };
  if (input.owner) {
    // Not `{ ...owner, controller: true }`: in V8 a spread followed by new keys builds a new hidden
    // class for every object, which costs microseconds on every submission.
    const { apiVersion, kind, name, uid } = input.owner;
    job.metadata.ownerReferences = [{ apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true }];
  }
  const podSpec = job.spec.template.spec;
  if (spec.gpu_count > 0) {
    if (input.gpuNodeSelector && Object.keys(input.gpuNodeSelector).length > 0) podSpec.nodeSelector = { ...input.gpuNodeSelector };
    if (input.gpuTolerations && input.gpuTolerations.length > 0) {
      podSpec.tolerations = input.gpuTolerations.map((key) => ({ key, operator: 'Exists', effect: 'NoSchedule' }));
    }
  }
  if (input.poolNodeSelector && Object.keys(input.poolNodeSelector).length > 0) {
    podSpec.nodeSelector = { ...(podSpec.nodeSelector ?? {}), ...input.poolNodeSelector };
  }
  if (input.priorityClassName) podSpec.priorityClassName = input.priorityClassName;
  return job;
}
