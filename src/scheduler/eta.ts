/**
 * Estimated starts from running jobs' expected ends. A Timeline is the running jobs of one scope (a
 * pool, a tenant, a queue) sorted by expectedEndAt, with prefix sums of what they hold; "when are at
 * least `need` freed" is then a binary search per dimension (the prefix sums only grow), so the
 * cycle can afford one estimate per waiting job. Jobs without an expected end never count as freeing
 * anything, which makes every estimate an "at the earliest if nothing else changes", and an estimate
 * that needs them is unknown.
 */
import type { AdmittedJob } from './types.js';

export class Timeline {
  private readonly ends: Float64Array;
  private readonly cpu: Float64Array;
  private readonly mem: Float64Array;
  private readonly gpu: Float64Array;

  constructor(running: readonly AdmittedJob[]) {
    const known = running.filter((j) => j.expectedEndAt !== undefined);
    known.sort((a, b) => (a.expectedEndAt as number) - (b.expectedEndAt as number));
    const n = known.length;
    this.ends = new Float64Array(n);
    this.cpu = new Float64Array(n + 1);
    this.mem = new Float64Array(n + 1);
    this.gpu = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const j = known[i] as AdmittedJob;
      this.ends[i] = j.expectedEndAt as number;
      this.cpu[i + 1] = (this.cpu[i] as number) + j.perPod.cpuMilli * j.replicas;
      this.mem[i + 1] = (this.mem[i] as number) + j.perPod.memoryMb * j.replicas;
      this.gpu[i + 1] = (this.gpu[i] as number) + j.perPod.gpu * j.replicas;
    }
  }

  /**
   * The earliest expected end by which the jobs ended free at least the given amounts (each <= 0 means
   * none needed; `jobs` counts jobs, for concurrency limits). When nothing is needed the answer is the
   * next end (something has to change first). Undefined when the known ends never free enough.
   */
  whenFreed(cpuMilli: number, memoryMb: number, gpu: number, jobs: number): number | undefined {
    const n = this.ends.length;
    let k = Math.max(1, Math.ceil(jobs));
    k = Math.max(k, lowerBound(this.cpu, cpuMilli), lowerBound(this.mem, memoryMb), lowerBound(this.gpu, gpu));
    return k <= n ? this.ends[k - 1] : undefined;
  }
}

/** Smallest k with prefix[k] >= need (prefix is non-decreasing, prefix[0] = 0); prefix.length if none. */
function lowerBound(prefix: Float64Array, need: number): number {
  if (need <= 0) return 0;
  let lo = 1;
  let hi = prefix.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((prefix[mid] as number) >= need) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
