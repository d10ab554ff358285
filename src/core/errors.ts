/**
 * The one error catalogue. Every rejection Runway gives has a stable code from this list, an HTTP
 * status fixed here once, a message a person can act on, and structured details for scripts.
 */

export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  LIMIT_EXCEEDED: 422,
  QUOTA_EXCEEDED: 403,
  BUDGET_EXCEEDED: 403,
  QUEUE_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  CLUSTER_UNAVAILABLE: 503,
  NOT_LEADER: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type ErrorDetails = Record<string, unknown>;

/** A rejection with a stable code. Thrown by the core and services, mapped to HTTP once in the API. */
export class RunwayError extends Error {
  override readonly name = 'RunwayError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    /** Seconds the caller should wait before trying again (429, 503). */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }
}

export function isRunwayError(err: unknown): err is RunwayError {
  return err instanceof RunwayError;
}

export const errors = {
  invalidRequest(field: string, message: string, extra: ErrorDetails = {}): RunwayError {
    return new RunwayError('INVALID_REQUEST', message, { field, ...extra });
  },

  limitExceeded(bound: string, requested: number, limit: number, unit: string): RunwayError {
    return new RunwayError(
      'LIMIT_EXCEEDED',
      `${bound} ${requested}${unit ? ' ' + unit : ''} exceeds the per-job limit of ${limit}${unit ? ' ' + unit : ''}`,
      { bound, requested, limit },
    );
  },

  quotaExceeded(
    resource: string,
    tenant: string,
    inUse: number,
    requested: number,
    quota: number,
  ): RunwayError {
    return new RunwayError(
      'QUOTA_EXCEEDED',
      `tenant ${tenant} has ${inUse} of ${quota} ${resource} in use; this job asks for ${requested} more ` +
        `(${quota - inUse} left). Wait for running jobs to finish or ask for a larger quota.`,
      { resource, tenant, in_use: inUse, requested, quota },
    );
  },

  rateLimited(tenant: string, retryAfterS: number, perMinute: number, burst: number): RunwayError {
    return new RunwayError(
      'RATE_LIMITED',
      `tenant ${tenant} is submitting faster than ${perMinute} jobs per minute (burst ${burst}); retry in ${retryAfterS} s`,
      { tenant, retry_after_s: retryAfterS, limit_per_min: perMinute, burst },
      retryAfterS,
    );
  },

  /** A queued job bigger than the tenant's whole quota: it could never be admitted. */
  quotaNeverFits(resource: string, tenant: string, requested: number, quota: number): RunwayError {
    return new RunwayError(
      'QUOTA_EXCEEDED',
      `this job asks for ${requested} ${resource} but tenant ${tenant}'s quota is ${quota}: it could never be admitted. ` +
        'Ask for fewer or for a larger quota.',
      { resource, tenant, in_use: null, requested, quota, never_fits: true },
    );
  },

  /** A job no allowed node pool could ever hold (bigger than the pool, its largest node or its caps). */
  poolNeverFits(queue: string, reason: string): RunwayError {
    return new RunwayError('LIMIT_EXCEEDED', `this job could never run in queue ${queue}: ${reason}`, {
      bound: 'pool_capacity',
      queue,
      reason,
    });
  },

  /** The headroom rule: usage plus the request would reach 90% of a quota. */
  headroom(resource: string, tenant: string, inUse: number, requested: number, quota: number): RunwayError {
    return new RunwayError(
      'BUDGET_EXCEEDED',
      `tenant ${tenant} has ${inUse} of ${quota} ${resource} in use; with this job's ${requested} it would reach ` +
        `${Math.round(((inUse + requested) / quota) * 100)}% of its quota, and its policy keeps 10% headroom. ` +
        'Wait for running jobs to finish or ask for a larger quota.',
      { resource, tenant, in_use: inUse, requested, quota, threshold: 0.9 },
    );
  },

  queueNotAllowed(tenant: string, queue: string, allowed: readonly string[]): RunwayError {
    return new RunwayError(
      'QUEUE_NOT_ALLOWED',
      `tenant ${tenant} may not submit to queue ${queue}; its policy allows: ${allowed.length > 0 ? allowed.join(', ') : 'no queue'}`,
      { tenant, queue, allowed_queues: allowed },
    );
  },

  unauthorized(message: string): RunwayError {
    return new RunwayError('UNAUTHORIZED', message);
  },

  notFound(kind: string, id: string): RunwayError {
    return new RunwayError('NOT_FOUND', `${kind} ${id} not found`, { kind, id });
  },

  conflict(message: string, details: ErrorDetails = {}): RunwayError {
    return new RunwayError('CONFLICT', message, details);
  },

  clusterUnavailable(cause: string, retryAfterS = 1): RunwayError {
    return new RunwayError(
      'CLUSTER_UNAVAILABLE',
      `the Kubernetes API is unavailable (${cause}); nothing was created, retry shortly`,
      { cause },
      retryAfterS,
    );
  },

  /** A submission failed half-way and its AIJob could not be removed: the controller finishes it. */
  clusterFailedJobKept(cause: string, jobId: string, retryAfterS = 1): RunwayError {
    return new RunwayError(
      'CLUSTER_UNAVAILABLE',
      `the Kubernetes API failed while creating job ${jobId} (${cause}) and its AIJob could not be removed: Runway will finish creating it; resubmit with the same idempotency_key to get it, or cancel it`,
      { cause, job_id: jobId },
      retryAfterS,
    );
  },

  notLeader(leader: string | undefined, retryAfterS = 2): RunwayError {
    return new RunwayError(
      'NOT_LEADER',
      `this replica is not the leader${leader ? ` (leader: ${leader})` : ''}; retry shortly or send writes to the leader`,
      { leader: leader ?? null },
      retryAfterS,
    );
  },
};
