/**
 * `npm run bench:submit`: submissions per second through Runway (embedded cluster, many tenants, rate
 * limit raised) against a bare Fastify route measured in the same run, plus the heap each stored job
 * costs. Prints one JSON line (see docs/performance.md for every field).
 *
 * How it keeps the numbers honest:
 * - each server runs in its own process, started fresh for every measured run, and gets a discarded
 *   warm-up run first (JIT, caches, socket pools); both get the node flags of `npm start` (package.json);
 * - the servers run compiled by tsc, as the image runs Runway (`node <flags> dist/main.js`): the
 *   benchmark builds src/ and bench/server.ts with tsconfig.bench.json first. BENCH_BUILD=tsx runs them
 *   through tsx instead, as `npm start` does (tsx compiles with esbuild's keepNames, which costs every
 *   closure a defineProperty: see docs/performance.md);
 * - the load generator (autocannon, in this process) replays a precomputed list of requests rather
 *   than building each one in a callback, so it spends its CPU on sending, not on itself;
 * - on Linux with 2+ CPUs, the server and the load generator are pinned to different CPUs so that they
 *   never queue behind each other (BENCH_PIN=0 turns it off);
 * - bare and Runway alternate in ROUNDS rounds; reported rates are medians, `ratio_to_bare` the median
 *   of each round's ratio (bare and Runway measured back to back under the same machine load);
 * - the CPU the server used and the CPU other processes used during the measured windows are reported,
 *   so that a run on a busy machine shows as one;
 * - Runway's own counter of accepted jobs is read back and compared with the 2xx answers counted here.
 *
 * Environment: BENCH_DURATION_S (10), BENCH_WARMUP_S (2), BENCH_ROUNDS (3), BENCH_CONNECTIONS (50),
 * BENCH_STORED_JOBS (100000), BENCH_PIN (auto), BENCH_BUILD (tsc; or tsx), BENCH_LOG_LEVEL (silent; e.g. info, logs to
 * BENCH_LOG_FILE, default /dev/null).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { ManualClock, SimCluster } from '../src/cluster/sim/index.js';
import type { ClusterPort } from '../src/cluster/types.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createRunway } from '../src/runway.js';
import { WirePort } from './wire-port.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const STORED_JOBS = Number(process.env.BENCH_STORED_JOBS ?? 100_000);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'silent';
const BUILD = process.env.BENCH_BUILD ?? 'tsc';
if (BUILD !== 'tsc' && BUILD !== 'tsx') throw new Error(`BENCH_BUILD must be tsc or tsx, not ${BUILD}`);
const TENANTS = 200;
const CPUS = availableParallelism();
const body = JSON.stringify({ image: 'pytorch/pytorch:2.3', cpu: 0.5, memory_mb: 1024, timeout_s: 600 });

// autocannon cycles through these on every connection: 200 tenants, nothing built per request.
const requests: autocannon.Request[] = Array.from({ length: TENANTS }, (_, i) => ({
  method: 'POST',
  path: '/v1/jobs',
  headers: { 'content-type': 'application/json', 'x-tenant-id': `tenant-${i}` },
  body,
}));

// ------------------------------------------------------------------ CPU placement and accounting

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const pinWanted = process.env.BENCH_PIN ?? 'auto';
const PIN = pinWanted !== '0' && process.platform === 'linux' && CPUS >= 2 && hasTaskset();
if (pinWanted === '1' && !PIN) throw new Error('BENCH_PIN=1 needs Linux, 2+ CPUs and taskset');
// The server gets the last CPU; this process (autocannon) and its threads the others.
const SERVER_CPU = String(CPUS - 1);
if (PIN) execFileSync('taskset', ['-a', '-cp', `0-${CPUS - 2}`, String(process.pid)], { stdio: 'ignore' });

interface Ticks {
  busy: number;
  total: number;
  self: number;
  server: number;
}

/** CPU time from /proc (Linux): whole machine, this process, the server process. */
function ticks(serverPid: number | undefined): Ticks | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const proc = (pid: number | 'self'): number => {
    try {
      // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
      const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return Number(rest[11]) + Number(rest[12]);
    } catch {
      return 0;
    }
  };
  return { busy: total - idle, total, self: proc('self'), server: serverPid === undefined ? 0 : proc(serverPid) };
}

/** CPUs' worth of time used by the server and by everything else on the machine between a and b. */
function cpuShares(a: Ticks | undefined, b: Ticks | undefined): { server: number; foreign: number } | undefined {
  if (!a || !b) return undefined;
  const perCpu = (b.total - a.total) / CPUS;
  if (perCpu <= 0) return undefined;
  const server = (b.server - a.server) / perCpu;
  const self = (b.self - a.self) / perCpu;
  const foreign = Math.max(0, (b.busy - a.busy) / perCpu - server - self);
  return { server: round(server, 2), foreign: round(foreign, 2) };
}

// ------------------------------------------------------------------ servers and load

interface Server {
  url: string;
  child: ChildProcess;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The node flags of `npm start` (package.json): `node <flags> --import tsx src/main.ts`. */
const START_NODE_FLAGS: string[] = (() => {
  const pkg = readJson<{ scripts: { start: string } }>(fileURLToPath(new URL('../package.json', import.meta.url)));
  const words = pkg.scripts.start.split(/\s+/);
  const end = words.indexOf('--import');
  if (words[0] !== 'node' || end < 0) throw new Error(`package.json start is not "node <flags> --import tsx ...": ${pkg.scripts.start}`);
  return words.slice(1, end);
})();

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The server script to run: bench/server.ts compiled with src/ by tsc (as the image's build compiles
 * Runway) into node_modules/.cache/runway/bench-build, rebuilt on every run so it is never stale; or the
 * TypeScript source itself for BENCH_BUILD=tsx. The build gets package.json beside it: Runway reads its
 * version there, and Node needs its `"type": "module"` (package scopes end at node_modules).
 */
function serverScript(): string {
  if (BUILD === 'tsx') return join(ROOT, 'bench', 'server.ts');
  const config = readJson<{ compilerOptions: { outDir: string } }>(join(ROOT, 'tsconfig.bench.json'));
  const out = join(ROOT, config.compilerOptions.outDir);
  rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.bench.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
  return join(out, 'bench', 'server.js');
}

const SERVER_SCRIPT = serverScript();

async function startServer(mode: 'runway' | 'bare'): Promise<Server> {
  // tsx as a loader in the server's own process (its CLI would put a second process in between).
  const loader = BUILD === 'tsx' ? ['--import', import.meta.resolve('tsx')] : [];
  // Both servers get the V8 flags `npm start` gives Runway, so that neither is tuned and the other not.
  const node = [process.execPath, ...START_NODE_FLAGS, ...loader, SERVER_SCRIPT, mode];
  const [cmd, ...args] = PIN ? ['taskset', '-c', SERVER_CPU, ...node] : node;
  const child = spawn(cmd as string, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_LOG_LEVEL: LOG_LEVEL },
  });
  if (!child.stdout) throw new Error('no stdout from the benchmark server');
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return { url: line.toString().trim(), child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

interface Run {
  perS: number;
  ok: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPUs' worth of time the server used during the run (1 = one CPU all the time). */
  serverCpu?: number;
  /** The server's CPU time per 2xx answer, in microseconds: what a request costs, whatever the load. */
  cpuUsPerRequest?: number;
  foreignCpu?: number;
}

async function load(url: string, seconds: number, serverPid?: number): Promise<Run> {
  const before = ticks(serverPid);
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, requests });
  const shares = cpuShares(before, ticks(serverPid));
  const ok = result['2xx'];
  return {
    perS: ok / seconds,
    ok,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    ...(shares
      ? { serverCpu: shares.server, foreignCpu: shares.foreign, cpuUsPerRequest: ok > 0 ? round((shares.server * seconds * 1e6) / ok) : 0 }
      : {}),
  };
}

/** Runway's own count of accepted jobs, from /metrics. */
async function jobsSubmitted(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^jobs_submitted_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

// ------------------------------------------------------------------ heap per stored job

const gc = (globalThis as { gc?: () => void }).gc;

function heapAfterGc(): number {
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:submit does)');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Submits STORED_JOBS through the service in-process (the embedded cluster on a manual clock, so every
 * job stays stored and non-terminal) and returns the heap they hold: in total, and what is left once
 * Runway is dropped and only the cluster holds its objects. With `wire`, objects cross the port as
 * JSON copies (as they do from a real API server), so the difference is Runway's caches alone.
 */
async function heapPerJob(wire: boolean): Promise<{ total: number; cluster: number }> {
  const sim = new SimCluster({ namespace: 'jobs', clock: new ManualClock() });
  const beforeCluster = heapAfterGc();
  const total = await fillWithRunway(wire ? new WirePort(sim) : sim);
  // Runway is gone (closed, unreferenced): what is left is what the cluster holds. A new macrotask
  // first, so that nothing the last one touched is still held for it.
  await new Promise((r) => setTimeout(r, 50));
  const clusterOnly = heapAfterGc();
  if (sim.aiJobs().length !== STORED_JOBS) throw new Error('the cluster lost jobs');
  return { total: Math.round(total / STORED_JOBS), cluster: Math.round((clusterOnly - beforeCluster) / STORED_JOBS) };
}

/** Heap growth from storing STORED_JOBS jobs through a fresh Runway on the given port. */
async function fillWithRunway(cluster: ClusterPort): Promise<number> {
  const config = { ...loadConfig({ RUNWAY_RATE_LIMIT_PER_MIN: '60000000', RUNWAY_RATE_LIMIT_BURST: '10000000' }), port: 0 };
  const runway = await createRunway(config, { cluster, logger: createLogger('silent') });
  const log = createLogger('silent');
  const before = heapAfterGc();
  for (let i = 0; i < STORED_JOBS; i++) {
    await runway.service.submit(JSON.parse(body) as unknown, `tenant-${i % TENANTS}`, log);
  }
  // Let the controller catch up: it writes the status of every job that has something to say (the
  // scheduler's "0/6 nodes are available" for the jobs that do not fit).
  const written = () => [...runway.store.values()].filter((j) => j.status).length;
  for (let i = 0, before = -1, stable = 0; i < 200 && stable < 3; i++) {
    await new Promise((r) => setImmediate(r));
    const now = written();
    stable = now === before ? stable + 1 : 0;
    before = now;
  }
  if (runway.store.size !== STORED_JOBS) throw new Error(`stored ${runway.store.size} jobs, expected ${STORED_JOBS}`);
  const after = heapAfterGc();
  await runway.close(); // stops the watch and the cluster's timers; the cluster keeps its objects
  // prom-client's default-metrics observers keep the registry reachable after close(), and with it
  // the gauges whose collect() reads the JobStore: empty it so that Runway's caches can go.
  runway.metrics.registry.clear();
  return after - before;
}

// ------------------------------------------------------------------ main

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const loadBefore = loadavg()[0] ?? 0;
const bareRuns: Run[] = [];
const runwayRuns: Run[] = [];
let clientOk = 0;
let serverAccepted = 0;
for (let r = 0; r < ROUNDS; r++) {
  const bare = await startServer('bare');
  if (WARMUP_S > 0) await load(bare.url, WARMUP_S);
  bareRuns.push(await load(bare.url, DURATION_S, bare.child.pid));
  await stop(bare.child);

  const rw = await startServer('runway');
  if (WARMUP_S > 0) clientOk += (await load(rw.url, WARMUP_S)).ok;
  const run = await load(rw.url, DURATION_S, rw.child.pid);
  runwayRuns.push(run);
  clientOk += run.ok;
  serverAccepted += await jobsSubmitted(rw.url);
  await stop(rw.child);
}
const shared = await heapPerJob(false);
const wired = await heapPerJob(true);

const ratios = runwayRuns.map((run, i) => run.perS / (bareRuns[i] as Run).perS);
const sum = (xs: Run[], f: (r: Run) => number) => xs.reduce((a, r) => a + f(r), 0);
const cpu = (xs: Run[], f: (r: Run) => number | undefined) => {
  const v = xs.map(f).filter((x): x is number => x !== undefined);
  return v.length ? round(median(v), 2) : null;
};

console.log(
  JSON.stringify({
    bench: 'submit',
    duration_s: DURATION_S,
    warmup_s: WARMUP_S,
    rounds: ROUNDS,
    connections: CONNECTIONS,
    submit_per_s: Math.round(median(runwayRuns.map((x) => x.perS))),
    bare_per_s: Math.round(median(bareRuns.map((x) => x.perS))),
    ratio_to_bare: round(median(ratios), 3),
    p50_ms: median(runwayRuns.map((x) => x.p50)),
    p99_ms: median(runwayRuns.map((x) => x.p99)),
    non_2xx: sum(runwayRuns, (x) => x.non2xx),
    errors: sum(runwayRuns, (x) => x.errors),
    // Jobs Runway counted as accepted (>= the 2xx answers counted here: the last requests of a run
    // can be accepted after autocannon stopped counting).
    server_jobs_submitted: serverAccepted,
    client_2xx: clientOk,
    stored_jobs: STORED_JOBS,
    heap_bytes_per_job: shared.total,
    heap_bytes_per_job_runway: wired.total - wired.cluster,
    heap_bytes_per_job_sim: wired.cluster,
    runs: {
      submit_per_s: runwayRuns.map((x) => Math.round(x.perS)),
      bare_per_s: bareRuns.map((x) => Math.round(x.perS)),
      p99_ms: runwayRuns.map((x) => x.p99),
    },
    machine: {
      cpus: CPUS,
      node: process.version,
      pinned: PIN,
      server_node_flags: START_NODE_FLAGS.join(' '),
      server_build: BUILD,
      log_level: LOG_LEVEL,
      load_avg_1m_before: round(loadBefore, 2),
      server_cpu: { runway: cpu(runwayRuns, (x) => x.serverCpu), bare: cpu(bareRuns, (x) => x.serverCpu) },
      server_cpu_us_per_request: { runway: cpu(runwayRuns, (x) => x.cpuUsPerRequest), bare: cpu(bareRuns, (x) => x.cpuUsPerRequest) },
      foreign_cpu: cpu([...runwayRuns, ...bareRuns], (x) => x.foreignCpu),
    },
  }),
);
