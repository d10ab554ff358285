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
  // Plain comparisons (no table of tuples): this runs on every submission.
  if (spec.cpu > bounds.maxCpu) throw errors.limitExceeded('cpu', spec.cpu, bounds.maxCpu, 'cores');
  if (spec.memory_mb > bounds.maxMemoryMb) throw errors.limitExceeded('memory_mb', spec.memory_mb, bounds.maxMemoryMb, 'MiB');
  if (spec.gpu_count > bounds.maxGpu) throw errors.limitExceeded('gpu_count', spec.gpu_count, bounds.maxGpu, 'GPUs');
  if (spec.timeout_s > bounds.maxTimeoutS) throw errors.limitExceeded('timeout_s', spec.timeout_s, bounds.maxTimeoutS, 's');
  if (spec.replicas > bounds.maxReplicas) throw errors.limitExceeded('replicas', spec.replicas, bounds.maxReplicas, '');
}
