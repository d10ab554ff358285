// Per-tenant rate limits on the token-bucket limiter, on a fake clock (the limiter's own clock).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter, type RateLimits } from '../../src/core/rate-limit.js';

/** The limiter's arithmetic without any eviction: what every answer must equal. */
class ReferenceLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly defaults: RateLimits,
    private readonly now: () => number,
  ) {}

  take(tenant: string, limits: RateLimits = this.defaults) {
    const now = this.now();
    const perMs = limits.perMinute / 60_000;
    const b = this.buckets.get(tenant);
    const tokens = b ? Math.min(limits.burst, b.tokens + (now - b.at) * perMs) : limits.burst;
    if (tokens >= 1) {
      this.buckets.set(tenant, { tokens: tokens - 1, at: now });
      return { allowed: true, retryAfterS: 0 };
    }
    this.buckets.set(tenant, { tokens, at: now });
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
  }
}

describe('TokenBucketLimiter with per-tenant limits', () => {
  it("uses a tenant's own rate and burst when given, the defaults otherwise", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(60, 3, () => now); // default: 3 at once, then one a second
    const strict = { perMinute: 6, burst: 1 }; // one at once, then one per 10 s
    expect(limiter.take('strict', strict)).toEqual({ allowed: true, retryAfterS: 0 });
    expect(limiter.take('strict', strict)).toEqual({ allowed: false, retryAfterS: 10 });
    expect([1, 2, 3, 4].map(() => limiter.take('plain').allowed)).toEqual([true, true, true, false]);
    now = 1000;
    expect(limiter.take('plain').allowed).toBe(true);
    expect(limiter.take('strict', strict)).toEqual({ allowed: false, retryAfterS: 9 });
    now = 10_000;
    expect(limiter.take('strict', strict).allowed).toBe(true);
  });

  it('gives a generous tenant more than the defaults', () => {
    const limiter = new TokenBucketLimiter(60, 1, () => 0);
    const generous = { perMinute: 600, burst: 5 };
    expect(Array.from({ length: 6 }, () => limiter.take('big', generous).allowed)).toEqual([true, true, true, true, true, false]);
    expect(limiter.take('big', generous).retryAfterS).toBe(1); // 10 a second: rounded up to a whole second
  });

  it('applies changed limits from the next call: tokens left are capped at the new burst', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(60, 10, () => now);
    limiter.take('t'); // 9 left at the default burst of 10
    expect(limiter.take('t', { perMinute: 60, burst: 2 }).allowed).toBe(true); // capped to 2, 1 left
    expect(limiter.take('t', { perMinute: 60, burst: 2 }).allowed).toBe(true);
    expect(limiter.take('t', { perMinute: 60, burst: 2 })).toEqual({ allowed: false, retryAfterS: 1 });
    now = 500;
    expect(limiter.take('t', { perMinute: 600, burst: 2 }).allowed).toBe(true); // faster refill: 5 tokens in 500 ms, capped at 2
  });

  it('refund gives a token back up to the tenant\'s own burst', () => {
    const limiter = new TokenBucketLimiter(60, 10, () => 0);
    const one = { perMinute: 60, burst: 1 };
    limiter.take('a', one);
    limiter.refund('a', one);
    limiter.refund('a', one);
    expect(limiter.take('a', one).allowed).toBe(true);
    expect(limiter.take('a', one).allowed).toBe(false);
  });

  it('evicts full buckets at any rate, and a slow tenant at the head holds back no one', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(60, 10, () => now); // default buckets are full again after 10 s
    const slow = { perMinute: 1, burst: 1 }; // full again 60 s after its take
    limiter.take('slow', slow);
    for (let i = 0; i < 10_000; i++) limiter.take(`tenant-${i}`);
    expect(limiter.size).toBe(10_001);
    now = 10_000;
    limiter.take('late');
    // The 10,000 default buckets are gone; the slow one is not full yet, and still refuses.
    expect(limiter.size).toBe(2);
    expect(limiter.take('slow', slow)).toEqual({ allowed: false, retryAfterS: 50 });
    now = 120_000;
    limiter.take('later');
    expect(limiter.size).toBe(1);
  });

  it('keeps memory bounded with many slow tenants and random default traffic', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(60, 10, () => now);
    for (let i = 0; i < 100; i++) limiter.take(`slow-${i}`, { perMinute: 0.01, burst: 1 }); // full after 100 minutes
    for (let step = 0; step < 100_000; step++) {
      now += 10;
      limiter.take(`anon-${step}`);
    }
    // Default buckets live 10 s (1,000 steps of 10 ms); the 100 slow ones stay until they are full.
    expect(limiter.size).toBeLessThanOrEqual(1000 + 100 + 1);
  });

  it('never answers differently from a limiter that keeps every bucket (eviction changes no answer)', () => {
    const tenants = ['a', 'b', 'c', 'd'];
    const limitsOf: Record<string, RateLimits | undefined> = {
      a: undefined,
      b: { perMinute: 6, burst: 1 },
      c: { perMinute: 600, burst: 20 },
      d: { perMinute: 0.5, burst: 2 },
    };
    fc.assert(
      fc.property(fc.array(fc.record({ dt: fc.integer({ min: 0, max: 30_000 }), who: fc.constantFrom(...tenants) }), { maxLength: 300 }), (steps) => {
        let now = 0;
        const limiter = new TokenBucketLimiter(60, 5, () => now);
        const reference = new ReferenceLimiter({ perMinute: 60, burst: 5 }, () => now);
        for (const { dt, who } of steps) {
          now += dt;
          const limits = limitsOf[who];
          expect(limiter.take(who, limits)).toEqual(reference.take(who, limits));
        }
      }),
      { numRuns: 300 },
    );
  });
});
