/** Job routes: canonical /v1 paths plus the original spec's /jobs aliases, served by one handler each. */
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { requestLog, type AppDeps } from '../app.js';
import { parseListQuery, parseTail } from '../query.js';
import {
  CostEstimateSchema,
  ErrorSchema,
  JobIdParamsSchema,
  JobListSchema,
  JobViewSchema,
  ListQuerySchema,
  TenantHeaderSchema,
  QueueListSchema,
  NodePoolListSchema,
} from '../schemas.js';
import { isWaiting } from '../../core/status.js';
import { JobSpecSchema } from '../../core/job-spec.js';
import { jobView } from '../views.js';

const errorResponses = { 400: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema };

export function registerJobRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { service, config, scheduler } = deps;
  const view = (job: Parameters<typeof jobView>[0]) => jobView(job, config.rates, undefined, scheduler.waitReason(job.metadata.name));

  for (const prefix of ['/v1', '']) {
    const hide = prefix === ''; // aliases work but the docs show the canonical paths only

    app.post(
      `${prefix}/jobs`,
      {
        schema: {
          hide,
          tags: ['jobs'],
          summary: 'Submit a job',
          description:
            'Admission order: validation (400) -> per-job bounds (422) -> queue exists (404) and is allowed for the tenant (403 QUEUE_NOT_ALLOWED) -> ' +
            'quota (direct queue: the tenant quota now, 403 QUOTA_EXCEEDED; queued queue: bigger than the whole quota 403, bigger than every allowed pool 422) -> ' +
            'headroom rule when the tenant policy enables it (403 BUDGET_EXCEEDED) -> tenant rate limit (429) -> cost -> create. ' +
            '201: created and admitted (its Job exists); 202: QUEUED in a queued queue, waiting for room (see queue_position and pending_reason); 503 when the cluster is unavailable. ' +
            'With an idempotency_key already used by the tenant, answers 200 with the existing job.',
          headers: TenantHeaderSchema,
          body: JobSpecSchema,
          response: { 200: JobViewSchema, 201: JobViewSchema, 202: JobViewSchema, ...errorResponses, 403: ErrorSchema, 422: ErrorSchema, 429: ErrorSchema },
        },
      },
      async (request, reply) => {
        const body = request.body as Record<string, unknown> | undefined;
        const bodyTenant = body && typeof body === 'object' && typeof body.tenant_id === 'string' ? body.tenant_id : undefined;
        request.facts.tenant_id = bodyTenant ?? (request.headers['x-tenant-id'] as string | undefined);
        const { job, replay, estimate } = await service.submit(request.body, request.headers['x-tenant-id'], requestLog(request));
        const out = jobView(job, config.rates, estimate, scheduler.waitReason(job.metadata.name));
        request.facts.job_id = out.job_id;
        request.facts.estimated_cost = out.estimated_cost.total;
        void reply.header('Location', `/v1/jobs/${out.job_id}`);
        return reply.code(replay ? 200 : isWaiting(out.status) ? 202 : 201).send(out);
      },
    );

    app.get(
      `${prefix}/jobs`,
      {
        schema: {
          hide,
          tags: ['jobs'],
          summary: 'List jobs, newest first',
          querystring: ListQuerySchema,
          response: { 200: JobListSchema, 400: ErrorSchema },
        },
      },
      async (request) => {
        const page = service.list(parseListQuery(request.query));
        return page.next ? { items: page.items.map(view), continue: page.next } : { items: page.items.map(view) };
      },
    );

    app.get(
      `${prefix}/jobs/:id`,
      {
        schema: { hide, tags: ['jobs'], summary: 'Get a job', params: JobIdParamsSchema, response: { 200: JobViewSchema, 404: ErrorSchema } },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        request.facts.job_id = id;
        const out = view(service.get(id));
        request.facts.tenant_id = out.tenant_id;
        return out;
      },
    );

    app.delete(
      `${prefix}/jobs/:id`,
      {
        schema: {
          hide,
          tags: ['jobs'],
          summary: 'Cancel a job',
          description:
            'CANCELLED: its Job is deleted (pods in the background) or it leaves the queue; its quota is released once. ' +
            'Cancelling a cancelled job answers 200 again; a job that already finished answers 409 CONFLICT.',
          params: JobIdParamsSchema,
          response: { 200: JobViewSchema, 404: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        request.facts.job_id = id;
        const out = view(await service.cancel(id));
        request.facts.tenant_id = out.tenant_id;
        return out;
      },
    );
  }

  app.post(
    '/v1/jobs/:id/retry',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Retry a failed job',
        description:
          'For FAILED, DEADLINE or DEAD_LETTER jobs: a new attempt (Job <id>-<n+1>) with a fresh retry budget, admitted like a new ' +
          'submission (201 when it starts at once, 202 while it waits in its queue). Any other status answers 409 CONFLICT.',
        params: JobIdParamsSchema,
        response: { 201: JobViewSchema, 202: JobViewSchema, 404: ErrorSchema, 409: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      request.facts.job_id = id;
      const out = view(await service.retry(id));
      request.facts.tenant_id = out.tenant_id;
      return reply.code(isWaiting(out.status) ? 202 : 201).send(out);
    },
  );

  app.get(
    '/v1/queues',
    {
      schema: {
        tags: ['queues'],
        summary: 'Queues and their state',
        description: 'Per queue: its policy, jobs waiting, admitted and running, and the resources its admitted jobs hold.',
        response: { 200: QueueListSchema },
      },
    },
    async () => ({ items: scheduler.queueViews() }),
  );

  app.get(
    '/v1/nodepools',
    {
      schema: {
        tags: ['queues'],
        summary: 'Node pools: capacity, allocation, queued demand, ETA',
        description:
          'Per pool (ComputeCluster): capacity of its Ready nodes, what Runway pods hold, what is free, jobs waiting for it and their demand, ' +
          'the head job\'s pending reason and estimated start (from running jobs\' expected ends), and whether it is exhausted.',
        response: { 200: NodePoolListSchema },
      },
    },
    async () => ({ items: scheduler.poolViews() }),
  );

  app.get(
    '/v1/jobs/:id/logs',
    {
      schema: {
        tags: ['jobs'],
        summary: "The last lines of the current attempt's log",
        params: JobIdParamsSchema,
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const tail = parseTail(request.query);
      const job = service.get(id);
      const text = await deps.cluster.readLogs(`${id}-${job.status?.attempt ?? 1}`, tail);
      return reply.type('text/plain; charset=utf-8').send(text);
    },
  );

  app.post(
    '/v1/estimate',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Price a job without running it',
        description: 'Validation, per-job bounds and the cost breakdown; nothing is created or reserved.',
        body: JobSpecSchema,
        response: { 200: Type.Object({ estimated_cost: CostEstimateSchema }), 400: ErrorSchema, 422: ErrorSchema },
      },
    },
    async (request) => {
      const { estimate } = service.estimate(request.body, request.headers['x-tenant-id']);
      request.facts.estimated_cost = estimate.total;
      return { estimated_cost: estimate };
    },
  );
}
