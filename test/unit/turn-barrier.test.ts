import { describe, expect, it } from 'vitest';
import { TurnBarrier } from '../../src/controller/turn-barrier.js';

const nextCheckPhase = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnBarrier', () => {
  it("resolves every caller of a turn at the turn's end, once, in the order they called", async () => {
    const barrier = new TurnBarrier();
    const order: string[] = [];
    const a = barrier.wait();
    const b = barrier.wait();
    expect(b).toBe(a);
    void a.then(() => order.push('first'));
    void b.then(() => order.push('second'));
    for (let i = 0; i < 5; i++) await Promise.resolve(); // microtasks alone do not end the turn
    expect(order).toEqual([]);
    await nextCheckPhase(); // queued after the barrier's: it has resolved by now
    expect(order).toEqual(['first', 'second']);
  });

  it('gathers callers from separate callbacks of one phase, and starts a new batch for the next turn', async () => {
    const barrier = new TurnBarrier();
    const seen = await new Promise<Promise<void>[]>((resolve) => {
      const waits: Promise<void>[] = [];
      setImmediate(() => waits.push(barrier.wait()));
      setImmediate(() => {
        waits.push(barrier.wait());
        resolve(waits);
      });
    });
    expect(seen[1]).toBe(seen[0]);
    await seen[0];
    const later = barrier.wait();
    expect(later).not.toBe(seen[0]);
    await expect(later).resolves.toBeUndefined();
  });
});
