/** The Job for one attempt of an AIJob, built the same way by the submit path and the controller. */
import type { AIJob } from '../cluster/types.js';
import { RUNWAY_API_VERSION } from '../cluster/types.js';
import type { CostEstimate } from '../core/cost.js';
import type { K8sJob } from '../core/k8s.js';
import { buildJobManifest } from '../core/manifest.js';

export interface AttemptSettings {
  namespace: string;
  backoffLimit: number;
  gpuTolerations: string[];
  gpuNodeSelector: Record<string, string>;
}

export function attemptManifest(settings: AttemptSettings, aijob: AIJob, attempt: number, estimate: CostEstimate): K8sJob {
  return buildJobManifest({
    jobId: aijob.metadata.name,
    attempt,
    spec: aijob.spec,
    namespace: settings.namespace,
    backoffLimit: settings.backoffLimit,
    estimate,
    owner: { apiVersion: RUNWAY_API_VERSION, kind: 'AIJob', name: aijob.metadata.name, uid: aijob.metadata.uid ?? '' },
    gpuTolerations: settings.gpuTolerations,
    gpuNodeSelector: settings.gpuNodeSelector,
  });
}
