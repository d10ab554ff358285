/** The Job for one attempt of an AIJob, built the same way by the submit path and the controller. */
import type { AIJob } from '../cluster/types.js';
import { RUNWAY_API_VERSION } from '../cluster/types.js';
import type { CostEstimate } from '../core/cost.js';
import type { K8sJob } from '../core/k8s.js';
import { buildJobManifest, type ManifestInput } from '../core/manifest.js';

export interface AttemptSettings {
  namespace: string;
  backoffLimit: number;
  gpuTolerations: string[];
  gpuNodeSelector: Record<string, string>;
}

/** Where and how an admitted attempt runs (the scheduler's pool, the queue's settings). */
export interface Placement {
  poolNodeSelector?: Record<string, string> | undefined;
  priorityClassName?: string | undefined;
  /** Overrides the configured backoffLimit (queued queues: 0, Runway retries instead). */
  backoffLimit?: number | undefined;
}

export function attemptManifest(
  settings: AttemptSettings,
  aijob: AIJob,
  attempt: number,
  estimate: CostEstimate,
  placement: Placement = {},
): K8sJob {
  const input: ManifestInput = {
    jobId: aijob.metadata.name,
    attempt,
    spec: aijob.spec,
    namespace: settings.namespace,
    backoffLimit: placement.backoffLimit ?? settings.backoffLimit,
    estimate,
    owner: { apiVersion: RUNWAY_API_VERSION, kind: 'AIJob', name: aijob.metadata.name, uid: aijob.metadata.uid ?? '' },
    gpuTolerations: settings.gpuTolerations,
    gpuNodeSelector: settings.gpuNodeSelector,
  };
  if (placement.poolNodeSelector) input.poolNodeSelector = placement.poolNodeSelector;
  if (placement.priorityClassName) input.priorityClassName = placement.priorityClassName;
  return buildJobManifest(input);
}
