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
  spec: Type.Record(Type.String(), Type.Unknown()),
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
