/**
 * The cluster port: everything Runway does to or learns from a cluster goes through this interface.
 * Two adapters implement it: `sim` (the embedded simulated cluster) and `kube` (a real API server).
 * Objects cross it in Kubernetes shapes (core/k8s.ts), so the controller cannot tell them apart.
 */
import type { JobSpec } from '../core/job-spec.js';
import type { K8sJob, K8sNode, K8sPod, ObjectMeta } from '../core/k8s.js';
import type { AIJobQueue, ComputeCluster, PolicyKind, PolicyResource, TenantPolicy } from '../core/policy.js';
import type { AIJobStatus } from '../core/status.js';

export const RUNWAY_API_VERSION = 'runway.dev/v1alpha1';

/** A Runway job as stored in the cluster: the AIJob custom resource (or its in-memory twin). */
export interface AIJob {
  apiVersion: typeof RUNWAY_API_VERSION;
  kind: 'AIJob';
  metadata: ObjectMeta;
  spec: JobSpec;
  status?: AIJobStatus;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export type ClusterEvent =
  | { kind: 'AIJob'; type: WatchEventType; object: AIJob }
  | { kind: 'Job'; type: WatchEventType; object: K8sJob }
  | { kind: 'Pod'; type: WatchEventType; object: K8sPod }
  | { kind: 'Node'; type: WatchEventType; object: K8sNode }
  // Policy resources (cluster-scoped): queues, node pools, tenant guardrails.
  | { kind: 'AIJobQueue'; type: WatchEventType; object: AIJobQueue }
  | { kind: 'ComputeCluster'; type: WatchEventType; object: ComputeCluster }
  | { kind: 'TenantPolicy'; type: WatchEventType; object: TenantPolicy };

export interface ClusterWatcher {
  /** Called for every object on the initial list (as ADDED), then for every change. */
  onEvent(event: ClusterEvent): void;
  /** Called once the initial list of every kind has been delivered. */
  onSynced(): void;
  /** Called when a watch breaks; the adapter re-lists and resumes by itself. */
  onError?(err: Error): void;
}

export type ClusterErrorKind = 'Unavailable' | 'AlreadyExists' | 'NotFound' | 'Conflict' | 'Invalid' | 'Forbidden';

/** What an adapter throws. `Unavailable` covers unreachable, timing out and 5xx API servers. */
export class ClusterError extends Error {
  override readonly name = 'ClusterError';
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export function isClusterError(err: unknown, kind?: ClusterErrorKind): err is ClusterError {
  return err instanceof ClusterError && (kind === undefined || err.kind === kind);
}

export interface ClusterPort {
  /** "sim" or "kube", for logs and /readyz. */
  readonly name: string;
  /** The namespace AIJobs and Jobs live in. */
  readonly namespace: string;

  /** The cluster's clock in ms since the epoch: virtual in the simulated cluster. */
  now(): number;
  /** Runs fn when the cluster's clock reaches atMs; returns a cancel function. */
  setTimer(atMs: number, fn: () => void): () => void;

  /** Creates the AIJob; returns it with uid, resourceVersion and creationTimestamp set. */
  createAIJob(job: AIJob): Promise<AIJob>;
  /**
   * Replaces the status (status subresource); returns the stored object. With `resourceVersion`, only
   * if the stored object is still that version (else ClusterError 'Conflict'): writers that decide from
   * what they read (admission, preemption, cancel, retry, reconcile) never overwrite a newer decision.
   */
  updateAIJobStatus(name: string, status: AIJobStatus, resourceVersion?: string): Promise<AIJob>;
  deleteAIJob(name: string): Promise<void>;

  /** Creates a batch/v1 Job; an existing Job of the same name is not an error ("exists"). */
  createJob(job: K8sJob): Promise<'created' | 'exists'>;
  /** Deletes a Job and, in the background, its pods. A missing Job is not an error. */
  deleteJob(name: string): Promise<void>;

  /**
   * Creates the policy object (AIJobQueue, ComputeCluster, TenantPolicy: cluster-scoped), or replaces
   * the spec — and the labels and annotations, when given — of the existing one of that kind and name.
   * Returns the stored object (uid, resourceVersion, generation, creationTimestamp set). An update that
   * changes nothing leaves the object as it is.
   */
  putPolicy(obj: PolicyResource): Promise<PolicyResource>;
  /** Deletes a policy object; false when there was none of that kind and name. */
  deletePolicy(kind: PolicyKind, name: string): Promise<boolean>;
  /**
   * Replaces the status (status subresource) of a policy object; returns the stored object. Its spec,
   * labels and annotations are untouched. With `resourceVersion`, only if the stored object is still
   * that version (else ClusterError 'Conflict'); a missing object is ClusterError 'NotFound'. A status
   * equal to the stored one changes nothing (no new resourceVersion, no watch event).
   */
  updatePolicyStatus(kind: PolicyKind, name: string, status: Record<string, unknown>, resourceVersion?: string): Promise<PolicyResource>;

  /**
   * Lists and watches AIJobs, Jobs, Pods (Runway's, by label), Nodes and the policy kinds; returns a
   * stop function. Policies are delivered before AIJobs on the initial list.
   */
  watch(watcher: ClusterWatcher): Promise<() => void>;
  /** Resolves when the cluster API answers; rejects with ClusterError otherwise. */
  ping(): Promise<void>;
  /** The last lines of a pod's log for a job attempt. */
  readLogs(jobName: string, tailLines: number): Promise<string>;
  /** Stops timers and connections. */
  close(): Promise<void>;
}
