/** The README's first job as a validated spec (defaults filled in), shared by the core tests. */
import type { JobSpec } from '../../src/core/job-spec.js';

export const README_SPEC: JobSpec = {
  tenant_id: 'team-a',
  image: 'pytorch/pytorch:2.3',
  cpu: 4,
  memory_mb: 16384,
  gpu_count: 2,
  timeout_s: 1800,
  queue: 'default',
  priority: 0,
  replicas: 1,
};
