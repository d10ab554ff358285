/**
 * What a pool, a tenant and a queue share in the cycle: the admitted jobs they hold, and the two views
 * built from those on demand, at most once a cycle (ETAs need a timeline, preemption a victim list).
 */
import { Timeline } from './eta.js';
import { VictimList, type Running } from './preemption.js';
import type { AdmittedJob } from './types.js';

export class Holders {
  readonly running: AdmittedJob[] = [];
  private timelineCache: Timeline | undefined;
  private victimsCache: VictimList | undefined;

  /** When what they hold frees up, from the jobs' expected ends (for ETAs). */
  timeline(): Timeline {
    return (this.timelineCache ??= new Timeline(this.running));
  }

  /** Their admitted jobs that may be preempted, as victim candidates (`candidates` filters and wraps them for the cycle). */
  victims(candidates: (jobs: readonly AdmittedJob[]) => Running[]): VictimList {
    return (this.victimsCache ??= new VictimList(candidates(this.running)));
  }

  victimsIfBuilt(): VictimList | undefined {
    return this.victimsCache;
  }
}
