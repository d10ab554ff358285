/**
 * The one builder of the batch/v1 Job that runs an attempt of a Runway job, for every cluster adapter.
 * Requests equal limits for cpu and memory (Guaranteed QoS: what was priced is what is reserved);
 * nvidia.com/gpu is a limit only when GPUs are asked for (Kubernetes copies it to requests).
 */
import { costAnnotations, type CostEstimate } from './cost.js';
import { attemptJobName } from './ids.js';
import { deepFreeze, immutableKubeObject } from './immutable.js';
import { ShapeMemo } from './shape-memo.js';
import type { JobSpec } from './job-spec.js';
import { GPU_RESOURCE, type K8sJob, type OwnerReference, type ResourceList } from './k8s.js';
import type { LABEL_ATTEMPT, LABEL_JOB_ID, LABEL_QUEUE, LABEL_TENANT } from './k8s.js';

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
// a hidden class of its own, so adding a key to it or freezing it (manifests are frozen, see
// core/immutable.ts) costs microseconds instead of nanoseconds. For the same reason the label keys
// are written out rather than computed (`[LABEL_TENANT]: ...`), which V8 builds key by key at run time;
// `satisfies` checks at compile time that they are exactly the constants' values.
function runwayLabelsOf(input: ManifestInput, attempt: string): Record<string, string> {
  return {
    'runway.dev/tenant': input.spec.tenant_id,
    'runway.dev/job-id': input.jobId,
    'runway.dev/attempt': attempt,
    'runway.dev/queue': input.spec.queue,
  } satisfies Record<typeof LABEL_TENANT | typeof LABEL_JOB_ID | typeof LABEL_ATTEMPT | typeof LABEL_QUEUE, string>;
}

const NO_ANNOTATIONS: Readonly<Record<string, string>> = Object.freeze({});

type PodSpec = K8sJob['spec']['template']['spec'];
type JobContainer = PodSpec['containers'][number];

function containerOf(spec: JobSpec): JobContainer {
  const cpu = cpuQuantity(spec.cpu);
  const memory = memoryQuantity(spec.memory_mb);
  const requests: ResourceList = { cpu, memory };
  const limits: ResourceList = spec.gpu_count > 0 ? { cpu, memory, [GPU_RESOURCE]: String(spec.gpu_count) } : { cpu, memory };
  const container: JobContainer = { name: 'main', image: spec.image, resources: { requests, limits } };
  if (spec.command) container.command = spec.command;
  if (spec.args) container.args = spec.args;
  if (spec.env) container.env = Object.entries(spec.env).map(([name, value]) => ({ name, value }));
  return container;
}

/**
 * Frozen container lists by job shape (image and resources; jobs with a command, args or env are not
 * shared). Most jobs of a cluster come in a few shapes: sharing one immutable list saves each stored
 * Job (and its pods, which the embedded cluster builds from it) ~400 bytes and a few allocations, and
 * lets whatever parses the list (the sim's placement) do it once per shape.
 */
const sharedContainers = new ShapeMemo<readonly JobContainer[], JobSpec>(1024, (spec) => deepFreeze([containerOf(spec)]));

function containersOf(spec: JobSpec): JobContainer[] {
  if (spec.command || spec.args || spec.env) return [containerOf(spec)];
  // The spec's cpu is whole millicores (validation rounds it), so its millicores are an exact key.
  // K8sJob's type is mutable; the list is frozen, like the rest of the manifest.
  return sharedContainers.get(spec.image, Math.round(spec.cpu * 1000), spec.memory_mb, spec.gpu_count, spec) as JobContainer[];
}

/**
 * The Job manifest, immutable (core/immutable.ts): built frozen from the inside out, so that neither
 * this nor the cluster adapter walks it again, and shared as it is by whatever stores it.
 */
export function buildJobManifest(input: ManifestInput): K8sJob {
  const { spec } = input;
  const attempt = String(input.attempt);
  // The Job's labels and its pods' are the same object unless the spec adds labels.
  const runwayLabels = Object.freeze(runwayLabelsOf(input, attempt));
  const name = attemptJobName(input.jobId, input.attempt);
  const annotations = costAnnotations(input.estimate);
  let metadata: K8sJob['metadata'];
  if (input.owner) {
    // Not `{ ...owner, controller: true }`: in V8 a spread followed by new keys builds a new hidden
    // class for every object, which costs microseconds on every submission.
    const { apiVersion, kind, name: ownerName, uid } = input.owner;
    const owner = Object.freeze({ apiVersion, kind, name: ownerName, uid, controller: true, blockOwnerDeletion: true });
    metadata = { name, namespace: input.namespace, labels: runwayLabels, annotations, ownerReferences: Object.freeze([owner]) as OwnerReference[] };
  } else {
    metadata = { name, namespace: input.namespace, labels: runwayLabels, annotations };
  }
  return immutableKubeObject<K8sJob>(
    'batch/v1',
    'Job',
    Object.freeze(metadata),
    Object.freeze({
      backoffLimit: input.backoffLimit,
      activeDeadlineSeconds: spec.timeout_s,
      parallelism: spec.replicas,
      completions: spec.replicas,
      template: Object.freeze({
        metadata: Object.freeze({
          labels: spec.labels ? Object.freeze({ ...spec.labels, ...runwayLabels }) : runwayLabels,
          annotations: spec.annotations ? Object.freeze({ ...spec.annotations }) : NO_ANNOTATIONS,
        }),
        spec: podSpecOf(input),
      }),
    }),
  );
}

function podSpecOf(input: ManifestInput): PodSpec {
  const { spec } = input;
  const podSpec: PodSpec = { restartPolicy: 'Never', containers: containersOf(spec) };
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
  // Its containers are frozen already; this freezes the selector and tolerations, when there are some.
  return deepFreeze(podSpec);
}
