import { describe, expect, it } from 'vitest';
import { QueueIndex, pairsOf } from '../../src/scheduler/index.js';
import type { QueuedJob } from '../../src/scheduler/types.js';
import { job, r } from './scheduler-fixtures.js';

const ids = (jobs: readonly QueuedJob[]): string[] => jobs.map((j) => j.id);

describe('QueueIndex', () => {
  it('groups jobs per (tenant, queue, priority), FIFO by queuedAt then id, whatever the order they come in', () => {
    const index = new QueueIndex();
    for (const j of [job('c', { queuedAt: 5 }), job('a', { queuedAt: 5 }), job('b', { queuedAt: 1 }), job('x', { tenant: 'b' }), job('p', { priority: 3 })]) index.add(j);
    const pairs = index.pairs();
    expect(pairs.map((p) => [p.tenant, p.queue, p.priority, ids(p.jobs)])).toEqual([
      ['a', 'batch', 0, ['b', 'a', 'c']],
      ['b', 'batch', 0, ['x']],
      ['a', 'batch', 3, ['p']],
    ]);
    expect(index.size).toBe(5);
    expect(index.get('a')?.queuedAt).toBe(5);
  });

  it('replaces a job added again under the same id, and forgets removed ones (an emptied pair goes)', () => {
    const index = new QueueIndex();
    index.add(job('a', { queuedAt: 1 }));
    index.add(job('b', { queuedAt: 2 }));
    index.add(job('a', { queuedAt: 3, notBefore: 50 }));
    expect(ids(index.pairs()[0]?.jobs ?? [])).toEqual(['b', 'a']);
    expect(index.size).toBe(2);
    expect(index.remove('b')).toBe(true);
    expect(index.remove('b')).toBe(false);
    expect(index.remove('a')).toBe(true);
    expect(index.pairs()).toEqual([]);
    expect(index.size).toBe(0);
  });

  it('keeps the smallest requests of each pair, exact again after a job at a bound leaves', () => {
    const index = new QueueIndex();
    index.add(job('big', { queuedAt: 1, perPod: r(8, 4096, 2), replicas: 2 }));
    index.add(job('small', { queuedAt: 2, perPod: r(1, 1024, 1) }));
    expect(index.pairs()[0]).toMatchObject({ minPod: r(1, 1024, 1), minReq: r(1, 1024, 1) });
    index.remove('small');
    expect(index.pairs()[0]).toMatchObject({ minPod: r(8, 4096, 2), minReq: r(16, 8192, 4) });
  });

  it('leaves out the excluded jobs without changing its own lists', () => {
    const index = new QueueIndex();
    for (const id of ['a', 'b', 'c']) index.add(job(id, { queuedAt: id.charCodeAt(0) }));
    index.add(job('d', { tenant: 'b' }));
    expect(index.pairs(new Set(['b', 'd'])).map((p) => ids(p.jobs))).toEqual([['a', 'c']]);
    expect(index.pairs().map((p) => ids(p.jobs))).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('knows when the earliest retry backoff ends', () => {
    const index = new QueueIndex();
    index.add(job('a', { notBefore: 300 }));
    index.add(job('b', { notBefore: 100 }));
    index.add(job('c'));
    expect(index.nextBackoffEnd(0)).toBe(100);
    expect(index.nextBackoffEnd(100)).toBe(300);
    expect(index.nextBackoffEnd(300)).toBeUndefined();
    index.remove('a');
    expect(index.nextBackoffEnd(100)).toBeUndefined();
  });
});

describe('pairsOf', () => {
  it('groups a plain list the same way, with exact bounds', () => {
    const pairs = pairsOf([job('b', { queuedAt: 2, perPod: r(2) }), job('a', { queuedAt: 1, perPod: r(4) }), job('x', { queue: 'other' })]);
    expect(pairs.map((p) => [p.queue, ids(p.jobs), p.minPod.cpuMilli])).toEqual([
      ['batch', ['a', 'b'], 2000],
      ['other', ['x'], 1000],
    ]);
  });
});
