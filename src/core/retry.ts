/**
 * Runway-level retries: what happens after an attempt's Job failed. Pure; the controller applies it.
 *
 * The policy is the job's `retry_policy`, else its queue's `retryPolicy`, else, in a queued queue, the
 * default (RUNWAY_QUEUED_MAX_RETRIES retries: 3 attempts); the direct queue has none by default and
 * keeps the v1 behaviour (the Job's backoffLimit only). A failed attempt with retries left becomes
 * RETRYING until `base x multiplier^(n-1)` has passed on the cluster's clock, then waits in its queue for
 * a new attempt Job; with none left the job is DEAD_LETTER. DeadlineExceeded is not retried: the next
 * attempt would run into the same limit and cost as much again.
 */
import type { JobSpec } from './job-spec.js';
import type { ResolvedQueue } from './policy.js';

export interface EffectiveRetryPolicy {
  maxRetries: number;
  backoffMultiplier: number;
}

export const DEFAULT_BACKOFF_MULTIPLIER = 2;
/** No single wait is longer than this, however many retries a policy allows. */
export const MAX_RETRY_DELAY_MS = 60 * 60_000;

export function retryPolicyFor(spec: JobSpec, queue: ResolvedQueue | undefined, queuedMaxRetries: number): EffectiveRetryPolicy | undefined {
  if (spec.retry_policy) {
    return { maxRetries: spec.retry_policy.max_retries, backoffMultiplier: spec.retry_policy.backoff_multiplier ?? DEFAULT_BACKOFF_MULTIPLIER };
  }
  if (queue?.retryPolicy) {
    return { maxRetries: queue.retryPolicy.maxRetries, backoffMultiplier: queue.retryPolicy.backoffMultiplier ?? DEFAULT_BACKOFF_MULTIPLIER };
  }
  if (queue?.admission === 'queued') return { maxRetries: queuedMaxRetries, backoffMultiplier: DEFAULT_BACKOFF_MULTIPLIER };
  return undefined;
}

/** The wait before retry number `retry` (1 = the first retry). */
export function retryDelayMs(baseMs: number, multiplier: number, retry: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, Math.round(baseMs * multiplier ** (retry - 1)));
}

export type AfterFailure =
  | { action: 'retry'; failures: number; nextAttemptAtMs: number }
  | { action: 'dead_letter'; failures: number }
  | { action: 'fail'; failures: number };

/**
 * What to do with a job whose current attempt just ended in `phase` (FAILED or DEADLINE), having
 * failed `failuresBefore` attempts before this one.
 */
export function afterFailedAttempt(
  policy: EffectiveRetryPolicy | undefined,
  phase: 'FAILED' | 'DEADLINE',
  failuresBefore: number,
  nowMs: number,
  baseDelayMs: number,
): AfterFailure {
  const failures = failuresBefore + 1;
  if (!policy || phase === 'DEADLINE') return { action: 'fail', failures };
  if (failures > policy.maxRetries) return { action: 'dead_letter', failures };
  return { action: 'retry', failures, nextAttemptAtMs: nowMs + retryDelayMs(baseDelayMs, policy.backoffMultiplier, failures) };
}
