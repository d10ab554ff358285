/**
 * The HTTP API (Fastify): routes, request ids, one log line per request, latency metrics, the error
 * shape, and the OpenAPI document with its browsable UI at /docs. Business logic lives in the
 * JobService; this file only translates between HTTP and it.
 */
import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type onResponseHookHandler,
} from 'fastify';
import type { ClusterPort } from '../cluster/types.js';
import type { Config } from '../config.js';
import type { Controller } from '../controller/controller.js';
import type { JobService } from '../controller/job-service.js';
import type { SchedulingLoop } from '../controller/scheduling-loop.js';
import type { PolicyStore } from '../controller/policy-store.js';
import { errors, RunwayError } from '../core/errors.js';
import { requestLogger, type LazyChildLogger, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { BODY_LIMIT_BYTES, errorBody, sendError, toRunwayError } from './errors.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerOpsRoutes } from './routes/ops.js';
import { ADMIN_SECURITY_SCHEME, registerPolicyRoutes } from './routes/policies.js';

export interface AppDeps {
  config: Config;
  cluster: ClusterPort;
  controller: Controller;
  service: JobService;
  /** Queues, node pools and tenant policies (read by the policy routes and admission). */
  policies: PolicyStore;
  /** The scheduling loop: queue positions, pending reasons, queue and node-pool views. */
  scheduler: SchedulingLoop;
  metrics: Metrics;
  logger: Logger;
  version: string;
}

/** Per-request facts the one log line carries. */
export interface RequestFacts {
  tenant_id?: string;
  job_id?: string;
  estimated_cost?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    facts: RequestFacts;
  }
}

/** A request's logger as what it is: Fastify types it as its base logger, ours (childLoggerFactory) is a pino child or a lazy one. */
export function requestLog(request: FastifyRequest): LazyChildLogger | Logger {
  return request.log as LazyChildLogger | Logger;
}

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is what Fastify wraps; its types differ only in generics Fastify does not use.
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    // request.log: the pino child with the request id is built only if the request logs something.
    childLoggerFactory: (logger, bindings, options) => requestLogger(logger as Logger, bindings, options),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 256 },
    // Requests Node's HTTP parser rejects never reach a route; answer them in the error shape too.
    clientErrorHandler: (err, socket) => {
      // Bytes after a request that said `Connection: close`: that request's answer is written (or on its
      // way) and Node closes the socket after it; a second answer would corrupt the first.
      if ((err as NodeJS.ErrnoException).code === 'HPE_CLOSED_CONNECTION') return;
      if (!socket.writable) return;
      const id = randomUUID();
      const reason = (err as NodeJS.ErrnoException).code ?? err.message;
      const body = JSON.stringify(errorBody(errors.invalidRequest('request', `malformed HTTP request (${reason})`), id));
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-ID: ${id}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  });

  // Requests are validated by the core and query.ts (one error shape); schemas are for the docs.
  // `true` passes the data through untouched: a `{value}` result would be assigned back, and once the
  // headers are assigned, every read of request.headers copies them.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // `curl -d '{...}'` sends form encoding by default: read any body as JSON rather than refuse it.
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.decorateRequest('facts', null as unknown as RequestFacts);
  // Hooks take a callback rather than being async: no promise and no extra microtask per request.
  app.addHook('onRequest', (request, reply, done) => {
    request.facts = {};
    void reply.header('X-Request-ID', request.id);
    done();
  });

  /** The end of every request: its latency in request_latency_seconds and, at info, its one log line. */
  function answered(route: string, request: FastifyRequest, reply: FastifyReply): void {
    const elapsedMs = reply.elapsedTime;
    deps.metrics.requestLatency.observe({ route, method: request.method, status: String(reply.statusCode) }, elapsedMs / 1000);
    // The line is only built when it will be written.
    if (requestLog(request).isLevelEnabled('info')) {
      const { tenant_id, job_id, estimated_cost } = request.facts;
      const line: Record<string, unknown> = {
        method: request.method,
        route,
        url: request.url.length > 512 ? request.url.slice(0, 512) + '…' : request.url,
        status: reply.statusCode,
        latency_ms: Math.round(elapsedMs * 100) / 100,
      };
      if (tenant_id !== undefined) line.tenant_id = tenant_id;
      if (job_id !== undefined) line.job_id = job_id;
      if (estimated_cost !== undefined) line.estimated_cost = estimated_cost;
      request.log.info(line, 'request');
    }
  }

  // Each route gets an onResponse hook that knows its URL (request.routeOptions builds a new object on
  // every read). onRoute runs for the routes added after this, plugins' included: register them below.
  app.addHook('onRoute', (route) => {
    const url = route.url;
    const onResponse: onResponseHookHandler = (request, reply, done) => {
      answered(url, request, reply);
      done();
    };
    route.onResponse = [route.onResponse ?? [], onResponse].flat();
  });
  // Requests no route matched, or that a route passed to the not-found handler, run the instance's
  // hooks only.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) answered('unmatched', request, reply);
    done();
  });

  app.setNotFoundHandler((request, reply) => {
    sendError(reply, request, errors.notFound('route', `${request.method} ${request.url.split('?')[0]?.slice(0, 200) ?? ''}`));
  });

  app.setErrorHandler((err, request: FastifyRequest, reply) => {
    const mapped = toRunwayError(err);
    if (mapped) {
      if (mapped.status >= 500) request.log.warn({ code: mapped.code, err: mapped.message }, 'request failed');
      return sendError(reply, request, mapped);
    }
    request.log.error({ err }, 'unexpected error');
    return reply
      .code(500)
      .send(errorBody(new RunwayError('INTERNAL', 'internal error; the request id identifies it in the logs'), request.id));
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Runway API',
        version: deps.version,
        description:
          'Submit batch and ML jobs to a shared Kubernetes cluster with per-tenant guardrails and a cost estimate. ' +
          'Every error has the shape {error: {code, message, details}, request_id}.',
      },
      tags: [{ name: 'jobs' }, { name: 'policies', description: 'queues, compute clusters and tenant policies' }, { name: 'operations' }],
      components: {
        securitySchemes: {
          [ADMIN_SECURITY_SCHEME]: { type: 'http', scheme: 'bearer', description: 'RUNWAY_ADMIN_TOKEN, when set: needed for policy writes' },
        },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  registerJobRoutes(app, deps);
  registerPolicyRoutes(app, deps);
  registerOpsRoutes(app, deps);
  return app;
}
