/**
 * What a simulated container does, read from the `sim.runway.dev/*` pod annotations (the same
 * contract the test kubelet follows against a real control plane). Bad values fall back to the
 * defaults: a typo in an annotation must never crash the cluster.
 */
import { SIM_DURATION_S, SIM_EXIT_CODE, SIM_FAIL_ATTEMPTS, SIM_OOM } from '../../core/k8s.js';

export const DEFAULT_DURATION_S = 5;
export const OOM_EXIT_CODE = 137;

export interface Workload {
  durationS: number;
  exitCode: number;
  oom: boolean;
  failAttempts: number;
}

export interface Outcome {
  phase: 'Succeeded' | 'Failed';
  reason: 'Completed' | 'Error' | 'OOMKilled';
  exitCode: number;
}

/** What a pod without `sim.runway.dev/*` annotations does (shared: workloads are never changed). */
const DEFAULT_WORKLOAD: Workload = Object.freeze({ durationS: DEFAULT_DURATION_S, exitCode: 0, oom: false, failAttempts: 0 });

export function parseWorkload(annotations: Record<string, string> | undefined): Workload {
  const a = annotations ?? {};
  if (a[SIM_DURATION_S] === undefined && a[SIM_EXIT_CODE] === undefined && a[SIM_OOM] === undefined && a[SIM_FAIL_ATTEMPTS] === undefined) {
    return DEFAULT_WORKLOAD;
  }
  const duration = Number(a[SIM_DURATION_S]);
  const exit = Number(a[SIM_EXIT_CODE]);
  const failAttempts = Number(a[SIM_FAIL_ATTEMPTS]);
  return {
    durationS: a[SIM_DURATION_S] !== undefined && a[SIM_DURATION_S].trim() !== '' && Number.isFinite(duration) && duration >= 0 ? duration : DEFAULT_DURATION_S,
    exitCode: Number.isInteger(exit) && exit >= 0 && exit <= 255 ? exit : 0,
    oom: (a[SIM_OOM] ?? '').trim().toLowerCase() === 'true',
    failAttempts: Number.isInteger(failAttempts) && failAttempts > 0 ? failAttempts : 0,
  };
}

/**
 * The outcome of one pod, given how many pods of the same Runway job started before it. With
 * fail-attempts, it alone decides which pods fail (OOM if oom is set, else the exit code or 1), so
 * "OOM twice, then succeed" is expressible; without it, oom wins over a non-zero exit code.
 */
export function outcomeFor(w: Workload, priorStarts: number): Outcome {
  const failure: Outcome = w.oom
    ? { phase: 'Failed', reason: 'OOMKilled', exitCode: OOM_EXIT_CODE }
    : { phase: 'Failed', reason: 'Error', exitCode: w.exitCode !== 0 ? w.exitCode : 1 };
  const success: Outcome = { phase: 'Succeeded', reason: 'Completed', exitCode: 0 };
  if (w.failAttempts > 0) return priorStarts < w.failAttempts ? failure : success;
  if (w.oom || w.exitCode !== 0) return failure;
  return success;
}
