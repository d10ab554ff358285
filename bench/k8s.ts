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
import * as http from 'node:http';
import { performance, monitorEventLoopDelay } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { BatchV1Api, CustomObjectsApi, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { AIJOB_PLURAL, GROUP, KubeApiPool, VERSION, kubeApiClient } from '../src/cluster/kube/kube-cluster.js';
import { RUNWAY_API_VERSION, type AIJob } from '../src/cluster/types.js';
import { loadConfig } from '../src/config.js';
import { costAnnotation, estimateCost } from '../src/core/cost.js';
import { JobIdGenerator, attemptJobName } from '../src/core/ids.js';
import { ANNOTATION_ESTIMATED_COST, LABEL_QUEUE, LABEL_TENANT } from '../src/core/k8s.js';
import { buildJobManifest } from '../src/core/manifest.js';
import { parseJobSpec } from '../src/core/validation.js';
import { addNodes, kubeRequest, startControlPlane, type ControlPlane } from '../test/k8s/harness/control-plane.js';
import { applyDeploy, serviceAccountKubeConfig, startRunwayOnKube, type RunwayOnKube } from '../test/k8s/harness/runway-on-kube.js';

const num = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer`);
  return v;
};
const JOBS = num('BENCH_JOBS', 2000);
const CONCURRENCY = num('BENCH_CONCURRENCY', 16);
const SAT_CONCURRENCY = num('BENCH_SAT_CONCURRENCY', 64);
const SAT_JOBS = num('BENCH_SAT_JOBS', JOBS);
const ROUNDS = num('BENCH_ROUNDS', 2);
const WARMUP_JOBS = num('BENCH_WARMUP_JOBS', 300);
const TENANTS = num('BENCH_TENANTS', 200);
const NODES = num('BENCH_NODES', 20);
const PROFILE = process.env.BENCH_PROFILE === '1';
const VERBOSE = process.env.BENCH_LOG === '1' || PROFILE;

const RUNWAY_NS = 'jobs';
const RAW_NS = 'bench-raw';
const JOB_BODY = { image: 'busybox:1.36', cpu: 0.1, memory_mb: 128, timeout_s: 600 };

const t0 = performance.now();
const progress = (line: string): void => {
  if (VERBOSE) process.stderr.write(`[bench:k8s +${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
};

// ------------------------------------------------------------------ measurement

interface Phase {
  latencies: number[];
  wallMs: number;
  errors: number;
  firstError?: string;
  /** CPU this process used (user + system), ms. */
  cpuMs: number;
  /** Event-loop delay p99 in this process during the phase, ms. */
  loopP99Ms: number;
  /** Time after the last answer until Runway's controller had written every status (runway only). */
  settleMs?: number;
}

/** Runs `n` operations, at most `concurrency` at a time, recording each one's latency. */
async function pool(n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<Phase> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const s = performance.now();
      try {
        await op(i);
        latencies.push(performance.now() - s);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, () => worker()));
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  return {
    latencies,
    wallMs,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopP99Ms: loop.percentile(99) / 1e6,
  };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
const median = (xs: number[]): number => percentile(xs, 50);

// ------------------------------------------------------------------ the two clients

const tenantOf = (i: number): string => `tenant-${i % TENANTS}`;

/** Runway over HTTP with a keep-alive pool as large as the concurrency. */
function runwayClient(url: string, maxSockets: number): { submit: (i: number) => Promise<void>; close: () => void } {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const body = JSON.stringify(JOB_BODY);
  const submit = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/v1/jobs',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-tenant-id': tenantOf(i) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode === 201) resolve();
            else reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return { submit, close: () => agent.destroy() };
}

/** The writes Runway makes for a submission, made directly with @kubernetes/client-node. */
function rawClient(kc: KubeConfig, pool: KubeApiPool): (i: number) => Promise<void> {
  const config = loadConfig({ RUNWAY_NAMESPACE: RAW_NS });
  const custom = kubeApiClient(kc, CustomObjectsApi, pool);
  const batch = kubeApiClient(kc, BatchV1Api, pool);
  const ids = new JobIdGenerator();
  return async (i) => {
    // The same spec normalisation, cost estimate, AIJob and Job as Runway's submit path.
    const spec = parseJobSpec(JOB_BODY, tenantOf(i));
    const estimate = estimateCost(spec, config.rates);
    const id = ids.next();
    const intent: AIJob = {
      apiVersion: RUNWAY_API_VERSION,
      kind: 'AIJob',
      metadata: {
        name: id,
        namespace: RAW_NS,
        labels: { [LABEL_TENANT]: spec.tenant_id, [LABEL_QUEUE]: spec.queue },
        annotations: { [ANNOTATION_ESTIMATED_COST]: costAnnotation(estimate) },
      },
      spec,
    };
    const created = (await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: RAW_NS,
      plural: AIJOB_PLURAL,
      body: intent,
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

// ------------------------------------------------------------------ cluster setup

async function ok(cp: ControlPlane, method: string, path: string, body?: unknown, ct?: string): Promise<unknown> {
  const res = await kubeRequest(cp, method, path, body, ct);
  if (res.status >= 300) throw new Error(`${method} ${path} -> HTTP ${res.status}: ${res.text.slice(0, 500)}`);
  return res.body;
}

/**
 * Room for every pod the Job controller creates, a ResourceQuota that does not stop the bench (same
 * object, limits raised), and the raw client's namespace with the jobs namespace's Role, RoleBinding,
 * LimitRange and ResourceQuota copied, so both clients pay the same authorization and admission.
 */
async function prepareCluster(cp: ControlPlane): Promise<void> {
  const hard = {
    'requests.cpu': '100k',
    'limits.cpu': '100k',
    'requests.memory': '1Pi',
    'limits.memory': '1Pi',
    'requests.nvidia.com/gpu': '10k',
    pods: '1M',
    'count/jobs.batch': '1M',
  };
  await ok(cp, 'PATCH', `/api/v1/namespaces/${RUNWAY_NS}/resourcequotas/runway-jobs`, { spec: { hard } });
  await ok(cp, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: RAW_NS } });
  const copy = async (list: string, create: string, names: string[]): Promise<void> => {
    for (const name of names) {
      const obj = (await ok(cp, 'GET', `${list}/${name}`)) as { metadata: Record<string, unknown> } & Record<string, unknown>;
      const { status: _status, ...rest } = obj;
      const labels = obj.metadata.labels;
      await ok(cp, 'POST', create, { ...rest, metadata: { name, namespace: RAW_NS, ...(labels ? { labels } : {}) } });
    }
  };
  await copy(`/apis/rbac.authorization.k8s.io/v1/namespaces/${RUNWAY_NS}/roles`, `/apis/rbac.authorization.k8s.io/v1/namespaces/${RAW_NS}/roles`, ['runway']);
  await copy(`/apis/rbac.authorization.k8s.io/v1/namespaces/${RUNWAY_NS}/rolebindings`, `/apis/rbac.authorization.k8s.io/v1/namespaces/${RAW_NS}/rolebindings`, ['runway']);
  await copy(`/api/v1/namespaces/${RUNWAY_NS}/limitranges`, `/api/v1/namespaces/${RAW_NS}/limitranges`, ['runway-job-bounds']);
  await copy(`/api/v1/namespaces/${RUNWAY_NS}/resourcequotas`, `/api/v1/namespaces/${RAW_NS}/resourcequotas`, ['runway-jobs']);
}

async function addBenchNodes(cp: ControlPlane): Promise<void> {
  const nodes = Array.from({ length: NODES }, (_, i) => {
    const gpu = i % 5 === 4; // every fifth node has 8 GPUs
    return { name: `${gpu ? 'gpu' : 'cpu'}-${i}`, cpu: '64', memory: '256Gi', ...(gpu ? { gpus: 8 } : {}) };
  });
  await addNodes(cp, nodes);
  // addNodes allows 110 pods a node; nothing runs here, so let the scheduler place every Job's pod.
  for (const n of nodes) {
    const resources: Record<string, string> = { cpu: n.cpu, memory: n.memory, pods: '2000' };
    if (n.gpus) resources['nvidia.com/gpu'] = String(n.gpus);
    await ok(cp, 'PATCH', `/api/v1/nodes/${n.name}/status`, { status: { capacity: resources, allocatable: resources } }, 'application/strategic-merge-patch+json');
  }
}

// ------------------------------------------------------------------ CPU of the control plane

function procTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

function controlPlaneTicks(cp: ControlPlane): number {
  return cp.pids().reduce((sum, pid) => sum + procTicks(pid), 0);
}

// ------------------------------------------------------------------ what the API server did (BENCH_PROFILE=1)

/** apiserver_request_total and _duration_seconds_sum by verb/resource/subresource. */
async function apiserverCounters(cp: ControlPlane): Promise<Map<string, { n: number; s: number }>> {
  const out = new Map<string, { n: number; s: number }>();
  const res = await kubeRequest(cp, 'GET', '/metrics');
  for (const line of res.text.split('\n')) {
    const m = /^apiserver_request_(total|duration_seconds_sum)\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (labels.verb === 'WATCH' || labels.verb === 'CONNECT') continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}${labels.scope === 'cluster' && labels.verb === 'LIST' ? ' (all namespaces)' : ''}`;
    const e = out.get(key) ?? { n: 0, s: 0 };
    if (m[1] === 'total') e.n += Number(m[3]);
    else e.s += Number(m[3]);
    out.set(key, e);
  }
  return out;
}

function diffCounters(a: Map<string, { n: number; s: number }>, b: Map<string, { n: number; s: number }>, jobs: number): string {
  const rows: string[] = [];
  for (const [k, v] of b) {
    const n = v.n - (a.get(k)?.n ?? 0);
    const sec = v.s - (a.get(k)?.s ?? 0);
    if (n / jobs >= 0.05) rows.push(`${k}: ${(n / jobs).toFixed(2)}/job, ${((sec * 1000) / Math.max(1, n)).toFixed(1)} ms avg`);
  }
  return rows.sort().join('; ');
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  let cp: ControlPlane | undefined;
  let rw: RunwayOnKube | undefined;
  const rawPool = new KubeApiPool();
  try {
    cp = await startControlPlane({ log: progress });
    const plane = cp;
    await addBenchNodes(plane);
    applyDeploy(plane);
    await prepareCluster(plane);
    const kc = await serviceAccountKubeConfig(plane);
    progress('control plane ready');

    rw = await startRunwayOnKube(kc, {
      RUNWAY_RATE_LIMIT_PER_MIN: '60000000',
      RUNWAY_RATE_LIMIT_BURST: '1000000',
      // Measure latency, not the submit deadline: under saturation the API server may take > 1 s.
      RUNWAY_CLUSTER_TIMEOUT_MS: '60000',
    });
    const runway = rw.runway;
    const raw = rawClient(kc, rawPool);

    // Runway's controller works after the answers: a status write per job once its Job's watch event
    // arrives. Count those writes so that each phase waits for its own to finish.
    let statusWrites = 0;
    let lastWriteAt = 0;
    const cluster = rw.cluster;
    const write = cluster.updateAIJobStatus.bind(cluster);
    cluster.updateAIJobStatus = async (name, status) => {
      statusWrites++;
      lastWriteAt = performance.now();
      try {
        return await write(name, status);
      } finally {
        statusWrites--;
        lastWriteAt = performance.now();
      }
    };
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
        if (statusWrites > 0 || now - lastWriteAt < 300) continue;
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
        const client = runwayClient(rw?.url ?? '', concurrency);
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
