/**
 * Leader election on a Lease, with client-go's semantics: the leader renews every retry period and
 * stops leading the moment it has not renewed for `renewDeadline`; a candidate takes the lease once
 * the holder has not renewed it for `leaseDuration`, measured on the candidate's own clock from when
 * it last saw the record change (so clock skew between replicas does not matter). Only the leader
 * admits and writes; `isLeader()` is checked on every write, so losing the lease stops admission at once.
 */

export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: number;
  renewTime: number;
  leaseTransitions: number;
}

/** Where the lease lives (a coordination.k8s.io/v1 Lease in kube). Updates are compare-and-swap. */
export interface LeaseStore {
  get(): Promise<{ record: LeaseRecord; version: string } | undefined>;
  create(record: LeaseRecord): Promise<void>;
  /** Rejects when `version` is no longer current (someone else wrote in between). */
  update(record: LeaseRecord, version: string): Promise<void>;
}

export interface LeaderElectionTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: LeaderElectionTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export interface Leadership {
  isLeader(): boolean;
  /** The identity of the current holder as last observed. */
  leader(): string | undefined;
}

export class LeaderElector implements Leadership {
  private observed: LeaseRecord | undefined;
  private observedAt = 0;
  private lastRenew = -Infinity;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    readonly identity: string,
    private readonly store: LeaseStore,
    private readonly timings: LeaderElectionTimings = DEFAULT_TIMINGS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called with true when this replica starts leading and false when it stops. */
  onChange: (leading: boolean) => void = () => undefined;

  isLeader(): boolean {
    if (this.leading && this.now() - this.lastRenew >= this.timings.renewDeadlineMs) this.setLeading(false);
    return this.leading;
  }

  leader(): string | undefined {
    return this.observed?.holderIdentity || undefined;
  }

  /** One acquire-or-renew attempt; returns whether this replica leads afterwards. */
  async tick(): Promise<boolean> {
    const now = this.now();
    const seconds = Math.round(this.timings.leaseDurationMs / 1000);
    try {
      const current = await this.store.get();
      if (!current) {
        await this.store.create({ holderIdentity: this.identity, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now, leaseTransitions: 0 });
        this.observe({ holderIdentity: this.identity, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now, leaseTransitions: 0 }, now);
        return this.renewed(now);
      }
      const { record, version } = current;
      if (!this.observed || this.observed.holderIdentity !== record.holderIdentity || this.observed.renewTime !== record.renewTime) {
        this.observe(record, now);
      }
      const heldByOther = record.holderIdentity !== '' && record.holderIdentity !== this.identity;
      if (heldByOther && this.observedAt + record.leaseDurationSeconds * 1000 > now) {
        this.setLeading(false);
        return false;
      }
      const takingOver = record.holderIdentity !== this.identity;
      const next: LeaseRecord = {
        holderIdentity: this.identity,
        leaseDurationSeconds: seconds,
        acquireTime: takingOver ? now : record.acquireTime,
        renewTime: now,
        leaseTransitions: takingOver ? record.leaseTransitions + 1 : record.leaseTransitions,
      };
      await this.store.update(next, version);
      this.observe(next, now);
      return this.renewed(now);
    } catch {
      // A failed call is not fatal: keep leading until the renew deadline passes, then step down.
      return this.isLeader();
    }
  }

  /** Runs tick() every retry period until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = () => {
      void this.tick().finally(() => {
        if (!this.running) return;
        this.timer = setTimeout(loop, this.timings.retryPeriodMs);
        this.timer.unref();
      });
    };
    loop();
  }

  /** Stops campaigning without touching the lease, as a crashed process would (for tests and drills). */
  abandon(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.setLeading(false);
  }

  /** Stops campaigning; a leader gives the lease up so another replica can take over at once. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const current = await this.store.get();
      if (current?.record.holderIdentity === this.identity) {
        await this.store.update({ ...current.record, holderIdentity: '', renewTime: this.now() }, current.version);
      }
    } catch {
      // best effort: the lease expires by itself
    }
  }

  private observe(record: LeaseRecord, now: number): void {
    this.observed = record;
    this.observedAt = now;
  }

  private renewed(now: number): boolean {
    this.lastRenew = now;
    this.setLeading(true);
    return true;
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.onChange(leading);
  }
}

/** The single-replica case (the embedded cluster, or leader election switched off). */
export const ALWAYS_LEADER: Leadership = { isLeader: () => true, leader: () => undefined };
