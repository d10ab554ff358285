/** What the API shows of a job: the AIJob flattened into the snake_case shape of the contract. */
import type { AIJob } from '../cluster/types.js';
import type { CostEstimate, CostRates } from '../core/cost.js';
import { estimateOf } from '../controller/controller.js';
import { phaseOf } from '../controller/job-store.js';
import type { JobSpec } from '../core/job-spec.js';
import { isWaiting, type JobPhase } from '../core/status.js';
import { LABEL_ADMISSION } from '../core/k8s.js';
import type { WaitReason } from '../scheduler/types.js';

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
  /** Waiting jobs: 1-based place among the waiting jobs of its queue, in the order they will be considered. */
  queue_position?: number;
  /** Waiting jobs: why, in a sentence ("needs 4 GPUs in pool gpu, 2 free; 3 jobs ahead; estimated start in 12 min"). */
  pending_reason?: string;
  /** Waiting jobs: the scheduler's machine-readable cause (Quota, Capacity, MaxConcurrency, PoolLimit, Backoff, Gang, Fairness). */
  pending_cause?: string;
  /** Waiting jobs: estimated start, when running jobs' expected ends allow an estimate. */
  estimated_start?: string;
  /** RETRYING: when the next attempt is due. */
  next_attempt_at?: string;
  /** Failed attempts so far (the retry budget spent). */
  failures?: number;
  preemptions?: number;
  /** The node pool the current attempt was admitted to. */
  pool?: string;
  admitted_at?: string;
  spec: JobSpec;
}

/**
 * `estimate`, when the caller has it (a job it just created), saves reading it back from the job;
 * `wait` is the scheduler's latest word on a waiting job.
 */
export function jobView(job: AIJob, rates: CostRates, estimate?: CostEstimate, wait?: WaitReason): JobView {
  const s = job.status;
  const view: JobView = {
    job_id: job.metadata.name,
    tenant_id: job.spec.tenant_id,
    status: phaseOf(job),
    queue: job.spec.queue,
    priority: job.spec.priority,
    attempt: s?.attempt ?? (job.metadata.labels?.[LABEL_ADMISSION] === 'queued' ? 0 : 1),
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
  if (s?.nextAttemptAt !== undefined) view.next_attempt_at = s.nextAttemptAt;
  if (s?.failures !== undefined) view.failures = s.failures;
  if (s?.preemptions !== undefined) view.preemptions = s.preemptions;
  if (s?.pool !== undefined) view.pool = s.pool;
  if (s?.admittedAt !== undefined) view.admitted_at = s.admittedAt;
  if (wait && isWaiting(view.status)) {
    view.queue_position = wait.position;
    view.pending_reason = wait.message;
    view.pending_cause = wait.reason;
    if (wait.etaMs !== undefined) view.estimated_start = new Date(wait.etaMs).toISOString();
  }
  return view;
}
