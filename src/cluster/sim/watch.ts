/**
 * One watcher's event stream. Events are queued in the order changes happen and delivered from a
 * microtask, so a watcher that writes to the cluster from onEvent never re-enters a mutation in
 * progress; its writes' events simply join the end of the queue.
 */
import type { ClusterEvent, ClusterWatcher } from '../types.js';

const SYNCED = Symbol('synced');
type Item = ClusterEvent | typeof SYNCED;

export class WatchStream {
  private queue: (Item | undefined)[] = [];
  private head = 0;
  private scheduled = false;
  private stopped = false;
  private onSyncedDelivered: (() => void) | undefined;

  constructor(private readonly watcher: ClusterWatcher) {}

  /** Queues the initial list; `synced` is called right after onSynced was delivered. */
  start(initial: ClusterEvent[], synced: () => void): void {
    for (const e of initial) this.queue.push(e);
    this.queue.push(SYNCED);
    this.onSyncedDelivered = synced;
    this.schedule();
  }

  push(event: ClusterEvent): void {
    if (this.stopped) return;
    this.queue.push(event);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.head = 0;
    // Whoever awaits watch() must not hang because the stream stopped before it synced.
    this.onSyncedDelivered?.();
    this.onSyncedDelivered = undefined;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.drain());
  }

  private drain(): void {
    while (!this.stopped && this.head < this.queue.length) {
      const item = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (item === undefined) continue;
      try {
        if (item === SYNCED) {
          this.watcher.onSynced();
        } else {
          this.watcher.onEvent(item);
        }
      } catch (err) {
        this.report(err);
      }
      if (item === SYNCED) {
        this.onSyncedDelivered?.();
        this.onSyncedDelivered = undefined;
      }
    }
    this.queue = [];
    this.head = 0;
    this.scheduled = false;
  }

  private report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.watcher.onError) {
      try {
        this.watcher.onError(error);
        return;
      } catch {
        // fall through: surface it rather than lose it
      }
    }
    queueMicrotask(() => {
      throw error;
    });
  }
}
