/**
 * `npm run bench:k8s`: what Runway adds to the API writes a submission must make, on the real test
 * control plane (etcd + kube-apiserver + kube-controller-manager + kube-scheduler 1.20, see
 * test/k8s/harness). Prints one JSON line.
 *
 * Two clients submit the same kind of job (CPU-only, many tenants) at the same concurrency:
 * - runway: POST /v1/jobs over HTTP (keep-alive) to Runway running in this process against the
 *   control plane as the runway ServiceAccount, rate limit raised; Runway validates, admits, writes the
 *   AIJob then its Job, and its controller writes the AIJob status when the Job's watch event arrives.
 * - raw: @kubernetes/client-node calls made directly, as the same ServiceAccount, with the same bodies
 *   Runway writes (the AIJob of job-service.ts, the Job of core/manifest.ts): create AIJob, then create
 *   Job, sequentially per job. It writes into its own namespace (a copy of the jobs namespace's RBAC
 *   and guardrails) so that Runway's controller does not see or work on its jobs.
 *
 * Each client gets a discarded warm-up; then ROUNDS rounds alternate the order (raw, runway, then
 * runway, raw, ...) so machine noise hits both. After each Runway phase the bench waits until Runway's
 * controller is idle (it has seen every Job, no status write in flight), so that its work is charged to
 * Runway's phase and not to the next one. Latency ratios use all measured requests of all rounds.
 * Saturation: the same at BENCH_SAT_CONCURRENCY, reported as jobs/s (median of the rounds).
 *
 * Besides the required fields the line says where time goes: CPU per job of this process (Runway and
 * its controller run here) and of the control plane, event-loop delay, and the controller's settle time.
 * Everything shares the machine's CPUs: on a small machine the control plane saturates early, and then
 * latency at a fixed concurrency follows the total work per job.
 *
 * Environment: BENCH_JOBS (2000), BENCH_CONCURRENCY (16), BENCH_SAT_CONCURRENCY (64), BENCH_SAT_JOBS
 * (BENCH_JOBS), BENCH_ROUNDS (2), BENCH_WARMUP_JOBS (300), BENCH_TENANTS (200), BENCH_NODES (20),
 * BENCH_LOG (0; 1 prints progress on stderr), BENCH_PROFILE (0; 1 also prints, per phase, the API server's
 * requests per job by verb and resource, from its /metrics).
 */
import { performance } from 'node:perf_hooks';
import type { KubeConfig, V1Job } from '@kubernetes/client-node';
import { AIJOB_PLURAL, GROUP, KubeApiPool, VERSION } from '../src/cluster/kube/kube-cluster.js';
import { RUNWAY_API_VERSION, type AIJob } from '../src/cluster/types.js';
import { loadConfig } from '../src/config.js';
import { estimateCost } from '../src/core/cost.js';
import { JobIdGenerator, attemptJobName } from '../src/core/ids.js';
import { buildJobManifest } from '../src/core/manifest.js';
import { parseJobSpec } from '../src/core/validation.js';
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
  median,
  num,
  percentile,
  pool,
  progressLog,
  rawApis,
  round2,
  runwayClient,
  startBenchCluster,
  startBenchRunway,
  tenantOf,
  type Phase,
} from './k8s-common.js';

const JOBS = num('BENCH_JOBS', 2000);
const CONCURRENCY = num('BENCH_CONCURRENCY', 16);
const SAT_CONCURRENCY = num('BENCH_SAT_CONCURRENCY', 64);
const SAT_JOBS = num('BENCH_SAT_JOBS', JOBS);
const ROUNDS = num('BENCH_ROUNDS', 2);
const WARMUP_JOBS = num('BENCH_WARMUP_JOBS', 300);
const TENANTS = num('BENCH_TENANTS', 200);
const NODES = num('BENCH_NODES', 20);
const PROFILE = process.env.BENCH_PROFILE === '1';
const progress = progressLog('bench:k8s', process.env.BENCH_LOG === '1' || PROFILE);
const tenant = (i: number): string => tenantOf(i, TENANTS);

// ------------------------------------------------------------------ the raw client

/** The writes Runway makes for a submission, made directly with @kubernetes/client-node. */
function rawClient(kc: KubeConfig, apiPool: KubeApiPool): (i: number) => Promise<void> {
  const config = loadConfig({ RUNWAY_NAMESPACE: RAW_NS });
  const { custom, batch } = rawApis(kc, apiPool);
  const ids = new JobIdGenerator();
  return async (i) => {
    // The same spec normalisation, cost estimate, AIJob and Job as Runway's submit path.
    const spec = parseJobSpec(JOB_BODY, tenant(i));
    const estimate = estimateCost(spec, config.rates);
    const id = ids.next();
    const created = (await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: RAW_NS,
      plural: AIJOB_PLURAL,
      body: aijobIntent(id, RAW_NS, spec, estimate, false),
    })) as AIJob;
    const manifest = buildJobManifest({
      jobId: id,
      attempt: 1,
      spec,
      namespace: RAW_NS,
      backoffLimit: config.backoffLimit,
      estimate,
      owner: { apiVersion: RUNWAY_API_VERSION, kind: 'AIJob', name: id, uid: created.metadata.uid ?? '' },
      gpuTolerations: config.gpuTolerations,
      gpuNodeSelector: config.gpuNodeSelector,
    });
    await batch.createNamespacedJob({ namespace: RAW_NS, body: manifest as V1Job });
  };
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  let cp: ControlPlane | undefined;
  let rw: RunwayOnKube | undefined;
  const rawPool = new KubeApiPool();
  try {
    const started = await startBenchCluster({ nodes: NODES, log: progress });
    cp = started.cp;
    const plane = cp;
    const kc = started.kc;
    rw = await startBenchRunway(kc);
    const runway = rw.runway;
    const raw = rawClient(kc, rawPool);

    // Runway's controller works after the answers: a status write per job once its Job's watch event
    // arrives. Count those writes so that each phase waits for its own to finish.
    const writes = countStatusWrites(rw.cluster);
    /**
     * Waits until the controller is idle: it has seen the Job of every job Runway admitted, no status
     * write is in flight and none started for 300 ms.
     */
    const settle = async (): Promise<number> => {
      const s = performance.now();
      const deadline = s + 120_000;
      for (;;) {
        await new Promise((r) => setTimeout(r, 50));
        const now = performance.now();
        if (now > deadline) return now - s;
        if (writes.inFlight > 0 || now - writes.lastAt < 300) continue;
        let seen = true;
        for (const job of runway.store.values()) {
          if (!runway.controller.jobOf(attemptJobName(job.metadata.name, 1))) {
            seen = false;
            break;
          }
        }
        if (seen) return now - s;
      }
    };

    const cpTicks: Record<'raw' | 'runway', number> = { raw: 0, runway: 0 };
    const measure = async (kind: 'raw' | 'runway', n: number, concurrency: number): Promise<Phase> => {
      const ticks0 = controlPlaneTicks(plane);
      const counters0 = PROFILE ? await apiserverCounters(plane) : undefined;
      let phase: Phase;
      if (kind === 'raw') {
        phase = await pool(n, concurrency, raw);
      } else {
        const client = runwayClient(rw?.url ?? '', { maxSockets: concurrency, body: JOB_BODY, tenant, expect: 201 });
        try {
          phase = await pool(n, concurrency, client.submit);
        } finally {
          client.close();
        }
        phase.settleMs = await settle();
      }
      cpTicks[kind] += controlPlaneTicks(plane) - ticks0;
      if (counters0) progress(`${kind} API server requests: ${diffCounters(counters0, await apiserverCounters(plane), n)}`);
      progress(
        `${kind} n=${n} c=${concurrency}: p50 ${percentile(phase.latencies, 50).toFixed(1)} ms, p99 ${percentile(phase.latencies, 99).toFixed(1)} ms, ` +
          `${((n / phase.wallMs) * 1000).toFixed(0)} jobs/s, errors ${phase.errors}${phase.firstError ? ` (${phase.firstError})` : ''}, ` +
          `cpu ${phase.cpuMs.toFixed(0)} ms, loop p99 ${phase.loopP99Ms.toFixed(1)} ms${phase.settleMs !== undefined ? `, settle ${phase.settleMs.toFixed(0)} ms` : ''}`,
      );
      return phase;
    };

    // Warm-up (discarded): JIT, connection pools, the API server's caches for both namespaces.
    await measure('raw', WARMUP_JOBS, CONCURRENCY);
    await measure('runway', WARMUP_JOBS, CONCURRENCY);
    for (const k of ['raw', 'runway'] as const) cpTicks[k] = 0;

    const rounds: Record<'raw' | 'runway', Phase[]> = { raw: [], runway: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? (['raw', 'runway'] as const) : (['runway', 'raw'] as const);
      for (const kind of order) rounds[kind].push(await measure(kind, JOBS, CONCURRENCY));
    }
    const sat: Record<'raw' | 'runway', Phase[]> = { raw: [], runway: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? (['raw', 'runway'] as const) : (['runway', 'raw'] as const);
      for (const kind of order) sat[kind].push(await measure(kind, SAT_JOBS, SAT_CONCURRENCY));
    }

    const all = (ps: Phase[]): number[] => ps.flatMap((p) => p.latencies);
    const rate = (ps: Phase[]): number => median(ps.map((p) => (p.latencies.length / p.wallMs) * 1000));
    const runwayP99 = percentile(all(rounds.runway), 99);
    const rawP99 = percentile(all(rounds.raw), 99);
    const measured = rounds.raw.length * JOBS; // per client
    const result = {
      bench: 'k8s',
      jobs: JOBS,
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      runway_p50_ms: round2(percentile(all(rounds.runway), 50)),
      runway_p99_ms: round2(runwayP99),
      raw_p50_ms: round2(percentile(all(rounds.raw), 50)),
      raw_p99_ms: round2(rawP99),
      ratio_p50: round2(percentile(all(rounds.runway), 50) / percentile(all(rounds.raw), 50)),
      ratio_p99: round2(runwayP99 / rawP99),
      runway_p99_by_round_ms: rounds.runway.map((p) => round2(percentile(p.latencies, 99))),
      raw_p99_by_round_ms: rounds.raw.map((p) => round2(percentile(p.latencies, 99))),
      sat_concurrency: SAT_CONCURRENCY,
      sat_jobs: SAT_JOBS,
      runway_jobs_per_s: Math.round(rate(sat.runway)),
      raw_jobs_per_s: Math.round(rate(sat.raw)),
      ratio_jobs_per_s: round2(rate(sat.runway) / rate(sat.raw)),
      runway_sat_p99_ms: round2(percentile(all(sat.runway), 99)),
      raw_sat_p99_ms: round2(percentile(all(sat.raw), 99)),
      errors: { runway: [...rounds.runway, ...sat.runway].reduce((a, p) => a + p.errors, 0), raw: [...rounds.raw, ...sat.raw].reduce((a, p) => a + p.errors, 0) },
      // Where the time goes: this process's CPU per job (Runway and its controller run here), the
      // control plane's CPU per job (etcd, API server, controllers), event-loop delay p99 and the time
      // Runway's controller needed after the last answer to finish its status writes.
      bench_cpu_ms_per_job: {
        runway: round2([...rounds.runway, ...sat.runway].reduce((a, p) => a + p.cpuMs, 0) / (measured + ROUNDS * SAT_JOBS)),
        raw: round2([...rounds.raw, ...sat.raw].reduce((a, p) => a + p.cpuMs, 0) / (measured + ROUNDS * SAT_JOBS)),
      },
      control_plane_cpu_ms_per_job: {
        runway: round2((cpTicks.runway * 10) / (measured + ROUNDS * SAT_JOBS)),
        raw: round2((cpTicks.raw * 10) / (measured + ROUNDS * SAT_JOBS)),
      },
      loop_delay_p99_ms: { runway: round2(Math.max(...rounds.runway.map((p) => p.loopP99Ms))), raw: round2(Math.max(...rounds.raw.map((p) => p.loopP99Ms))) },
      runway_settle_ms: round2(Math.max(...[...rounds.runway, ...sat.runway].map((p) => p.settleMs ?? 0))),
      target_ratio_p99: 1.3,
      nodes: NODES,
      tenants: TENANTS,
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
