/**
 * Group commit for the submit path. Submissions admitted during one turn of the event loop wait here
 * for the turn's end (its check phase: one setImmediate shared by all of them), then write to the
 * cluster back to back, and answer back to back.
 *
 * Without it, each request runs its whole path, from the HTTP parser to the cluster writes and back to
 * the socket write, before the next request's read callback starts. Under load, every request then
 * finds the CPU caches full of the previous request's HTTP, kernel and cluster code and data: the same
 * submission cost ~2.5 times as much CPU through HTTP as in a loop, and the answers, written one at a
 * time, woke the client once each. Batched, a turn parses every request that came with it, then writes
 * every job, then answers: ~40% less CPU per submission under load (docs/performance.md, sixth pass).
 * At low load a batch is one submission, and the wait is one hop of the event loop.
 */
export class TurnBarrier {
  private pending: Promise<void> | undefined;

  /** Resolves at the end of the current turn, once for every caller of the turn, in the order they called. */
  wait(): Promise<void> {
    this.pending ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        this.pending = undefined;
        resolve();
      });
    });
    return this.pending;
  }
}
