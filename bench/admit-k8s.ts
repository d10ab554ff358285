/**
 * `npm run bench:admit-k8s`: how fast Runway admits a backlog on the real test control plane (etcd +
 * kube-apiserver + kube-controller-manager + kube-scheduler 1.20, see test/k8s/harness), against a raw
 * client making the same API writes at the same concurrency. Prints one JSON line.
 *
 * - runway: BENCH_JOBS jobs (CPU-only, many tenants) wait in a queued AIJobQueue closed by
 *   maxConcurrency 0. The bench patches the queue (through the API server, as an operator would) to
 *   maxConcurrency 1,000,000 and times until every job is admitted and its Job exists, as seen by
 *   Runway's own caches: the JobStore holds an admitted status (not QUEUED, with admittedAt) and the
 *   controller's Job cache holds `<id>-1`. These caches are fed by watches (the status also by the
 *   write's answer), so the time includes the watch that delivers the opened queue to Runway's policy
 *   cache, the scheduling cycle, the writes (per job a conditional AIJob status update, then the Job
 *   create; at most RUNWAY_ADMIT_CONCURRENCY at once) and the lag of the Job watch events.
 *   admissions_per_s = jobs / that time.
 * - raw: as many AIJobs, created beforehand in the bench-raw namespace (a copy of the jobs namespace's
 *   RBAC and guardrails, see k8s-common.ts) with the body of Runway's queued intent; then, timed, per
 *   job and at the same concurrency, the writes Runway's admit() makes: the status subresource update
 *   (the same JSON Patch, with the resourceVersion held) then the create of the same Job manifest, with
 *   @kubernetes/client-node as the same ServiceAccount. No watch: it is done when its last write is
 *   answered. raw_per_s = jobs / that wall time (jobs' worth of raw writes per second).
 *
 * Order: control plane, BENCH_NODES nodes, the project's manifests, the closed queues (`warmup`,
 * `gate-1` .. `gate-<BENCH_ROUNDS>`), Runway. Warm-up, discarded: BENCH_WARMUP_JOBS through the raw
 * client, then through Runway (queue `warmup`). Then BENCH_ROUNDS rounds; in each, untimed, the raw
 * AIJobs are created and BENCH_JOBS jobs submitted to Runway over HTTP (every answer must be 202
 * QUEUED) until its controller counts them all as waiting; then both clients are timed, raw first in
 * odd rounds and Runway first in even ones. Rates are jobs over the summed time of all rounds.
 *
 * Before and after every timed phase the bench waits for quiet: two seconds in a row with the control
 * plane under 0.5 cores and this process under 0.25, and no status write by Runway for a second. The
 * Job controller does not catch up: at kube-controller-manager's default client rate limit (20 requests/s,
 * a pod create, an event and a Job status update per Job) it creates ~6 pods/s, so every phase but the
 * first runs while it trickles out earlier phases' pods (~0.2 cores; `background_cores`). Runway's own
 * pods therefore mostly appear after its phase; their watch events (and the status write each brings)
 * are not in the measurement, for either client.
 *
 * Besides the required fields the line says where time goes: CPU per job, during the timed phases, of
 * this process (Runway runs here; for raw, the client) and of the control plane; Runway's status writes
 * per job (1 = the admissions only) and scheduling cycles until quiet; event-loop delay p99.
 *
 * Environment: BENCH_JOBS (5000), BENCH_ROUNDS (2), BENCH_WARMUP_JOBS (200), BENCH_TENANTS (200),
 * BENCH_ADMIT_CONCURRENCY (Runway's default RUNWAY_ADMIT_CONCURRENCY, 32; given to Runway and used by
 * the raw client), BENCH_SUBMIT_CONCURRENCY (32, the untimed submissions), BENCH_NODES (room for every
 * pod of both clients at 500 pods a node, at least 20), BENCH_TIMEOUT_S (600, per wait), BENCH_LOG (0;
 * 1 prints progress on stderr, 2 also every second spent waiting for quiet), BENCH_PROFILE (0; 1 also
 * prints the API server's requests per job of each phase, from its /metrics), BENCH_CPU_PROFILE (0; 1
 * writes a CPU profile of this process around each timed Runway phase to BENCH_PROFILE_DIR (/tmp); the
 * profiler slows Runway down).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { PatchStrategy, setHeaderOptions, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { AIJOB_PLURAL, GROUP, KubeApiPool, POLICY_PLURALS, VERSION } from '../src/cluster/kube/kube-cluster.js';
import type { AIJob } from '../src/cluster/types.js';
import { loadConfig } from '../src/config.js';
import { estimateCost } from '../src/core/cost.js';
import { JobIdGenerator, attemptJobName } from '../src/core/ids.js';
import type { AIJobStatus } from '../src/core/status.js';
import { parseJobSpec } from '../src/core/validation.js';
import { attemptManifest } from '../src/controller/attempt.js';
import { IMPLICIT_POOL } from '../src/controller/snapshot.js';
import type { Runway } from '../src/runway.js';
import type { ControlPlane } from '../test/k8s/harness/control-plane.js';
import type { RunwayOnKube } from '../test/k8s/harness/runway-on-kube.js';
import {
  JOB_BODY,
  RAW_NS,
  aijobIntent,
  apiserverCounters,
  controlPlaneTicks,
  countStatusWrites,
  diffCounters,
  num,
  ok,
  pool,
  progressLog,
  rawApis,
  round2,
  runwayClient,
  startBenchCluster,
  startBenchRunway,
  tenantOf,
  type StatusWrites,
} from './k8s-common.js';

const JOBS = num('BENCH_JOBS', 5000);
const ROUNDS = num('BENCH_ROUNDS', 2);
const WARMUP_JOBS = num('BENCH_WARMUP_JOBS', 200);
const TENANTS = num('BENCH_TENANTS', 200);
const ADMIT_CONCURRENCY = num('BENCH_ADMIT_CONCURRENCY', loadConfig({}).admitConcurrency);
const SUBMIT_CONCURRENCY = num('BENCH_SUBMIT_CONCURRENCY', 32);
const NODES = num('BENCH_NODES', Math.max(20, Math.ceil((2 * (ROUNDS * JOBS + WARMUP_JOBS)) / 500)));
const TIMEOUT_MS = num('BENCH_TIMEOUT_S', 600) * 1000;
const PROFILE = process.env.BENCH_PROFILE === '1';
const CPU_PROFILE = process.env.BENCH_CPU_PROFILE === '1';
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR ?? '/tmp';
const progress = progressLog('bench:admit-k8s', process.env.BENCH_LOG === '1' || process.env.BENCH_LOG === '2' || PROFILE);
const VERBOSE_QUIET = process.env.BENCH_LOG === '2';
const tenant = (i: number): string => tenantOf(i, TENANTS);

const WARMUP_QUEUE = 'warmup';
/** Round r's closed queue (one per round: an opened queue stays open). */
const gate = (r: number): string => `gate-${r + 1}`;
/** The AIJobQueue CRD's maximum: an open queue. */
const OPEN = 1_000_000;
/** Quiet: two seconds in a row with the control plane under QUIET_CORES and this process under QUIET_SELF_CORES. */
const QUIET_CORES = 0.5;
const QUIET_SELF_CORES = 0.25;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `done` every `everyMs` until it holds; throws after TIMEOUT_MS. */
async function until(what: string, done: () => boolean, everyMs = 10): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------ queues

const queuePath = (name?: string): string => `/apis/${GROUP}/${VERSION}/${POLICY_PLURALS.AIJobQueue}${name ? `/${name}` : ''}`;

async function createClosedQueue(cp: ControlPlane, name: string): Promise<void> {
  await ok(cp, 'POST', queuePath(), {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'AIJobQueue',
    metadata: { name },
    spec: { admission: 'queued', maxConcurrency: 0 },
  });
}

function openQueue(cp: ControlPlane, name: string): Promise<unknown> {
  return ok(cp, 'PATCH', queuePath(name), { spec: { maxConcurrency: OPEN } }, 'application/merge-patch+json');
}

// ------------------------------------------------------------------ the raw client

/** What Runway's admit writes for an AIJob it holds, made directly with @kubernetes/client-node. */
function rawClient(kc: KubeConfig, apiPool: KubeApiPool): { prepare: (n: number, queue: string) => Promise<AIJob[]>; admit: (job: AIJob) => Promise<void> } {
  const config = loadConfig({ RUNWAY_NAMESPACE: RAW_NS });
  const { custom, batch } = rawApis(kc, apiPool);
  const ids = new JobIdGenerator();
  const aijobs = { group: GROUP, version: VERSION, namespace: RAW_NS, plural: AIJOB_PLURAL };
  /** Creates n AIJobs as Runway's queued submit path does (the intent: no status). Untimed. */
  const prepare = async (n: number, queue: string): Promise<AIJob[]> => {
    const created: AIJob[] = new Array<AIJob>(n);
    const phase = await pool(n, ADMIT_CONCURRENCY, async (i) => {
      const spec = parseJobSpec({ ...JOB_BODY, queue }, tenant(i));
      const body = aijobIntent(ids.next(), RAW_NS, spec, estimateCost(spec, config.rates), true);
      created[i] = (await custom.createNamespacedCustomObject({ ...aijobs, body })) as AIJob;
    });
    if (phase.errors > 0) throw new Error(`creating the raw AIJobs: ${phase.errors} errors (${phase.firstError})`);
    return created;
  };
  /** scheduling-loop.ts admit(): the status (conditional on the version held), then the attempt's Job. */
  const admit = async (job: AIJob): Promise<void> => {
    const estimate = estimateCost(job.spec, config.rates);
    const status: AIJobStatus = { phase: 'PENDING', attempts: 0, attempt: 1, estimatedCost: estimate, admittedAt: new Date().toISOString(), pool: IMPLICIT_POOL };
    const body = [
      { op: 'replace', path: '/metadata/resourceVersion', value: job.metadata.resourceVersion },
      { op: 'add', path: '/status', value: status },
    ];
    const stored = (await custom.patchNamespacedCustomObjectStatus(
      { ...aijobs, name: job.metadata.name, body },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )) as AIJob;
    // controller.manifestFor() for a queued queue without PriorityClass or ComputeCluster.
    const manifest = attemptManifest(config, stored, 1, estimate, { backoffLimit: 0 });
    await batch.createNamespacedJob({ namespace: RAW_NS, body: manifest as V1Job });
  };
  return { prepare, admit };
}

// ------------------------------------------------------------------ Runway

/** Submits n jobs to `queue` over HTTP (each must be answered 202 QUEUED); returns their ids. */
async function submitQueued(runway: Runway, url: string, queue: string, n: number): Promise<string[]> {
  const before = new Set<string>();
  for (const job of runway.store.values()) if (job.spec.queue === queue) before.add(job.metadata.name);
  const client = runwayClient(url, { maxSockets: SUBMIT_CONCURRENCY, body: { ...JOB_BODY, queue }, tenant, expect: 202 });
  try {
    const phase = await pool(n, SUBMIT_CONCURRENCY, client.submit);
    if (phase.errors > 0) throw new Error(`submitting to queue ${queue}: ${phase.errors} of ${n} not 202 (${phase.firstError})`);
  } finally {
    client.close();
  }
  const ids: string[] = [];
  for (const job of runway.store.values()) if (job.spec.queue === queue && !before.has(job.metadata.name)) ids.push(job.metadata.name);
  if (ids.length !== n) throw new Error(`expected ${n} new jobs in queue ${queue}, the store holds ${ids.length}`);
  await until(`Runway to count the ${n} jobs of queue ${queue} as waiting`, () => runway.controller.waitingCount() >= n, 50);
  return ids;
}

/** Admitted, as Runway's caches say: an admitted status in the store and the attempt's Job in the controller's cache. */
function isAdmitted(runway: Runway, id: string): boolean {
  const status = runway.store.get(id)?.status;
  return status !== undefined && status.phase !== 'QUEUED' && status.admittedAt !== undefined && runway.controller.jobOf(attemptJobName(id, 1)) !== undefined;
}

/** Counts the scheduling loop's cycles and their synchronous time, by wrapping its private cycle() (0 if it is renamed). */
function countCycles(runway: Runway): { n: number; ms: number } {
  const counts = { n: 0, ms: 0 };
  const loop = runway.scheduler as unknown as { cycle?: () => void };
  const cycle = loop.cycle;
  if (typeof cycle !== 'function') return counts;
  loop.cycle = function (this: unknown) {
    const s = performance.now();
    try {
      cycle.call(this);
    } finally {
      counts.n++;
      counts.ms += performance.now() - s;
    }
  };
  return counts;
}

// ------------------------------------------------------------------ main

interface Measured {
  /** Time from the start of the phase until done, ms. */
  ms: number;
  /** This process's CPU during the phase, ms. */
  cpuMs: number;
  /** The control plane's CPU during the phase, ms. */
  cpMs: number;
  /** The control plane's CPU (cores) in the quiet second before the phase. */
  backgroundCores: number;
  loopP99Ms: number;
  errors: number;
  /** Runway only: its status writes and scheduling cycles from the start until quiet again. */
  statusWrites?: number;
  cycles?: number;
  cycleMs?: number;
}

async function main(): Promise<void> {
  let cp: ControlPlane | undefined;
  let rw: RunwayOnKube | undefined;
  const rawPool = new KubeApiPool();
  try {
    const started = await startBenchCluster({ nodes: NODES, log: progress });
    cp = started.cp;
    const plane = cp;
    const kc = started.kc;
    const queues = [WARMUP_QUEUE, ...Array.from({ length: ROUNDS }, (_, r) => gate(r))];
    for (const q of queues) await createClosedQueue(plane, q);
    rw = await startBenchRunway(kc, { RUNWAY_ADMIT_CONCURRENCY: String(ADMIT_CONCURRENCY) });
    const runway = rw.runway;
    const url = rw.url;
    await until('the closed queues to reach Runway', () => queues.every((q) => runway.policies.queue(q)?.maxConcurrency === 0), 50);
    const writes: StatusWrites = countStatusWrites(rw.cluster);
    const cycles = countCycles(runway);
    const raw = rawClient(kc, rawPool);

    /** Waits for two quiet seconds in a row (see QUIET_CORES) with no Runway status write; returns the control plane's cores in the last. */
    const quiet = async (): Promise<number> => {
      const deadline = performance.now() + TIMEOUT_MS;
      let quietSeconds = 0;
      for (;;) {
        const ticks0 = controlPlaneTicks(plane);
        const cpu0 = process.cpuUsage();
        await sleep(1000);
        const cores = (controlPlaneTicks(plane) - ticks0) / 100;
        const cpu = process.cpuUsage(cpu0);
        const self = (cpu.user + cpu.system) / 1e6;
        const isQuiet = cores < QUIET_CORES && self < QUIET_SELF_CORES && writes.inFlight === 0 && performance.now() - writes.lastAt > 1000;
        quietSeconds = isQuiet ? quietSeconds + 1 : 0;
        if (quietSeconds >= 2) return cores;
        if (VERBOSE_QUIET) progress(`waiting for quiet: control plane ${cores.toFixed(2)} cores, this process ${self.toFixed(2)}, ${writes.inFlight} status writes in flight`);
        if (performance.now() > deadline) throw new Error(`no quiet seconds within ${TIMEOUT_MS} ms (control plane ${cores} cores, this process ${self})`);
      }
    };

    /** Quiet, then `timed` with the CPU of both processes, then quiet again (Runway's cycles and writes until then). */
    const measure = async (kind: 'raw' | 'runway', n: number, timed: () => Promise<number>): Promise<Measured> => {
      const backgroundCores = await quiet();
      const counters0 = PROFILE ? await apiserverCounters(plane) : undefined;
      const writes0 = writes.total;
      const cycles0 = { ...cycles };
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const cpu0 = process.cpuUsage();
      const ticks0 = controlPlaneTicks(plane);
      const start = performance.now();
      const errors = await timed();
      const ms = performance.now() - start;
      const cpu = process.cpuUsage(cpu0);
      const cpMs = (controlPlaneTicks(plane) - ticks0) * 10;
      loop.disable();
      const counters1 = PROFILE ? await apiserverCounters(plane) : undefined;
      await quiet();
      const m: Measured = { ms, cpuMs: (cpu.user + cpu.system) / 1000, cpMs, backgroundCores, loopP99Ms: loop.percentile(99) / 1e6, errors };
      if (kind === 'runway') {
        m.statusWrites = writes.total - writes0;
        m.cycles = cycles.n - cycles0.n;
        m.cycleMs = cycles.ms - cycles0.ms;
      }
      if (counters0 && counters1) progress(`${kind} API server requests: ${diffCounters(counters0, counters1, n)}`);
      progress(
        `${kind} n=${n}: ${ms.toFixed(0)} ms, ${((n / ms) * 1000).toFixed(0)} jobs/s, errors ${errors}, cpu ${m.cpuMs.toFixed(0)} ms here, ` +
          `${m.cpMs} ms control plane (background before: ${backgroundCores.toFixed(2)} cores), loop p99 ${m.loopP99Ms.toFixed(1)} ms` +
          (m.statusWrites !== undefined ? `; until quiet: ${m.statusWrites} status writes, ${m.cycles} cycles (${(m.cycleMs ?? 0).toFixed(0)} ms)` : ''),
      );
      return m;
    };

    const rawPhase = async (jobs: AIJob[]): Promise<Measured> =>
      measure('raw', jobs.length, async () => {
        const phase = await pool(jobs.length, ADMIT_CONCURRENCY, (i) => raw.admit(jobs[i] as AIJob));
        if (phase.firstError) progress(`raw: first error: ${phase.firstError}`);
        return phase.errors;
      });

    const runwayPhase = async (queue: string, ids: string[]): Promise<Measured> =>
      measure('runway', ids.length, async () => {
        let remaining = ids;
        await openQueue(plane, queue);
        await until(`every job of queue ${queue} to be admitted with its Job`, () => {
          // O(1) while statuses are still being written (a waiting job has none yet), so that polling
          // does not cost Runway's event loop; then the last Jobs' watch events, job by job.
          if (runway.controller.waitingCount() > 0) return false;
          remaining = remaining.filter((id) => !isAdmitted(runway, id));
          return remaining.length === 0;
        });
        return 0;
      });

    // Warm-up (discarded): JIT, connection pools, the API server's caches, a first admission burst.
    progress('warm-up');
    await rawPhase(await raw.prepare(WARMUP_JOBS, WARMUP_QUEUE));
    await runwayPhase(WARMUP_QUEUE, await submitQueued(runway, url, WARMUP_QUEUE, WARMUP_JOBS));

    // Rounds: both backlogs prepared (untimed), then both timed, in alternating order.
    const results: Record<'raw' | 'runway', Measured[]> = { raw: [], runway: [] };
    for (let r = 0; r < ROUNDS; r++) {
      progress(`round ${r + 1}: preparing ${JOBS} raw AIJobs`);
      const rawJobs = await raw.prepare(JOBS, gate(r));
      progress(`round ${r + 1}: submitting ${JOBS} jobs to Runway's closed queue ${gate(r)}`);
      const ids = await submitQueued(runway, url, gate(r), JOBS);
      progress(`round ${r + 1}: ${runway.controller.waitingCount()} jobs waiting`);
      const order = r % 2 === 0 ? (['raw', 'runway'] as const) : (['runway', 'raw'] as const);
      for (const kind of order) {
        if (kind === 'raw') {
          results.raw.push(await rawPhase(rawJobs));
          continue;
        }
        let session: Session | undefined;
        if (CPU_PROFILE) {
          session = new Session();
          session.connect();
          await session.post('Profiler.enable');
          await session.post('Profiler.start');
        }
        results.runway.push(await runwayPhase(gate(r), ids));
        if (session) {
          const { profile } = await session.post('Profiler.stop');
          const file = path.join(PROFILE_DIR, `admit-k8s-${process.pid}-round${r + 1}.cpuprofile`);
          writeFileSync(file, JSON.stringify(profile));
          session.disconnect();
          progress(`CPU profile of Runway's phase (quiet before and after included): ${file}`);
        }
      }
    }

    const sum = (ms: Measured[], f: (m: Measured) => number): number => ms.reduce((a, m) => a + f(m), 0);
    const total = JOBS * ROUNDS;
    const admissionsPerS = (total / sum(results.runway, (m) => m.ms)) * 1000;
    const rawPerS = (total / sum(results.raw, (m) => m.ms)) * 1000;
    const perJob = (kind: 'raw' | 'runway', f: (m: Measured) => number): number => round2(sum(results[kind], f) / total);
    const byRound = (kind: 'raw' | 'runway'): number[] => results[kind].map((m) => Math.round((JOBS / m.ms) * 1000));
    const result = {
      bench: 'admit-k8s',
      jobs: JOBS,
      admit_concurrency: ADMIT_CONCURRENCY,
      admissions_per_s: Math.round(admissionsPerS),
      raw_per_s: Math.round(rawPerS),
      ratio_to_raw: round2(admissionsPerS / rawPerS),
      target_ratio: 0.75,
      rounds: ROUNDS,
      admissions_per_s_by_round: byRound('runway'),
      raw_per_s_by_round: byRound('raw'),
      errors: { runway: sum(results.runway, (m) => m.errors), raw: sum(results.raw, (m) => m.errors) },
      // Where the time goes during the timed phases: CPU of this process (Runway, or the raw client)
      // and of the control plane (etcd, API server, controllers, scheduler) per job, and the control
      // plane's CPU just before (the Job controller creating earlier phases' pods); Runway's status
      // writes per job (1 = the admissions only) and scheduling cycles until quiet; event-loop delay.
      bench_cpu_ms_per_job: { runway: perJob('runway', (m) => m.cpuMs), raw: perJob('raw', (m) => m.cpuMs) },
      control_plane_cpu_ms_per_job: { runway: perJob('runway', (m) => m.cpMs), raw: perJob('raw', (m) => m.cpMs) },
      background_cores: {
        runway: round2(sum(results.runway, (m) => m.backgroundCores) / ROUNDS),
        raw: round2(sum(results.raw, (m) => m.backgroundCores) / ROUNDS),
      },
      runway_status_writes_per_job: perJob('runway', (m) => m.statusWrites ?? 0),
      runway_cycles: sum(results.runway, (m) => m.cycles ?? 0),
      runway_cycle_ms: Math.round(sum(results.runway, (m) => m.cycleMs ?? 0)),
      loop_delay_p99_ms: {
        runway: round2(Math.max(...results.runway.map((m) => m.loopP99Ms))),
        raw: round2(Math.max(...results.raw.map((m) => m.loopP99Ms))),
      },
      warmup_jobs: WARMUP_JOBS,
      tenants: TENANTS,
      nodes: NODES,
      node: process.version,
    };
    console.log(JSON.stringify(result));
  } finally {
    rawPool.destroy();
    await rw?.runway.close().catch(() => undefined);
    await cp?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
