/**
 * Per-tenant submission rate: a token bucket per tenant, refilled continuously at perMinute/60 tokens
 * a second up to `burst`. Each tenant may have its own limits (from its TenantPolicy); the limiter's
 * own are the environment's defaults for everyone else.
 *
 * Idle buckets are evicted once they are full again, which is exactly what a missing bucket means, so
 * eviction never changes an answer. Buckets are kept in last-touched order (Map insertion order) and
 * eviction looks at the oldest: at the default rate the oldest bucket is the first to be full, so the
 * walk stops at the first that is not. A bucket refilling more slowly than the default (a tenant with
 * a strict policy) is moved to the back instead of stopping the walk, a few per call, so that it never
 * holds back the eviction of the buckets behind it: memory stays bounded by the tenants seen within
 * the default refill time, plus the (operator-defined) tenants with slower limits.
 */

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until the next token (0 when allowed). */
  retryAfterS: number;
}

/** A tenant's own rate (from its policy); the limiter's defaults apply otherwise. */
export interface RateLimits {
  perMinute: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
  /** When the bucket is full again if left alone (and can be forgotten). */
  fullAt: number;
}

/** Slow buckets looked past (moved to the back) per call, at most. */
const SLOW_SCAN = 4;

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly fullAfterMs: number;

  /** `perMinute` and `burst` are the defaults, for tenants whose limits are not given to take(). */
  constructor(
    readonly perMinute: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
    this.fullAfterMs = Math.ceil(burst / this.perMs);
  }

  /**
   * Takes one token for the tenant, or says how long to wait. `limits` are the tenant's own (its
   * policy's); without them the defaults apply. A change of limits applies from the next call: the
   * tokens left are refilled at the new rate and capped at the new burst.
   */
  take(tenant: string, limits?: RateLimits): RateDecision {
    const now = this.now();
    this.evictIdle(now);
    const burst = limits ? limits.burst : this.burst;
    const perMs = limits ? limits.perMinute / 60_000 : this.perMs;
    const b = this.buckets.get(tenant);
    const tokens = b ? Math.min(burst, b.tokens + (now - b.at) * perMs) : burst;
    if (tokens >= 1) {
      this.touch(tenant, tokens - 1, now, burst, perMs);
      return { allowed: true, retryAfterS: 0 };
    }
    this.touch(tenant, tokens, now, burst, perMs);
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
  }

  /** Gives back a token taken for a request that was then refused for another reason (same limits as take). */
  refund(tenant: string, limits?: RateLimits): void {
    const b = this.buckets.get(tenant);
    // fullAt is left as it was: later than the truth at worst, which only delays the eviction.
    if (b) b.tokens = Math.min(limits ? limits.burst : this.burst, b.tokens + 1);
  }

  /** Number of live buckets (memory is proportional to it). */
  get size(): number {
    return this.buckets.size;
  }

  private touch(tenant: string, tokens: number, now: number, burst: number, perMs: number): void {
    this.buckets.delete(tenant); // re-insert to move it to the newest end
    this.buckets.set(tenant, { tokens, at: now, fullAt: now + Math.ceil((burst - tokens) / perMs) });
  }

  private evictIdle(now: number): void {
    let slow = 0;
    for (const [tenant, b] of this.buckets) {
      if (now >= b.fullAt) {
        this.buckets.delete(tenant);
        continue;
      }
      // Not full yet. At the default rate (or faster) neither is anything touched after it, or not for
      // longer than the default refill time: stop here.
      if (b.fullAt - b.at <= this.fullAfterMs || ++slow > SLOW_SCAN) break;
      this.buckets.delete(tenant);
      this.buckets.set(tenant, b);
    }
  }
}
