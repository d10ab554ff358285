/**
 * Configuration from the environment, validated once at start. A bad value stops Runway with a message
 * naming the variable, what it holds and what is accepted; nothing downstream re-checks it.
 */
import type { JobBounds } from './core/bounds.js';
import type { CostRates } from './core/cost.js';

export interface Config {
  port: number;
  host: string;
  cluster: 'sim' | 'kube';
  namespace: string;
  bounds: JobBounds;
  tenantGpuQuota: number;
  rateLimitPerMin: number;
  rateLimitBurst: number;
  backoffLimit: number;
  rates: CostRates;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  simSpeed: number;
  /** How long a cluster call may take before the request answers 503 CLUSTER_UNAVAILABLE. */
  clusterTimeoutMs: number;
  installCrds: boolean;
  leaderElection: boolean;
  /** This replica's identity for leader election (the pod name in Kubernetes). */
  identity: string;
  /** Namespace of the leader-election Lease (the control plane's own namespace). */
  leaseNamespace: string;
  /** GPU pods tolerate taints with these keys (e.g. nvidia.com/gpu on EKS GPU nodes). */
  gpuTolerations: string[];
  /** GPU pods are placed on nodes with these labels. */
  gpuNodeSelector: Record<string, string>;
  /**
   * RUNWAY_ADMIN_TOKEN: when set, policy writes (PUT/DELETE of queues, clusters, tenants) need
   * `Authorization: Bearer <token>`. A secret: from the environment only, never logged.
   */
  adminToken?: string;
  /** Delay before the first Runway-level retry; later ones multiply it by the backoff multiplier. */
  retryBaseDelayS: number;
  /** Retries a job in a queued queue gets when neither it nor its queue sets a retry policy. */
  queuedMaxRetries: number;
  /** Status writes and Job creations the scheduling loop keeps in flight at once. */
  admitConcurrency: number;
  /** Wall-clock seconds between the leader's writes of the AIJobQueue, ComputeCluster and TenantPolicy statuses. */
  policyStatusIntervalS: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function number(
  env: Env,
  name: string,
  fallback: number,
  opts: { integer?: boolean; min?: number; max?: number; exclusiveMin?: number } = {},
): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const kind = opts.integer ? 'an integer' : 'a number';
  const low =
    opts.exclusiveMin !== undefined ? `greater than ${opts.exclusiveMin}` : opts.min !== undefined ? `at least ${opts.min}` : undefined;
  const range =
    opts.min !== undefined && opts.max !== undefined
      ? ` from ${opts.min} to ${opts.max}`
      : [low, opts.max !== undefined ? `at most ${opts.max}` : undefined].filter(Boolean).map((r) => ` ${r}`).join(' and');
  const bad = () => new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected ${kind}${range}`);
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) throw bad();
  if (opts.min !== undefined && n < opts.min) throw bad();
  if (opts.max !== undefined && n > opts.max) throw bad();
  if (opts.exclusiveMin !== undefined && n <= opts.exclusiveMin) throw bad();
  return n;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected one of ${allowed.join(', ')}`);
  }
  return raw as T;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw.toLowerCase())) return true;
  if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected true or false`);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function dnsLabel(env: Env, name: string, fallback: string): string {
  const value = read(env, name) ?? fallback;
  if (!DNS_LABEL.test(value)) {
    throw new ConfigError(`${name}=${JSON.stringify(value)} is invalid: expected a DNS label (a-z, 0-9, -)`);
  }
  return value;
}

/** A comma-separated list; empty entries are ignored. */
function list(env: Env, name: string): string[] {
  return (read(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** An optional secret: printable ASCII without spaces, so it fits an Authorization header as it is. */
function secret(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[\x21-\x7e]{16,4096}$/.test(raw)) {
    // The value is a secret: say what is wrong with it, never what it is.
    throw new ConfigError(`${name} is invalid: expected 16 to 4096 printable ASCII characters without spaces (got ${raw.length} characters)`);
  }
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const namespace = dnsLabel(env, 'RUNWAY_NAMESPACE', 'jobs');
  const adminToken = secret(env, 'RUNWAY_ADMIN_TOKEN');
  const perMin = number(env, 'RUNWAY_RATE_LIMIT_PER_MIN', 60, { exclusiveMin: 0, max: 60_000_000 });
  const host = read(env, 'HOST') ?? '127.0.0.1';
  return {
    ...(adminToken !== undefined ? { adminToken } : {}),
    port: number(env, 'PORT', 8000, { integer: true, min: 0, max: 65535 }),
    host,
    cluster: oneOf(env, 'RUNWAY_CLUSTER', ['sim', 'kube'] as const, 'sim'),
    namespace,
    bounds: {
      maxCpu: number(env, 'RUNWAY_MAX_CPU', 8, { exclusiveMin: 0, max: 1e6 }),
      maxMemoryMb: number(env, 'RUNWAY_MAX_MEMORY_MB', 32768, { integer: true, min: 1, max: 1e9 }),
      maxGpu: number(env, 'RUNWAY_MAX_GPU', 4, { integer: true, min: 0, max: 1e6 }),
      maxTimeoutS: number(env, 'RUNWAY_MAX_TIMEOUT_S', 3600, { integer: true, min: 1, max: 1e9 }),
      maxReplicas: number(env, 'RUNWAY_MAX_REPLICAS', 8, { integer: true, min: 1, max: 10_000 }),
    },
    tenantGpuQuota: number(env, 'RUNWAY_TENANT_GPU_QUOTA', 8, { integer: true, min: 0, max: 1e6 }),
    rateLimitPerMin: perMin,
    rateLimitBurst: number(env, 'RUNWAY_RATE_LIMIT_BURST', 10, { integer: true, min: 1, max: 1e9 }),
    backoffLimit: number(env, 'RUNWAY_BACKOFF_LIMIT', 2, { integer: true, min: 0, max: 100 }),
    rates: {
      cpuPerCpuSecond: number(env, 'COST_CPU_PER_CPU_SECOND', 0.000048, { min: 0 }),
      memoryPerGbSecond: number(env, 'COST_MEMORY_PER_GB_SECOND', 0.000006, { min: 0 }),
      gpuPerGpuSecond: number(env, 'COST_GPU_PER_GPU_SECOND', 0.00028, { min: 0 }),
    },
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    simSpeed: number(env, 'RUNWAY_SIM_SPEED', 1, { exclusiveMin: 0, max: 1e6 }),
    clusterTimeoutMs: number(env, 'RUNWAY_CLUSTER_TIMEOUT_MS', 1000, { integer: true, min: 50, max: 60_000 }),
    installCrds: bool(env, 'RUNWAY_INSTALL_CRDS', false),
    leaderElection: bool(env, 'RUNWAY_LEADER_ELECTION', false),
    identity: read(env, 'POD_NAME') ?? read(env, 'HOSTNAME') ?? `runway-${process.pid}`,
    leaseNamespace: dnsLabel(env, 'RUNWAY_LEASE_NAMESPACE', read(env, 'POD_NAMESPACE') ?? namespace),
    gpuTolerations: list(env, 'RUNWAY_GPU_TOLERATION').map((key) => {
      if (!QUALIFIED_NAME.test(key)) throw new ConfigError(`RUNWAY_GPU_TOLERATION has an invalid taint key ${JSON.stringify(key)}`);
      return key;
    }),
    gpuNodeSelector: Object.fromEntries(
      list(env, 'RUNWAY_GPU_NODE_SELECTOR').map((pair) => {
        const [k, v, ...rest] = pair.split('=');
        if (!k || v === undefined || rest.length > 0 || !QUALIFIED_NAME.test(k)) {
          throw new ConfigError(`RUNWAY_GPU_NODE_SELECTOR has an invalid entry ${JSON.stringify(pair)}: expected key=value`);
        }
        return [k, v];
      }),
    ),
    retryBaseDelayS: number(env, 'RUNWAY_RETRY_BASE_DELAY_S', 10, { min: 0, max: 86_400 }),
    queuedMaxRetries: number(env, 'RUNWAY_QUEUED_MAX_RETRIES', 2, { integer: true, min: 0, max: 20 }),
    admitConcurrency: number(env, 'RUNWAY_ADMIT_CONCURRENCY', 32, { integer: true, min: 1, max: 1024 }),
    policyStatusIntervalS: number(env, 'RUNWAY_POLICY_STATUS_INTERVAL_S', 10, { min: 0.1, max: 3600 }),
  };
}
