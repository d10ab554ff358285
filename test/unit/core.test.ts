import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkBounds, type JobBounds } from '../../src/core/bounds.js';
import { DEFAULT_RATES, estimateCost } from '../../src/core/cost.js';
import { RunwayError } from '../../src/core/errors.js';
import { attemptJobName, JOB_ID_PATTERN, JobIdGenerator } from '../../src/core/ids.js';
import { ShapeMemo } from '../../src/core/shape-memo.js';
import { deepFreeze, immutableKubeObject, isImmutable } from '../../src/core/immutable.js';
import type { JobSpec } from '../../src/core/job-spec.js';
import { README_SPEC } from '../helpers/fixtures.js';
import { QuotaLedger, resourcesOf } from '../../src/core/quota.js';
import { TokenBucketLimiter } from '../../src/core/rate-limit.js';

const spec: JobSpec = README_SPEC;
const bounds: JobBounds = { maxCpu: 8, maxMemoryMb: 32768, maxGpu: 4, maxTimeoutS: 3600, maxReplicas: 8 };

function caught(fn: () => unknown): RunwayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RunwayError) return err;
  }
  throw new Error('expected a RunwayError');
}

describe('estimateCost', () => {
  it('prices the README example: resource x timeout_s x rate', () => {
    expect(estimateCost(spec, DEFAULT_RATES)).toEqual({
      currency: 'USD',
      total: 1.5264,
      cpu: 0.3456, // 4 x 1800 x 0.000048
      memory: 0.1728, // 16 GiB x 1800 x 0.000006
      gpu: 1.008, // 2 x 1800 x 0.00028
      basis: 'timeout_s',
    });
  });

  it('is zero for GPUs when none are asked for', () => {
    expect(estimateCost({ ...spec, gpu_count: 0 }, DEFAULT_RATES).gpu).toBe(0);
  });

  it('charges every replica of a gang', () => {
    expect(estimateCost({ ...spec, replicas: 3 }, DEFAULT_RATES).total).toBe(4.5792);
  });

  it('jobs that cost the same share one frozen estimate; other rates give another', () => {
    const a = estimateCost(spec, DEFAULT_RATES);
    expect(estimateCost({ ...spec }, { ...DEFAULT_RATES })).toBe(a);
    // Half the CPU for twice the time costs the same: the same value, so the same object.
    expect(estimateCost({ ...spec, cpu: 2, timeout_s: 3600, memory_mb: 8192, gpu_count: 1 }, DEFAULT_RATES)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    const dearer = estimateCost(spec, { ...DEFAULT_RATES, gpuPerGpuSecond: 0.00056 });
    expect(dearer).not.toBe(a);
    expect(dearer.gpu).toBe(2.016);
    expect(dearer.total).toBe(2.5344);
  });

  it('parts always sum to the total (to the micro-dollar)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8000 }),
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 1, max: 86400 }),
        (milli, mem, gpu, t) => {
          const c = estimateCost({ cpu: milli / 1000, memory_mb: mem, gpu_count: gpu, timeout_s: t, replicas: 1 }, DEFAULT_RATES);
          return Math.round((c.cpu + c.memory + c.gpu) * 1e6) === Math.round(c.total * 1e6);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('checkBounds', () => {
  it('accepts values at the limits', () => {
    expect(() => checkBounds({ ...spec, cpu: 8, memory_mb: 32768, gpu_count: 4, timeout_s: 3600, replicas: 8 }, bounds)).not.toThrow();
  });

  it.each([
    ['cpu', { cpu: 8.001 }, 8.001, 8],
    ['memory_mb', { memory_mb: 32769 }, 32769, 32768],
    ['gpu_count', { gpu_count: 5 }, 5, 4],
    ['timeout_s', { timeout_s: 3601 }, 3601, 3600],
    ['replicas', { replicas: 9 }, 9, 8],
    ['cpu', { cpu: 1e300 }, 1e300, 8],
  ])('refuses %s over its bound with 422 naming bound, requested and limit', (bound, patch, requested, limit) => {
    const err = caught(() => checkBounds({ ...spec, ...patch }, bounds));
    expect(err.code).toBe('LIMIT_EXCEEDED');
    expect(err.status).toBe(422);
    expect(err.details).toEqual({ bound, requested, limit });
    expect(err.message).toContain(`${bound} ${requested}`);
    expect(err.message).toContain(`limit of ${limit}`);
  });
});

describe('resourcesOf', () => {
  it('counts every replica, in millicores, and shares one frozen value between jobs that hold the same', () => {
    const one = resourcesOf({ cpu: 0.5, memory_mb: 1024, gpu_count: 1, replicas: 3 });
    expect(one).toEqual({ cpuMilli: 1500, memoryMb: 3072, gpu: 3 });
    expect(Object.isFrozen(one)).toBe(true);
    expect(resourcesOf({ cpu: 1.5, memory_mb: 3072, gpu_count: 3, replicas: 1 })).toBe(one);
    expect(resourcesOf({ cpu: 0.5, memory_mb: 1024, gpu_count: 1, replicas: 2 })).toEqual({ cpuMilli: 1000, memoryMb: 2048, gpu: 2 });
  });
});

describe('QuotaLedger', () => {
  const gpus = (n: number) => resourcesOf({ ...spec, gpu_count: n });

  it('admits up to the quota and names in-use, requested and quota when refusing', () => {
    const ledger = new QuotaLedger();
    ledger.reserve('j1', 'team-a', gpus(4), { gpu: 8 });
    ledger.reserve('j2', 'team-a', gpus(4), { gpu: 8 });
    const err = caught(() => ledger.reserve('j3', 'team-a', gpus(1), { gpu: 8 }));
    expect(err.code).toBe('QUOTA_EXCEEDED');
    expect(err.status).toBe(403);
    expect(err.details).toEqual({ resource: 'GPUs', tenant: 'team-a', in_use: 8, requested: 1, quota: 8 });
    expect(ledger.inUse('team-a').gpu).toBe(8);
  });

  it('keeps tenants apart', () => {
    const ledger = new QuotaLedger();
    ledger.reserve('j1', 'team-a', gpus(8), { gpu: 8 });
    expect(() => ledger.reserve('j2', 'team-b', gpus(8), { gpu: 8 })).not.toThrow();
  });

  it('CPU-only jobs never hit the GPU quota even when it is used up', () => {
    const ledger = new QuotaLedger();
    ledger.reserve('j1', 'team-a', gpus(8), { gpu: 8 });
    expect(() => ledger.reserve('j2', 'team-a', gpus(0), { gpu: 8 })).not.toThrow();
  });

  it('releases exactly once', () => {
    const ledger = new QuotaLedger();
    ledger.reserve('j1', 'team-a', gpus(4), { gpu: 8 });
    ledger.reserve('j2', 'team-a', gpus(4), { gpu: 8 });
    expect(ledger.release('j1')).toBe(true);
    expect(ledger.release('j1')).toBe(false);
    expect(ledger.inUse('team-a').gpu).toBe(4);
    expect(ledger.totalGpu()).toBe(4);
  });

  it('reserving the same job twice holds once (rebuilds are idempotent)', () => {
    const ledger = new QuotaLedger();
    ledger.add('j1', 'team-a', gpus(2));
    ledger.add('j1', 'team-a', gpus(2));
    expect(ledger.inUse('team-a').gpu).toBe(2);
  });

  it('never admits more than the quota for any order of reserves and releases', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ op: fc.constant('r' as const), gpus: fc.integer({ min: 0, max: 4 }) }), fc.record({ op: fc.constant('x' as const), idx: fc.nat() })), { maxLength: 200 }),
        (ops) => {
          const ledger = new QuotaLedger();
          const held: string[] = [];
          let n = 0;
          for (const op of ops) {
            if (op.op === 'r') {
              const id = `j${n++}`;
              try {
                ledger.reserve(id, 't', gpus(op.gpus), { gpu: 8 });
                held.push(id);
              } catch {
                // refused: fine
              }
            } else if (held.length > 0) {
              const [id] = held.splice(op.idx % held.length, 1);
              ledger.release(id as string);
            }
            if (ledger.inUse('t').gpu > 8) return false;
          }
          return true;
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('TokenBucketLimiter', () => {
  it('allows a burst, then refuses with whole seconds until the next token', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(60, 3, () => now); // one token a second
    expect([1, 2, 3].map(() => limiter.take('t').allowed)).toEqual([true, true, true]);
    expect(limiter.take('t')).toEqual({ allowed: false, retryAfterS: 1 });
    now = 999;
    expect(limiter.take('t')).toEqual({ allowed: false, retryAfterS: 1 });
    now = 1000;
    expect(limiter.take('t').allowed).toBe(true);
  });

  it('rounds Retry-After up to whole seconds for slow rates', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(6, 1, () => now); // one token per 10 s
    expect(limiter.take('t').allowed).toBe(true);
    expect(limiter.take('t')).toEqual({ allowed: false, retryAfterS: 10 });
    now = 2500;
    expect(limiter.take('t')).toEqual({ allowed: false, retryAfterS: 8 });
  });

  it('keeps tenants apart', () => {
    const limiter = new TokenBucketLimiter(60, 1, () => 0);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
  });

  it('refund gives a token back, never above the burst', () => {
    const limiter = new TokenBucketLimiter(60, 1, () => 0);
    limiter.take('a');
    limiter.refund('a');
    expect(limiter.take('a').allowed).toBe(true);
  });

  it('evicts idle buckets: memory stays bounded with 100,000 tenants', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(60, 10, () => now); // full again after 10 s
    for (let i = 0; i < 100_000; i++) limiter.take(`tenant-${i}`);
    expect(limiter.size).toBe(100_000);
    now = 10_000;
    limiter.take('late');
    expect(limiter.size).toBe(1);
  });

  it('eviction never changes an answer', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(60, 2, () => now);
    limiter.take('a');
    limiter.take('a');
    now = 1999; // not yet full: must not be evicted
    limiter.take('b');
    expect(limiter.take('a')).toEqual({ allowed: true, retryAfterS: 0 });
    expect(limiter.take('a').allowed).toBe(false);
  });
});

describe('deepFreeze and immutableKubeObject', () => {
  it('deepFreeze freezes every object and array in a value; parts frozen already are taken as done', () => {
    const shared = Object.freeze({ a: [1] }); // frozen already: not walked
    const value = deepFreeze({ list: [{ x: 1 }], nested: { deeper: { y: 'z' } }, shared, n: 1 });
    expect([value, value.list, value.list[0], value.nested, value.nested.deeper, value.shared].every(Object.isFrozen)).toBe(true);
    expect(Object.isFrozen(shared.a)).toBe(false);
    expect(isImmutable(value)).toBe(false); // only immutableKubeObject marks
    expect(() => {
      (value.nested.deeper as { y: string }).y = 'w';
    }).toThrow(TypeError);
    expect(deepFreeze(3)).toBe(3);
    expect(deepFreeze(null)).toBe(null);
  });

  it('immutableKubeObject builds a frozen object marked immutable, invisibly to JSON and keys; a copy is not marked', () => {
    const metadata = deepFreeze({ name: 'j1', labels: { a: 'b' } });
    const spec = deepFreeze({ x: [1] });
    const value = immutableKubeObject<{ apiVersion: string; kind: string; metadata: typeof metadata; spec: typeof spec }>('v1', 'Thing', metadata, spec);
    expect(Object.isFrozen(value)).toBe(true);
    expect(isImmutable(value)).toBe(true);
    expect(isImmutable(spec)).toBe(false);
    expect(value.metadata).toBe(metadata);
    expect(value.spec).toBe(spec);
    expect(Object.keys(value)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(JSON.stringify(value)).toBe('{"apiVersion":"v1","kind":"Thing","metadata":{"name":"j1","labels":{"a":"b"}},"spec":{"x":[1]}}');
    expect(value).toEqual({ apiVersion: 'v1', kind: 'Thing', metadata: { name: 'j1', labels: { a: 'b' } }, spec: { x: [1] } });
    expect(() => {
      (value as { kind: string }).kind = 'Other';
    }).toThrow(TypeError);
    expect(isImmutable({ ...value })).toBe(false);
    expect(isImmutable(Object.freeze({ ...value }))).toBe(false);
    expect(isImmutable(JSON.parse(JSON.stringify(value)) as object)).toBe(false);
    expect(isImmutable(structuredClone(value))).toBe(false);
  });
});

describe('ShapeMemo', () => {
  it('makes a value once per key, tells keys apart at every level, and starts over when full', () => {
    const made: string[] = [];
    const memo = new ShapeMemo<{ key: string }, string>(4, (key) => {
      made.push(key);
      return { key };
    });
    const first = memo.get('a', 1, 2, 3, 'a/1/2/3');
    expect(memo.get('a', 1, 2, 3, 'ignored: the key is held')).toBe(first);
    for (const [a, b, c, d] of [['b', 1, 2, 3], ['a', 9, 2, 3], ['a', 1, 9, 3]] as const) memo.get(a, b, c, d, `${a}/${b}/${c}/${d}`);
    expect(made).toEqual(['a/1/2/3', 'b/1/2/3', 'a/9/2/3', 'a/1/9/3']);
    // Four held: the next lookup starts over, so even a held key is made again.
    expect(memo.get('a', 1, 2, 3, 'a/1/2/3 again')).toEqual({ key: 'a/1/2/3 again' });
    expect(memo.get('a', 1, 2, 4, 'a/1/2/4').key).toBe('a/1/2/4');
    expect(made).toEqual(['a/1/2/3', 'b/1/2/3', 'a/9/2/3', 'a/1/9/3', 'a/1/2/3 again', 'a/1/2/4']);
  });

  it('takes a string as its second key, and hands make the first two keys', () => {
    const memo = new ShapeMemo<string, number>(10, (n, a, b) => `${a}:${String(b)}:${n}`);
    expect(memo.get('team-a', 'batch', 1, 0, 7)).toBe('team-a:batch:7');
    expect(memo.get('team-a', 'batch', 1, 0, 8)).toBe('team-a:batch:7');
    expect(memo.get('team-a', 'default', 1, 0, 8)).toBe('team-a:default:8');
  });
});

describe('attemptJobName', () => {
  it('names attempt n of a job <id>-<n>, the same for the same arguments, whatever was asked before', () => {
    const calls: [string, number, string][] = [
      ['j0000000000000001', 1, 'j0000000000000001-1'],
      ['j0000000000000001', 1, 'j0000000000000001-1'],
      ['j0000000000000001', 2, 'j0000000000000001-2'],
      ['j0000000000000002', 2, 'j0000000000000002-2'],
      ['j0000000000000001', 1, 'j0000000000000001-1'],
    ];
    for (const [id, attempt, name] of calls) expect(attemptJobName(id, attempt)).toBe(name);
  });
});

describe('JobIdGenerator', () => {
  it('makes short, unique, sortable DNS labels', () => {
    let now = Date.UTC(2026, 10, 25);
    const gen = new JobIdGenerator(() => now);
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 100 === 0) now += 1;
      ids.push(gen.next());
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) {
      expect(id).toMatch(JOB_ID_PATTERN);
      expect(id).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(`${id}-99-abcde`.length).toBeLessThanOrEqual(63);
    }
  });

  it('stays ordered when the clock goes backwards', () => {
    let now = 1000;
    const gen = new JobIdGenerator(() => now);
    const a = gen.next();
    now = 500;
    expect(gen.next() > a).toBe(true);
  });
});
