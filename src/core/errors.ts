/**
 * The one error catalogue. Every rejection Runway gives has a stable code from this list, an HTTP
 * status fixed here once, a message a person can act on, and structured details for scripts.
 */

export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  LIMIT_EXCEEDED: 422,
  QUOTA_EXCEEDED: 403,
  BUDGET_EXCEEDED: 403,
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

  notLeader(leader: string | undefined, retryAfterS = 2): RunwayError {
    return new RunwayError(
      'NOT_LEADER',
      `this replica is not the leader${leader ? ` (leader: ${leader})` : ''}; retry shortly or send writes to the leader`,
      { leader: leader ?? null },
      retryAfterS,
    );
  },
};
