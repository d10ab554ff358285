/**
 * Maps every failure to the one error shape `{error: {code, message, details}, request_id}`. Runway's
 * own errors carry their code; Fastify's (bad JSON, body too large, wrong content type) become
 * INVALID_REQUEST; anything unexpected is logged and answered as a 400 only if the client caused it,
 * never leaking a stack trace.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errors, RunwayError } from '../core/errors.js';
import { isClusterError } from '../cluster/types.js';

/** Largest accepted request body: a job spec with generous env and annotations fits easily. */
export const BODY_LIMIT_BYTES = 512 * 1024;

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
  request_id: string;
}

function fromFastify(err: FastifyError): RunwayError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.invalidRequest('body', `the body is not valid JSON (${err.message})`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.invalidRequest('body', 'the body is empty; send a JSON object');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.invalidRequest('body', `the body is larger than ${BODY_LIMIT_BYTES} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return errors.invalidRequest('Content-Type', `${err.message}; send Content-Type: application/json`);
    default:
      return undefined;
  }
}

export function toRunwayError(err: unknown): RunwayError | undefined {
  if (err instanceof RunwayError) return err;
  if (isClusterError(err)) return errors.clusterUnavailable(err.message);
  const fe = err as Partial<FastifyError>;
  if (typeof fe.code === 'string') {
    const mapped = fromFastify(fe as FastifyError);
    if (mapped) return mapped;
  }
  // Any other client error Fastify raises (4xx) is the client's: report it in our shape.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return errors.invalidRequest('request', fe.message ?? 'invalid request');
  }
  return undefined;
}

export function errorBody(err: RunwayError, requestId: string): ErrorBody {
  return { error: { code: err.code, message: err.message, details: err.details }, request_id: requestId };
}

export function sendError(reply: FastifyReply, request: FastifyRequest, err: RunwayError): FastifyReply {
  if (err.retryAfterS !== undefined) void reply.header('Retry-After', String(err.retryAfterS));
  return reply.code(err.status).send(errorBody(err, request.id));
}
