/**
 * Per-tenant submission rate: a token bucket per tenant, refilled continuously at perMinute/60 tokens
 * a second up to `burst`. Idle buckets are evicted: a bucket untouched for burst/rate seconds is full,
 * which is exactly what a missing bucket means, so eviction never changes an answer. Buckets are kept
 * in last-touched order (Map insertion order), so eviction only looks at the oldest entries.
 */

export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until the next token (0 when allowed). */
  retryAfterS: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly fullAfterMs: number;

  constructor(
    readonly perMinute: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = perMinute / 60_000;
    this.fullAfterMs = Math.ceil(burst / this.perMs);
  }

  /** Takes one token for the tenant, or says how long to wait. */
  take(tenant: string): RateDecision {
    const now = this.now();
    this.evictIdle(now);
    const b = this.buckets.get(tenant);
    const tokens = b ? Math.min(this.burst, b.tokens + (now - b.at) * this.perMs) : this.burst;
    if (tokens >= 1) {
      this.touch(tenant, { tokens: tokens - 1, at: now });
      return { allowed: true, retryAfterS: 0 };
    }
    this.touch(tenant, { tokens, at: now });
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000)) };
  }

  /** Gives back a token taken for a request that was then refused for another reason. */
  refund(tenant: string): void {
    const b = this.buckets.get(tenant);
    if (b) b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  /** Number of live buckets (memory is proportional to it). */
  get size(): number {
    return this.buckets.size;
  }

  private touch(tenant: string, bucket: Bucket): void {
    this.buckets.delete(tenant); // re-insert to move it to the newest end
    this.buckets.set(tenant, bucket);
  }

  private evictIdle(now: number): void {
    for (const [tenant, b] of this.buckets) {
      if (now - b.at < this.fullAfterMs) break;
      this.buckets.delete(tenant);
    }
  }
}
