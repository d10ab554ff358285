/** The submit path's cluster-call deadlines: one timer for all calls, each call still bounded. */
import { describe, expect, it } from 'vitest';
import { ClusterError } from '../../src/cluster/types.js';
import { Deadlines } from '../../src/controller/job-service.js';

const never = () => new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

async function outcome(p: Promise<unknown>): Promise<{ ok: unknown } | { err: unknown; atMs: number }> {
  const start = performance.now();
  return p.then(
    (ok) => ({ ok }),
    (err: unknown) => ({ err, atMs: performance.now() - start }),
  );
}

describe('Deadlines', () => {
  it('passes on what settles in time, value or error', async () => {
    const d = new Deadlines(200);
    await expect(d.wrap(Promise.resolve(7), 'a')).resolves.toBe(7);
    await expect(d.wrap(after(20, 'late but in time'), 'b')).resolves.toBe('late but in time');
    const boom = new Error('boom');
    await expect(d.wrap(Promise.reject(boom), 'c')).rejects.toBe(boom);
  });

  it('rejects what does not settle with ClusterError Unavailable, after the duration and not before', async () => {
    const d = new Deadlines(60);
    const res = await outcome(d.wrap(never(), 'creating the Job'));
    expect('err' in res && res.err).toBeInstanceOf(ClusterError);
    if (!('err' in res)) throw new Error('expected a rejection');
    expect((res.err as ClusterError).kind).toBe('Unavailable');
    expect((res.err as ClusterError).message).toBe('creating the Job timed out after 60 ms');
    expect(res.atMs).toBeGreaterThanOrEqual(59);
  });

  it('bounds every call, whichever settle first, with one timer re-armed for the next oldest', async () => {
    const d = new Deadlines(80);
    const first = outcome(d.wrap(never(), 'first'));
    await after(30, null);
    const settles = d.wrap(after(10, 'ok'), 'settles');
    const second = outcome(d.wrap(never(), 'second'));
    await expect(settles).resolves.toBe('ok');
    const [a, b] = await Promise.all([first, second]);
    expect('err' in a && (a.err as Error).message).toBe('first timed out after 80 ms');
    expect('err' in b && (b.err as Error).message).toBe('second timed out after 80 ms');
    // The second call started ~30 ms after the first: its deadline is its own, not the first's.
    if (!('err' in b)) throw new Error('expected a rejection');
    expect(b.atMs).toBeGreaterThanOrEqual(79);
    // Idle and then used again: still bounded.
    await after(100, null);
    const again = await outcome(d.wrap(never(), 'again'));
    expect('err' in again && (again.err as Error).message).toBe('again timed out after 80 ms');
  });
});
