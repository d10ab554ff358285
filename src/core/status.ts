/**
 * Job statuses and how they are derived from what Kubernetes reports. `deriveAttemptStatus` is the
 * single mapping from a batch/v1 Job and its pods to a Runway status, used for both cluster adapters.
 */
import type { CostEstimate } from './cost.js';
import type { K8sJob, K8sPod } from './k8s.js';

export const JOB_STATUSES = [
  'QUEUED',
  'PENDING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'DEADLINE',
  'RETRYING',
  'DEAD_LETTER',
  'CANCELLED',
  'PREEMPTED',
] as const;

export type JobPhase = (typeof JOB_STATUSES)[number];

/** Phases after which a job holds no quota and nothing more happens unless a user retries it. */
export const TERMINAL_PHASES: ReadonlySet<JobPhase> = new Set<JobPhase>([
  'SUCCEEDED',
  'FAILED',
  'DEADLINE',
  'DEAD_LETTER',
  'CANCELLED',
]);

export function isTerminal(phase: JobPhase): boolean {
  return TERMINAL_PHASES.has(phase);
}

/** Phases of a job waiting for the scheduling cycle to (re-)admit it; it holds no quota meanwhile. */
export const WAITING_PHASES: ReadonlySet<JobPhase> = new Set<JobPhase>(['QUEUED', 'PREEMPTED', 'RETRYING']);

export function isWaiting(phase: JobPhase): boolean {
  return WAITING_PHASES.has(phase);
}

export interface StatusCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
}

/** The status of an AIJob: what the API serves and what is written to the custom resource. */
export interface AIJobStatus {
  phase: JobPhase;
  reason?: string;
  message?: string;
  exitCode?: number;
  /** Pods started for the current attempt Job (Kubernetes retries via backoffLimit). */
  attempts: number;
  /** Runway-level attempt number: the suffix of the current Job name. */
  attempt: number;
  startTime?: string;
  completionTime?: string;
  estimatedCost?: CostEstimate;
  conditions?: StatusCondition[];
  /** When the current attempt was admitted (its Job decided), for "most recently admitted" victims. */
  admittedAt?: string;
  /** The ComputeCluster (node pool) the current attempt was admitted to, when the scheduler chose one. */
  pool?: string;
  /** Failed attempts so far: what the retry budget is spent on (preemptions do not count). */
  failures?: number;
  /** Times the job was preempted. */
  preemptions?: number;
  /** RETRYING: when the next attempt is due. */
  nextAttemptAt?: string;
}

export interface AttemptStatus {
  phase: JobPhase;
  reason?: string;
  message?: string;
  exitCode?: number;
  attempts: number;
  startTime?: string;
  completionTime?: string;
}

function lastTerminated(pods: readonly K8sPod[]) {
  let best: { reason?: string; exitCode: number; finishedAt?: string } | undefined;
  for (const pod of pods) {
    for (const cs of pod.status?.containerStatuses ?? []) {
      const t = cs.state?.terminated;
      if (!t || t.exitCode === 0) continue;
      if (!best || (t.finishedAt ?? '') >= (best.finishedAt ?? '')) best = t;
    }
  }
  return best;
}

/** Why a pod waits: kube-scheduler's PodScheduled=False message, or the pod's own status message. */
function waitingMessage(pod: K8sPod): string | undefined {
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  return unscheduled?.message ?? pod.status?.message;
}

/** When the job first ran: the earliest container start (a Job's own startTime is set before any pod runs). */
function firstContainerStart(pods: readonly K8sPod[]): string | undefined {
  let first: string | undefined;
  for (const pod of pods) {
    for (const cs of pod.status?.containerStatuses ?? []) {
      const at = cs.state?.running?.startedAt ?? cs.state?.terminated?.startedAt;
      if (at && (!first || at < first)) first = at;
    }
  }
  return first;
}

/**
 * Maps a Job and its pods to a status:
 * Complete -> SUCCEEDED; Failed/DeadlineExceeded -> DEADLINE; Failed otherwise -> FAILED with the last
 * failed container's reason (OOMKilled, or Error with its exit code), or BackoffLimitExceeded when no
 * pod says more; otherwise RUNNING once a pod runs, else PENDING.
 */
export function deriveAttemptStatus(job: K8sJob, pods: readonly K8sPod[]): AttemptStatus {
  const st = job.status ?? {};
  const attempts = Math.max((st.active ?? 0) + (st.succeeded ?? 0) + (st.failed ?? 0), pods.length);
  // `s` is built by assignment, not `{ ...s, more }`: in V8 a spread followed by new keys makes a new
  // hidden class for every object (microseconds each, on every reconcile). Keys keep the same order.
  const s: AttemptStatus = { phase: 'PENDING', attempts };
  const started = firstContainerStart(pods);
  if (started) s.startTime = started;
  const done = (st.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');

  if (done?.type === 'Complete') {
    s.phase = 'SUCCEEDED';
    s.reason = 'Completed';
    s.exitCode = 0;
    s.completionTime = st.completionTime ?? done.lastTransitionTime;
    return s;
  }
  if (done?.type === 'Failed') {
    s.completionTime = done.lastTransitionTime ?? st.completionTime;
    const t = done.reason === 'DeadlineExceeded' ? undefined : lastTerminated(pods);
    const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    if (done.reason === 'DeadlineExceeded') {
      s.phase = 'DEADLINE';
      s.reason = 'DeadlineExceeded';
      s.message = done.message ?? `Job ran longer than ${job.spec.activeDeadlineSeconds} s`;
    } else if (t?.reason === 'OOMKilled') {
      s.phase = 'FAILED';
      s.reason = 'OOMKilled';
      s.exitCode = t.exitCode;
      s.message = `out of memory (exit ${t.exitCode}) after ${tries}; backoffLimit reached`;
    } else if (t) {
      s.phase = 'FAILED';
      s.reason = 'Error';
      s.exitCode = t.exitCode;
      s.message = `exited with code ${t.exitCode} after ${tries}; backoffLimit reached`;
    } else {
      s.phase = 'FAILED';
      s.reason = done.reason ?? 'BackoffLimitExceeded';
      s.message = done.message ?? `failed ${tries}`;
    }
    return s;
  }

  const running = pods.some((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
  if (running) {
    s.phase = 'RUNNING';
    return s;
  }
  const failedSoFar = st.failed ?? 0;
  if (failedSoFar > 0) {
    const t = lastTerminated(pods);
    const why = t ? (t.reason === 'OOMKilled' ? 'OOMKilled' : `exit ${t.exitCode}`) : 'a failure';
    s.message = `retrying after ${why} (${failedSoFar} failed)`;
    return s;
  }
  for (const pod of pods) {
    const why = waitingMessage(pod);
    if (why === undefined) continue;
    if (why) s.message = why;
    break;
  }
  return s;
}
