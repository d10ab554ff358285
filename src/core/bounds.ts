/** Per-job bounds: the static policy every job must fit (422 LIMIT_EXCEEDED naming the bound). */
import { errors } from './errors.js';
import type { JobSpec } from './job-spec.js';

export interface JobBounds {
  maxCpu: number;
  maxMemoryMb: number;
  maxGpu: number;
  maxTimeoutS: number;
  maxReplicas: number;
}

/** Throws LIMIT_EXCEEDED for the first bound the spec exceeds, in the order cpu, memory, gpu, timeout, replicas. */
export function checkBounds(spec: JobSpec, bounds: JobBounds): void {
  const checks: Array<[string, number, number, string]> = [
    ['cpu', spec.cpu, bounds.maxCpu, 'cores'],
    ['memory_mb', spec.memory_mb, bounds.maxMemoryMb, 'MiB'],
    ['gpu_count', spec.gpu_count, bounds.maxGpu, 'GPUs'],
    ['timeout_s', spec.timeout_s, bounds.maxTimeoutS, 's'],
    ['replicas', spec.replicas, bounds.maxReplicas, ''],
  ];
  for (const [bound, requested, limit, unit] of checks) {
    if (requested > limit) throw errors.limitExceeded(bound, requested, limit, unit);
  }
}
