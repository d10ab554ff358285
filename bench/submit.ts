/**
 * `npm run bench:submit`: submissions per second through Runway (embedded cluster, many tenants, rate
 * limit raised) against a bare Fastify route measured in the same run, plus the heap each stored job
 * costs. Prints one JSON line. Ratios are what to compare across machines; absolute numbers are noisy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { ManualClock, SimCluster } from '../src/cluster/sim/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createRunway } from '../src/runway.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const STORED_JOBS = Number(process.env.BENCH_STORED_JOBS ?? 100_000);
const TENANTS = 1000;
const body = JSON.stringify({ image: 'pytorch/pytorch:2.3', cpu: 0.5, memory_mb: 1024, timeout_s: 600 });

async function startServer(mode: 'runway' | 'bare'): Promise<{ url: string; child: ChildProcess }> {
  const script = fileURLToPath(new URL('./server.ts', import.meta.url));
  const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/cli.mjs', import.meta.url));
  const child = spawn(process.execPath, [tsx, script, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (!child.stdout) throw new Error('no stdout from the benchmark server');
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return { url: line.toString().trim(), child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

async function load(url: string) {
  let n = 0;
  const result = await autocannon({
    url: `${url}/v1/jobs`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION_S,
    headers: { 'content-type': 'application/json' },
    body,
    requests: [
      {
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-tenant-id': `tenant-${n++ % TENANTS}` } }),
      },
    ],
  });
  const ok = result['2xx'];
  return { perS: ok / DURATION_S, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

/** Heap held per stored job: submit STORED_JOBS through the service in-process and compare heaps. */
async function heapPerJob(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:submit does)');
  const config = { ...loadConfig({ RUNWAY_RATE_LIMIT_PER_MIN: '60000000', RUNWAY_RATE_LIMIT_BURST: '10000000' }), port: 0 };
  const clock = new ManualClock();
  const cluster = new SimCluster({ namespace: config.namespace, clock });
  const runway = await createRunway(config, { cluster, logger: createLogger('silent') });
  const log = createLogger('silent');
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < STORED_JOBS; i++) {
    await runway.service.submit(JSON.parse(body) as unknown, `tenant-${i % TENANTS}`, log);
  }
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  gc();
  const after = process.memoryUsage().heapUsed;
  if (runway.store.size !== STORED_JOBS) throw new Error(`stored ${runway.store.size} jobs, expected ${STORED_JOBS}`);
  await runway.close();
  // Both the cache and the simulated cluster's copy of each object are counted: all Runway holds.
  return Math.round((after - before) / STORED_JOBS);
}

const bare = await startServer('bare');
const bareRun = await load(bare.url);
await stop(bare.child);
const rw = await startServer('runway');
const runwayRun = await load(rw.url);
await stop(rw.child);
const heap = await heapPerJob();

console.log(
  JSON.stringify({
    bench: 'submit',
    duration_s: DURATION_S,
    connections: CONNECTIONS,
    submit_per_s: Math.round(runwayRun.perS),
    bare_per_s: Math.round(bareRun.perS),
    ratio_to_bare: Math.round((runwayRun.perS / bareRun.perS) * 1000) / 1000,
    p50_ms: runwayRun.p50,
    p99_ms: runwayRun.p99,
    non_2xx: runwayRun.non2xx,
    errors: runwayRun.errors,
    stored_jobs: STORED_JOBS,
    heap_bytes_per_job: heap,
  }),
);
