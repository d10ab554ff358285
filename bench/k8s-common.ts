/**
 * What the benchmarks on the real test control plane share (bench/k8s.ts, bench/admit-k8s.ts): the
 * cluster set-up (nodes, the project's manifests, a raw client's namespace with the same guardrails),
 * Runway started against it, the HTTP and raw clients' building blocks, the worker pool, percentiles,
 * and the CPU and request accounting of the control plane.
 */
import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import { performance, monitorEventLoopDelay } from 'node:perf_hooks';
import { BatchV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { kubeApiClient, type KubeApiPool, type KubeCluster } from '../src/cluster/kube/kube-cluster.js';
import { RUNWAY_API_VERSION, type AIJob } from '../src/cluster/types.js';
import { costAnnotation, type CostEstimate } from '../src/core/cost.js';
import type { JobSpec } from '../src/core/job-spec.js';
import { ANNOTATION_ESTIMATED_COST, LABEL_ADMISSION, LABEL_QUEUE, LABEL_TENANT } from '../src/core/k8s.js';
import { addNodes, kubeRequest, startControlPlane, type ControlPlane } from '../test/k8s/harness/control-plane.js';
import { applyDeploy, serviceAccountKubeConfig, startRunwayOnKube, type RunwayOnKube } from '../test/k8s/harness/runway-on-kube.js';

/** A positive integer from the environment. */
export const num = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer`);
  return v;
};

/** Progress lines on stderr (`[tag +12.3s] ...`) when `verbose`. */
export function progressLog(tag: string, verbose: boolean): (line: string) => void {
  const t0 = performance.now();
  return (line) => {
    if (verbose) process.stderr.write(`[${tag} +${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
  };
}

/** Runway's jobs namespace (deploy/base). */
export const RUNWAY_NS = 'jobs';
/** The raw client's namespace: a copy of the jobs namespace's RBAC and guardrails (prepareCluster). */
export const RAW_NS = 'bench-raw';
/** The job every benchmark submits: CPU only, small enough that thousands of pods fit. */
export const JOB_BODY = { image: 'busybox:1.36', cpu: 0.1, memory_mb: 128, timeout_s: 600 };

/** Job i's tenant, among `tenants`. */
export const tenantOf = (i: number, tenants: number): string => `tenant-${i % tenants}`;

// ------------------------------------------------------------------ measurement

export interface Phase {
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
export async function pool(n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<Phase> {
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

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export const round2 = (x: number): number => Math.round(x * 100) / 100;
export const median = (xs: number[]): number => percentile(xs, 50);

// ------------------------------------------------------------------ clients

/**
 * POST /v1/jobs to Runway over HTTP with a keep-alive pool of `maxSockets`; job i is sent as
 * `tenant(i)` and must be answered `expect` (201 admitted, 202 queued).
 */
export function runwayClient(
  url: string,
  opts: { maxSockets: number; body: object; tenant: (i: number) => string; expect: number },
): { submit: (i: number) => Promise<void>; close: () => void } {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets });
  const body = JSON.stringify(opts.body);
  const submit = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/v1/jobs',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-tenant-id': opts.tenant(i) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode === opts.expect) resolve();
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

/** @kubernetes/client-node APIs on a keep-alive pool, as Runway's KubeCluster makes them. */
export function rawApis(kc: KubeConfig, apiPool: KubeApiPool): { custom: CustomObjectsApi; batch: BatchV1Api } {
  return { custom: kubeApiClient(kc, CustomObjectsApi, apiPool), batch: kubeApiClient(kc, BatchV1Api, apiPool) };
}

/** The AIJob as Runway's submit path first writes it (job-service.ts intentOf): no status. */
export function aijobIntent(id: string, namespace: string, spec: JobSpec, estimate: CostEstimate, queued: boolean): AIJob {
  const labels: Record<string, string> = { [LABEL_TENANT]: spec.tenant_id, [LABEL_QUEUE]: spec.queue };
  if (queued) labels[LABEL_ADMISSION] = 'queued';
  return {
    apiVersion: RUNWAY_API_VERSION,
    kind: 'AIJob',
    metadata: { name: id, namespace, labels, annotations: { [ANNOTATION_ESTIMATED_COST]: costAnnotation(estimate) } },
    spec,
  };
}

// ------------------------------------------------------------------ cluster setup

export async function ok(cp: ControlPlane, method: string, path: string, body?: unknown, ct?: string): Promise<unknown> {
  const res = await kubeRequest(cp, method, path, body, ct);
  if (res.status >= 300) throw new Error(`${method} ${path} -> HTTP ${res.status}: ${res.text.slice(0, 500)}`);
  return res.body;
}

/**
 * Room for every pod the Job controller creates, a ResourceQuota that does not stop the bench (same
 * object, limits raised), and the raw client's namespace with the jobs namespace's Role, RoleBinding,
 * LimitRange and ResourceQuota copied, so both clients pay the same authorization and admission.
 */
export async function prepareCluster(cp: ControlPlane): Promise<void> {
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

/** `count` nodes of 64 CPUs and 256 GiB (every fifth with 8 GPUs), each taking 2,000 pods. */
export async function addBenchNodes(cp: ControlPlane, count: number): Promise<void> {
  const nodes = Array.from({ length: count }, (_, i) => {
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

/**
 * The control plane with `nodes` bench nodes, the project's manifests applied as an operator would,
 * the raw namespace prepared, and a kubeconfig of the runway ServiceAccount (which both clients use).
 * On failure the control plane is stopped.
 */
export async function startBenchCluster(opts: { nodes: number; log: (line: string) => void }): Promise<{ cp: ControlPlane; kc: KubeConfig }> {
  const cp = await startControlPlane({ log: opts.log });
  try {
    await addBenchNodes(cp, opts.nodes);
    applyDeploy(cp);
    await prepareCluster(cp);
    const kc = await serviceAccountKubeConfig(cp);
    opts.log('control plane ready');
    return { cp, kc };
  } catch (err) {
    await cp.stop().catch(() => undefined);
    throw err;
  }
}

/** Runway in this process as the ServiceAccount, its rate limit raised so that it never refuses. */
export function startBenchRunway(kc: KubeConfig, env: Record<string, string> = {}): Promise<RunwayOnKube> {
  return startRunwayOnKube(kc, {
    RUNWAY_RATE_LIMIT_PER_MIN: '60000000',
    RUNWAY_RATE_LIMIT_BURST: '1000000',
    // Measure latency, not the deadline of cluster calls: under saturation the API server may take > 1 s.
    RUNWAY_CLUSTER_TIMEOUT_MS: '60000',
    ...env,
  });
}

/** Status writes Runway's cluster adapter makes (admissions and the controller's), counted as they happen. */
export interface StatusWrites {
  /** Started so far. */
  total: number;
  /** Not answered yet. */
  inFlight: number;
  /** When the last one started or ended (performance.now()). */
  lastAt: number;
}

/** Wraps the adapter's updateAIJobStatus to count its calls; arguments and results pass through unchanged. */
export function countStatusWrites(cluster: KubeCluster): StatusWrites {
  const writes: StatusWrites = { total: 0, inFlight: 0, lastAt: 0 };
  const write = cluster.updateAIJobStatus.bind(cluster);
  cluster.updateAIJobStatus = async (...args) => {
    writes.total++;
    writes.inFlight++;
    writes.lastAt = performance.now();
    try {
      return await write(...args);
    } finally {
      writes.inFlight--;
      writes.lastAt = performance.now();
    }
  };
  return writes;
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

/** CPU the control plane's processes (etcd, API server, controllers, scheduler) used so far, in ticks of 10 ms. */
export function controlPlaneTicks(cp: ControlPlane): number {
  return cp.pids().reduce((sum, pid) => sum + procTicks(pid), 0);
}

// ------------------------------------------------------------------ what the API server did

/** apiserver_request_total and _duration_seconds_sum by verb/resource/subresource. */
export async function apiserverCounters(cp: ControlPlane): Promise<Map<string, { n: number; s: number }>> {
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

/** The requests between two apiserverCounters() readings, per job (those of at least 0.05 per job). */
export function diffCounters(a: Map<string, { n: number; s: number }>, b: Map<string, { n: number; s: number }>, jobs: number): string {
  const rows: string[] = [];
  for (const [k, v] of b) {
    const n = v.n - (a.get(k)?.n ?? 0);
    const sec = v.s - (a.get(k)?.s ?? 0);
    if (n / jobs >= 0.05) rows.push(`${k}: ${(n / jobs).toFixed(2)}/job, ${((sec * 1000) / Math.max(1, n)).toFixed(1)} ms avg`);
  }
  return rows.sort().join('; ');
}
