/** What the API shows of a job: the AIJob flattened into the snake_case shape of the contract. */
import type { AIJob } from '../cluster/types.js';
import { costAnnotation, type CostEstimate, type CostRates } from '../core/cost.js';
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

const VIEW_KEYS = new Set([
  'job_id', 'tenant_id', 'status', 'queue', 'priority', 'attempt', 'attempts', 'estimated_cost', 'created_at', 'spec',
  'name', 'reason', 'message', 'exit_code', 'started_at', 'finished_at',
]);
const json = JSON.stringify;

/**
 * JSON.stringify(view), byte for byte, for a view built by jobView (same keys, same order), with the
 * estimate's JSON taken from costAnnotation: jobs of one shape share one estimate, formatted once.
 * A view with any other key is left to JSON.stringify, so no field is ever dropped.
 */
export function jobViewJson(view: JobView): string {
  for (const key in view) if (!VIEW_KEYS.has(key)) return json(view);
  let out =
    `{"job_id":${json(view.job_id)},"tenant_id":${json(view.tenant_id)},"status":${json(view.status)},` +
    `"queue":${json(view.queue)},"priority":${json(view.priority)},"attempt":${json(view.attempt)},` +
    `"attempts":${json(view.attempts)},"estimated_cost":${costAnnotation(view.estimated_cost)},` +
    `"created_at":${json(view.created_at)},"spec":${json(view.spec)}`;
  if (view.name !== undefined) out += `,"name":${json(view.name)}`;
  if (view.reason !== undefined) out += `,"reason":${json(view.reason)}`;
  if (view.message !== undefined) out += `,"message":${json(view.message)}`;
  if (view.exit_code !== undefined) out += `,"exit_code":${json(view.exit_code)}`;
  if (view.started_at !== undefined) out += `,"started_at":${json(view.started_at)}`;
  if (view.finished_at !== undefined) out += `,"finished_at":${json(view.finished_at)}`;
  return out + '}';
}
