import { describe, expect, it } from 'vitest';
import { LeaderElector, type LeaseRecord, type LeaseStore } from '../../src/controller/leader-election.js';

/** An in-memory Lease with compare-and-swap updates, and a switch to make calls fail. */
class FakeLeaseStore implements LeaseStore {
  record: LeaseRecord | undefined;
  version = 0;
  down = false;
  async get() {
    if (this.down) throw new Error('API server down');
    return this.record ? { record: { ...this.record }, version: String(this.version) } : undefined;
  }
  async create(record: LeaseRecord) {
    if (this.down) throw new Error('API server down');
    if (this.record) throw new Error('AlreadyExists');
    this.record = { ...record };
    this.version++;
  }
  async update(record: LeaseRecord, version: string) {
    if (this.down) throw new Error('API server down');
    if (version !== String(this.version)) throw new Error('Conflict');
    this.record = { ...record };
    this.version++;
  }
}

describe('LeaderElector', () => {
  it('the first candidate takes the lease; the second waits while it is renewed', async () => {
    let now = 0;
    const store = new FakeLeaseStore();
    const a = new LeaderElector('a', store, undefined, () => now);
    const b = new LeaderElector('b', store, undefined, () => now);
    expect(await a.tick()).toBe(true);
    expect(await b.tick()).toBe(false);
    expect(b.leader()).toBe('a');
    for (let i = 0; i < 20; i++) {
      now += 2000;
      expect(await a.tick()).toBe(true);
      expect(await b.tick()).toBe(false);
    }
    expect(store.record?.leaseTransitions).toBe(0);
  });

  it('a candidate takes over once the holder has not renewed for the lease duration (15 s)', async () => {
    let now = 0;
    const store = new FakeLeaseStore();
    const a = new LeaderElector('a', store, undefined, () => now);
    const b = new LeaderElector('b', store, undefined, () => now);
    await a.tick();
    await b.tick(); // b observes a's record at t=0
    now = 14_000;
    expect(await b.tick()).toBe(false);
    now = 15_000;
    expect(await b.tick()).toBe(true);
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1, acquireTime: 15_000 });
    // a is told at its next attempt and does not lead any more.
    expect(await a.tick()).toBe(false);
    expect(a.isLeader()).toBe(false);
  });

  it('a leader that cannot renew stops leading at the renew deadline (10 s), not before', async () => {
    let now = 0;
    const store = new FakeLeaseStore();
    const changes: boolean[] = [];
    const a = new LeaderElector('a', store, undefined, () => now);
    a.onChange = (leading) => changes.push(leading);
    await a.tick();
    store.down = true;
    now = 9_999;
    expect(await a.tick()).toBe(true);
    now = 10_000;
    expect(a.isLeader()).toBe(false);
    expect(changes).toEqual([true, false]);
  });

  it('two candidates racing for an expired lease: exactly one wins', async () => {
    const now = 0;
    const store = new FakeLeaseStore();
    const a = new LeaderElector('a', store, undefined, () => now);
    const b = new LeaderElector('b', store, undefined, () => now);
    const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
    expect([ra, rb].filter(Boolean)).toHaveLength(1);
  });

  it('stop() hands the lease over at once', async () => {
    let now = 0;
    const store = new FakeLeaseStore();
    const a = new LeaderElector('a', store, undefined, () => now);
    const b = new LeaderElector('b', store, undefined, () => now);
    await a.tick();
    await b.tick();
    await a.stop();
    expect(a.isLeader()).toBe(false);
    now = 2_000;
    expect(await b.tick()).toBe(true);
  });
});
