/** Operator endpoints: liveness, readiness (the cluster port answers and the caches are synced), metrics. */
import type { FastifyInstance } from 'fastify';
import { errors } from '../../core/errors.js';
import { withDeadline } from '../../controller/job-service.js';
import type { AppDeps } from '../app.js';
import { sendError } from '../errors.js';
import { ErrorSchema } from '../schemas.js';

export function registerOpsRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { cluster, controller, metrics, config } = deps;

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness: the process answers' } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the cluster API answers and the caches are synced',
        response: { 503: ErrorSchema },
      },
    },
    async (request, reply) => {
      try {
        await withDeadline(cluster.ping(), config.clusterTimeoutMs, 'pinging the cluster');
      } catch (err) {
        metrics.clusterAvailable.set(0);
        return sendError(reply, request, errors.clusterUnavailable((err as Error).message));
      }
      metrics.clusterAvailable.set(1);
      if (!controller.isSynced) {
        return sendError(reply, request, errors.clusterUnavailable('the job cache is still loading from the cluster'));
      }
      return { status: 'ready', cluster: cluster.name, namespace: cluster.namespace };
    },
  );

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
