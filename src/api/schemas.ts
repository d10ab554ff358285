/**
 * Schemas of the HTTP API, for the OpenAPI document at /docs. Requests are validated by the core
 * (parseJobSpec) and by query.ts so that every error has one shape; these describe, they do not gate.
 */
import Type from 'typebox';
import { JOB_STATUSES } from '../core/status.js';

export const CostEstimateSchema = Type.Object({
  currency: Type.Literal('USD'),
  total: Type.Number(),
  cpu: Type.Number(),
  memory: Type.Number(),
  gpu: Type.Number(),
  basis: Type.Literal('timeout_s'),
});

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'stable code: INVALID_REQUEST, LIMIT_EXCEEDED, QUOTA_EXCEEDED, ...' }),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown()),
  }),
  request_id: Type.String(),
});

export const JobViewSchema = Type.Object({
  job_id: Type.String(),
  tenant_id: Type.String(),
  name: Type.Optional(Type.String()),
  status: Type.Union(JOB_STATUSES.map((s) => Type.Literal(s))),
  reason: Type.Optional(Type.String({ description: 'OOMKilled, DeadlineExceeded, BackoffLimitExceeded, Error, ...' })),
  message: Type.Optional(Type.String()),
  exit_code: Type.Optional(Type.Integer()),
  queue: Type.String(),
  priority: Type.Integer(),
  attempt: Type.Integer(),
  attempts: Type.Integer({ description: 'pods started for the current attempt' }),
  estimated_cost: CostEstimateSchema,
  created_at: Type.String(),
  started_at: Type.Optional(Type.String()),
  finished_at: Type.Optional(Type.String()),
  queue_position: Type.Optional(Type.Integer({ description: 'waiting jobs: 1-based place among the waiting jobs of the queue' })),
  pending_reason: Type.Optional(Type.String({ description: 'waiting jobs: why, e.g. "needs 4 GPUs in pool gpu, 2 free; 3 jobs ahead; estimated start in 12 min"' })),
  pending_cause: Type.Optional(Type.String({ description: 'Quota, Capacity, MaxConcurrency, PoolLimit, Backoff, Gang, Fairness, NoQueue' })),
  estimated_start: Type.Optional(Type.String({ description: 'waiting jobs: estimated start from running jobs\' expected ends' })),
  next_attempt_at: Type.Optional(Type.String({ description: 'RETRYING: when the next attempt is due' })),
  failures: Type.Optional(Type.Integer({ description: 'failed attempts so far (retry budget spent)' })),
  preemptions: Type.Optional(Type.Integer()),
  pool: Type.Optional(Type.String({ description: 'node pool (ComputeCluster) of the current attempt' })),
  admitted_at: Type.Optional(Type.String()),
  spec: Type.Record(Type.String(), Type.Unknown()),
});

const Amounts = Type.Object({ cpu: Type.Number(), memory_mb: Type.Number(), gpu: Type.Number() });

export const QueueListSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      name: Type.String(),
      admission: Type.String({ description: 'direct or queued' }),
      priority: Type.Integer(),
      preemption_policy: Type.String(),
      max_concurrency: Type.Optional(Type.Integer()),
      clusters: Type.Array(Type.String()),
      queued: Type.Integer({ description: 'jobs waiting (QUEUED, RETRYING)' }),
      admitted: Type.Integer({ description: 'jobs admitted, not running yet (PENDING)' }),
      running: Type.Integer(),
      usage: Amounts,
    }),
  ),
});

export const NodePoolListSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      name: Type.String(),
      nodes: Type.Integer({ description: 'Ready, schedulable nodes' }),
      capacity: Amounts,
      allocated: Amounts,
      free: Amounts,
      max_jobs: Type.Optional(Type.Integer()),
      max_gpus: Type.Optional(Type.Integer()),
      running_jobs: Type.Integer({ description: 'admitted jobs placed in the pool' }),
      queued_jobs: Type.Integer(),
      queued_demand: Amounts,
      head_job: Type.Optional(
        Type.Object({ job_id: Type.String(), pending_reason: Type.String(), estimated_start: Type.Optional(Type.String()) }),
      ),
      exhausted: Type.Boolean({ description: 'no node, maxJobs reached, or no free GPU (GPU pools) / CPU or memory (others)' }),
    }),
  ),
});

export const JobListSchema = Type.Object({
  items: Type.Array(JobViewSchema),
  continue: Type.Optional(Type.String({ description: 'pass as ?continue= for the next page' })),
});

export const ListQuerySchema = Type.Object({
  tenant: Type.Optional(Type.String()),
  status: Type.Optional(Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)))),
  queue: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  continue: Type.Optional(Type.String()),
});

export const TenantHeaderSchema = Type.Object({
  'x-tenant-id': Type.Optional(Type.String({ description: 'tenant, when the body has no tenant_id' })),
  'x-request-id': Type.Optional(Type.String({ description: 'echoed back; generated when absent' })),
});

export const JobIdParamsSchema = Type.Object({ id: Type.String() });
