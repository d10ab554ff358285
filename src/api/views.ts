/** What the API shows of a job: the AIJob flattened into the snake_case shape of the contract. */
import type { AIJob } from '../cluster/types.js';
import type { CostEstimate, CostRates } from '../core/cost.js';
import { estimateOf } from '../controller/controller.js';
import { phaseOf } from '../controller/job-store.js';
import type { JobSpec } from '../core/job-spec.js';
import type { JobPhase } from '../core/status.js';

export interface JobView {
  job_id: string;
  tenant_id: string;
  name?: string;
  status: JobPhase;
  reason?: string;
  message?: string;
  exit_code?: number;
  queue: string;
  priority: number;
  attempt: number;
  attempts: number;
  estimated_cost: CostEstimate;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  spec: JobSpec;
}

/** `estimate`, when the caller has it (a job it just created), saves reading it back from the job. */
export function jobView(job: AIJob, rates: CostRates, estimate?: CostEstimate): JobView {
  const s = job.status;
  const view: JobView = {
    job_id: job.metadata.name,
    tenant_id: job.spec.tenant_id,
    status: phaseOf(job),
    queue: job.spec.queue,
    priority: job.spec.priority,
    attempt: s?.attempt ?? 1,
    attempts: s?.attempts ?? 0,
    estimated_cost: estimate ?? estimateOf(job, rates),
    created_at: job.metadata.creationTimestamp ?? '',
    spec: job.spec,
  };
  if (job.spec.name !== undefined) view.name = job.spec.name;
  if (s?.reason !== undefined) view.reason = s.reason;
  if (s?.message !== undefined) view.message = s.message;
  if (s?.exitCode !== undefined) view.exit_code = s.exitCode;
  if (s?.startTime !== undefined) view.started_at = s.startTime;
  if (s?.completionTime !== undefined) view.finished_at = s.completionTime;
  return view;
}
