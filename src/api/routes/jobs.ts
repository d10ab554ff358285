/** Job routes: canonical /v1 paths plus the original spec's /jobs aliases, served by one handler each. */
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { AppDeps } from '../app.js';
import { parseListQuery, parseTail } from '../query.js';
import {
  CostEstimateSchema,
  ErrorSchema,
  JobIdParamsSchema,
  JobListSchema,
  JobViewSchema,
  ListQuerySchema,
  TenantHeaderSchema,
} from '../schemas.js';
import { JobSpecSchema } from '../../core/job-spec.js';
import { jobView } from '../views.js';

const errorResponses = { 400: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema };

export function registerJobRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { service, config } = deps;
  const view = (job: Parameters<typeof jobView>[0]) => jobView(job, config.rates);

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
            'Admission order: validation (400) -> per-job bounds (422) -> tenant GPU quota (403) -> tenant rate limit (429) -> cost -> create (201; 503 when the cluster is unavailable). ' +
            'With an idempotency_key already used by the tenant, answers 200 with the existing job.',
          headers: TenantHeaderSchema,
          body: JobSpecSchema,
          response: { 200: JobViewSchema, 201: JobViewSchema, ...errorResponses, 403: ErrorSchema, 422: ErrorSchema, 429: ErrorSchema },
        },
      },
      async (request, reply) => {
        const body = request.body as Record<string, unknown> | undefined;
        const bodyTenant = body && typeof body === 'object' && typeof body.tenant_id === 'string' ? body.tenant_id : undefined;
        request.facts.tenant_id = bodyTenant ?? (request.headers['x-tenant-id'] as string | undefined);
        const { job, replay, estimate } = await service.submit(request.body, request.headers['x-tenant-id'], request.log);
        const out = jobView(job, config.rates, estimate);
        request.facts.job_id = out.job_id;
        request.facts.estimated_cost = out.estimated_cost.total;
        void reply.header('Location', `/v1/jobs/${out.job_id}`);
        return reply.code(replay ? 200 : 201).send(out);
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
  }

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
