/**
 * The `runway` CLI end to end: a real Runway (embedded sim cluster, manual clock) listens in this process
 * on an ephemeral port, and each test runs the real binary (bin/runway.js) as a child process against it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/api/views.js';
import { ManualClock, SimCluster } from '../../src/cluster/sim/index.js';
import { loadConfig } from '../../src/config.js';
import { createRunway, type Runway } from '../../src/runway.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/runway.js');
const T = 30_000;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let runway: Runway;
let clock: ManualClock;
let url: string;
let dir: string;

/** Runs `runway ...args` against the test server; resolves with the exit code and output, whatever it is. */
function cli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env: { ...process.env, RUNWAY_URL: url, RUNWAY_TENANT: '', NO_COLOR: '1', ...opts.env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}

/** Starts `runway ...args` and lets the test wait for output while it runs (for --watch). */
function cliLive(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, RUNWAY_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
  return {
    done,
    async waitFor(text: string, timeoutMs = 15_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (!stdout.includes(text)) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${JSON.stringify(text)}; stdout: ${stdout}; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Moves the sim clock forward in steps, letting the controller observe every transition. */
async function advance(ms: number, stepMs = 1000): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    clock.advance(Math.min(stepMs, ms - done));
    await settle();
  }
}

async function view(id: string): Promise<JobView> {
  const res = await fetch(`${url}/v1/jobs/${id}`);
  return (await res.json()) as JobView;
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');
const JOB_FLAGS = ['--image', 'busybox:1.36', '--cpu', '1', '--memory-mb', '512', '--timeout-s', '600'];

beforeAll(async () => {
  // 90 minutes in the past, so that every job's AGE reads "1h" however long the tests take.
  clock = new ManualClock(Date.now() - 90 * 60_000);
  const config = { ...loadConfig({}), port: 0, host: '127.0.0.1', logLevel: 'silent' as const };
  const cluster = new SimCluster({ namespace: config.namespace, clock });
  runway = await createRunway(config, { cluster });
  url = await runway.listen();
  dir = mkdtempSync(join(tmpdir(), 'runway-cli-'));
});

afterAll(async () => {
  await runway?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('runway submit', () => {
  it(
    'submits from flags and prints the created job',
    async () => {
      const r = await cli([
        'submit',
        '--tenant',
        'team-a',
        ...JOB_FLAGS,
        '--gpus',
        '2',
        '--env',
        'EPOCHS=3',
        '--label',
        'team=ml',
        '--annotation',
        'sim.runway.dev/duration-s=30',
        '--',
        'python',
        'train.py',
        '--epochs',
        '3',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [header, row, ...rest] = lines(r.stdout);
      expect(rest).toEqual([]);
      expect(header).toBe('JOB ID            TENANT  STATUS   GPUS  EST. COST');
      const id = row?.split(/\s+/)[0] ?? '';
      expect(row).toBe(`${id}  team-a  PENDING  2     $0.3666`);
      const job = runway.store.get(id);
      expect(job?.spec).toMatchObject({
        tenant_id: 'team-a',
        image: 'busybox:1.36',
        cpu: 1,
        memory_mb: 512,
        gpu_count: 2,
        timeout_s: 600,
        command: ['python', 'train.py', '--epochs', '3'],
        env: { EPOCHS: '3' },
        labels: { team: 'ml' },
        annotations: { 'sim.runway.dev/duration-s': '30' },
      });
    },
    T,
  );

  it(
    'reads job.yaml and job.json, with flags overriding the file; -o json prints the body',
    async () => {
      const yamlFile = join(dir, 'job.yaml');
      writeFileSync(
        yamlFile,
        ['tenant_id: team-yaml', 'name: nightly', 'image: pytorch/pytorch:2.3', 'cpu: 2', 'memory_mb: 4096', 'timeout_s: 900', 'priority: 1', 'labels:', '  team: ml', ''].join('\n'),
      );
      const jsonFile = join(dir, 'job.json');
      writeFileSync(jsonFile, JSON.stringify({ image: 'busybox', cpu: 1, memory_mb: 256, timeout_s: 60, tenant_id: 'team-json' }));

      const [fromYaml, fromJson] = await Promise.all([
        cli(['submit', '-f', yamlFile, '--priority', '7', '--label', 'run=42', '-o', 'json']),
        cli(['-o', 'json', 'submit', '--file', jsonFile, '--tenant', 'team-override', '--gpus', '1']),
      ]);
      expect(fromYaml.code).toBe(0);
      const a = JSON.parse(fromYaml.stdout) as JobView;
      expect(a.job_id).toMatch(/^[a-z0-9]+$/);
      expect(a).toMatchObject({ tenant_id: 'team-yaml', name: 'nightly', status: 'PENDING', priority: 7 });
      expect(a.spec.labels).toEqual({ team: 'ml', run: '42' });
      expect(a.estimated_cost).toEqual({ currency: 'USD', total: 0.108, cpu: 0.0864, memory: 0.0216, gpu: 0, basis: 'timeout_s' });
      expect(runway.store.get(a.job_id)).toBeDefined();

      expect(fromJson.code).toBe(0);
      const b = JSON.parse(fromJson.stdout) as JobView;
      expect(b).toMatchObject({ tenant_id: 'team-override', status: 'PENDING' });
      expect(b.spec.gpu_count).toBe(1);
      expect(b.spec.memory_mb).toBe(256);
    },
    T,
  );

  it(
    'reads the spec from stdin and says so when an idempotency key replays an existing job',
    async () => {
      const spec = JSON.stringify({ image: 'busybox', cpu: 0.5, memory_mb: 256, timeout_s: 60 });
      const args = ['submit', '-f', '-', '--idempotency-key', 'nightly-1', '-o', 'json'];
      const first = await cli(args, { input: spec, env: { RUNWAY_TENANT: 'team-stdin' } });
      expect(first.code).toBe(0);
      expect(first.stderr).toBe('');
      const again = await cli(args, { input: spec, env: { RUNWAY_TENANT: 'team-stdin' } });
      expect(again.code).toBe(0);
      const a = JSON.parse(first.stdout) as JobView;
      const b = JSON.parse(again.stdout) as JobView;
      expect(b.job_id).toBe(a.job_id);
      expect(a.tenant_id).toBe('team-stdin');
      expect(again.stderr).toBe(`job ${a.job_id} already exists with this idempotency key; nothing new was created\n`);
    },
    T,
  );
});

describe('runway get', () => {
  it(
    'shows a job, then follows it with --watch until it succeeds (exit 0)',
    async () => {
      const sub = await cli(['submit', '--tenant', 'team-watch', ...JOB_FLAGS, '--name', 'watched', '--annotation', 'sim.runway.dev/duration-s=30', '-o', 'json']);
      const id = (JSON.parse(sub.stdout) as JobView).job_id;
      const v = await view(id);

      const got = await cli(['get', id]);
      expect(got.code).toBe(0);
      expect(got.stdout).toBe(
        [
          `Job ID:     ${id}`,
          'Name:       watched',
          'Tenant:     team-watch',
          'Status:     PENDING',
          `Attempt:    1 (pods started: ${v.attempts})`,
          'Queue:      default (priority 0)',
          'Image:      busybox:1.36',
          'Resources:  cpu 1, memory 512Mi, gpus 0, timeout 600s',
          `Created:    ${v.created_at}`,
          ...(v.started_at ? [`Started:    ${v.started_at}`] : []),
          'Est. cost:  $0.0306 (cpu $0.0288, memory $0.0018, gpu $0.00)',
          '',
        ].join('\n'),
      );

      const watch = cliLive(['get', id, '--watch', '--interval', '50', '-o', 'json']);
      await watch.waitFor('"PENDING"');
      await advance(5_000);
      await watch.waitFor('"RUNNING"');
      await advance(60_000);
      const r = await watch.done;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const seen = lines(r.stdout).map((l) => JSON.parse(l) as JobView);
      expect(seen.map((j) => j.status)).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
      expect(seen[2]).toMatchObject({ job_id: id, reason: 'Completed', exit_code: 0 });
    },
    T,
  );

  it(
    'exits 1 from --watch when the job ends badly (OOM), and logs prints its log',
    async () => {
      const sub = await cli(['submit', '--tenant', 'team-oom', ...JOB_FLAGS, '--annotation', 'sim.runway.dev/oom=true', '-o', 'json']);
      const id = (JSON.parse(sub.stdout) as JobView).job_id;
      await advance(180_000, 5_000);
      expect((await view(id)).status).toBe('FAILED');

      const [watched, shown, log] = await Promise.all([cli(['get', id, '--watch']), cli(['get', id]), cli(['logs', id, '--tail', '3'])]);
      expect(watched.code).toBe(1);
      expect(watched.stdout).toMatch(new RegExp(`^${id}  FAILED  OOMKilled  exit 137  out of memory .*\\n$`));
      expect(shown.stdout).toContain('Status:     FAILED\nReason:     OOMKilled\nExit code:  137\n');
      expect(log.code).toBe(0);
      const expected = await runway.cluster.readLogs(`${id}-1`, 3);
      expect(expected).not.toBe('');
      expect(log.stdout).toBe(expected.endsWith('\n') ? expected : `${expected}\n`);
    },
    T,
  );
});

describe('runway list', () => {
  it(
    'filters by tenant and status, as a table and as JSON',
    async () => {
      const subs = await Promise.all([
        cli(['submit', '--tenant', 'team-list', ...JOB_FLAGS, '--gpus', '1', '-o', 'json']),
        cli(['submit', '--tenant', 'team-list', ...JOB_FLAGS, '--memory-mb', '2048', '--annotation', 'sim.runway.dev/exit-code=3', '-o', 'json']),
      ]);
      const [ok, bad] = subs.map((s) => (JSON.parse(s.stdout) as JobView).job_id);
      await advance(180_000, 5_000);

      const [all, failed] = await Promise.all([
        cli(['list', '--tenant', 'team-list']),
        cli(['list', '--tenant', 'team-list', '--status', 'FAILED', '-o', 'json']),
      ]);
      expect(all.code).toBe(0);
      const rows = new Map(lines(all.stdout).slice(1).map((l) => [l.split(/\s+/)[0], l]));
      expect(lines(all.stdout)[0]).toBe(`${'JOB ID'.padEnd(ok?.length ?? 0)}  TENANT     STATUS     REASON     GPUS  CPU  MEMORY  AGE  EST. COST`);
      expect(rows.size).toBe(2);
      expect(rows.get(ok)).toBe(`${ok}  team-list  SUCCEEDED  Completed  1     1    512Mi   1h   $0.1986`);
      expect(rows.get(bad)).toBe(`${bad}  team-list  FAILED     Error      0     1    2Gi     1h   $0.036`);

      expect(failed.code).toBe(0);
      const body = JSON.parse(failed.stdout) as { items: JobView[] };
      expect(Object.keys(body)).toEqual(['items']);
      expect(body.items.map((j) => [j.job_id, j.status, j.reason, j.exit_code])).toEqual([[bad, 'FAILED', 'Error', 3]]);
    },
    T,
  );
});

describe('runway estimate', () => {
  it(
    'prints the cost breakdown',
    async () => {
      const r = await cli(['estimate', '--image', 'pytorch/pytorch:2.3', '--cpu', '4', '--memory-mb', '16384', '--gpus', '2', '--timeout-s', '1800']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        ['Estimated cost (USD, if the job runs for its whole timeout):', '  cpu     0.3456', '  memory  0.1728', '  gpu     1.0080', '  total   1.5264', ''].join('\n'),
      );
    },
    T,
  );
});

describe('errors', () => {
  it(
    'API errors print the message and code and exit 1; bad flags exit 2; no server is a friendly exit 1',
    async () => {
      const [limit, missing, badNumber, badOutput, down] = await Promise.all([
        cli(['submit', '--tenant', 'team-err', ...JOB_FLAGS, '--gpus', '99']),
        cli(['get', 'nosuchjob']),
        cli(['submit', '--tenant', 'team-err', ...JOB_FLAGS, '--cpu', 'four']),
        cli(['list', '-o', 'yaml']),
        cli(['list'], { env: { RUNWAY_URL: 'http://127.0.0.1:9' } }),
      ]);

      expect(limit.code).toBe(1);
      expect(limit.stdout).toBe('');
      expect(limit.stderr).toMatch(/^Error: gpu_count 99 GPUs exceeds the per-job limit of 4 GPUs \(LIMIT_EXCEEDED\)\nrequest id: \S+\n$/);

      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^Error: job nosuchjob not found \(NOT_FOUND\)\nrequest id: \S+\n$/);

      expect(badNumber.code).toBe(2);
      expect(badNumber.stdout).toBe('');
      expect(badNumber.stderr).toContain("error: option '--cpu <cores>' argument 'four' is invalid. expected a number, got 'four'");

      expect(badOutput.code).toBe(2);
      expect(badOutput.stderr).toContain('Allowed choices are table, json');

      expect(down.code).toBe(1);
      expect(down.stderr).toBe('Error: cannot reach Runway at http://127.0.0.1:9 (is it running? set RUNWAY_URL)\n');
      expect(`${limit.stderr}${missing.stderr}${down.stderr}`).not.toMatch(/\n\s+at /); // no stack traces
    },
    T,
  );

  it(
    '--version prints the package version',
    async () => {
      const r = await cli(['--version']);
      const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
      expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    },
    T,
  );
});

describe('runway cancel, retry, queues, nodepools', () => {
  const GPU_FLAGS = ['--image', 'busybox:1.36', '--cpu', '2', '--memory-mb', '4096', '--gpus', '4', '--timeout-s', '600', '--queue', 'batch'];

  it(
    'get shows a queued job\'s position and reason; cancel takes it out; cancel again is harmless; a finished job is 409',
    async () => {
      const long = ['--annotation', 'sim.runway.dev/duration-s=1000'];
      for (let i = 0; i < 2; i++) expect((await cli(['submit', '--tenant', 'team-q', ...GPU_FLAGS, ...long])).code).toBe(0);
      const sub = await cli(['submit', '--tenant', 'team-q', ...GPU_FLAGS, '-o', 'json']);
      const queued = JSON.parse(sub.stdout) as JobView;
      expect(queued.status).toBe('QUEUED');
      runway.scheduler.explain();
      const got = await cli(['get', queued.job_id]);
      expect(got.stdout).toMatch(/\nStatus: +QUEUED\n/);
      expect(got.stdout).toMatch(/\nPosition: +1 in queue batch\n/);
      expect(got.stdout).toMatch(/\nWaiting: +tenant team-q quota: needs 4 GPUs, 8 of 8 in use; .*no jobs ahead; estimated start in \d+ min\n/);

      const cancelled = await cli(['cancel', queued.job_id]);
      expect(cancelled.code).toBe(0);
      expect(cancelled.stdout).toBe(`${queued.job_id}  CANCELLED  Cancelled  cancelled by the user while QUEUED\n`);
      expect((await cli(['cancel', queued.job_id])).code).toBe(0);

      const done = JSON.parse((await cli(['submit', '--tenant', 'team-q2', ...JOB_FLAGS, '--annotation', 'sim.runway.dev/duration-s=1', '-o', 'json'])).stdout) as JobView;
      await advance(10_000);
      const refused = await cli(['cancel', done.job_id]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('(CONFLICT)');
    },
    T,
  );

  it(
    'retry starts a new attempt of a failed job; queues and nodepools print tables and JSON',
    async () => {
      const sub = await cli(['submit', '--tenant', 'team-r', ...JOB_FLAGS, '--annotation', 'sim.runway.dev/exit-code=2', '--annotation', 'sim.runway.dev/duration-s=1', '-o', 'json']);
      const id = (JSON.parse(sub.stdout) as JobView).job_id;
      await advance(200_000, 5_000);
      expect((await view(id)).status).toBe('FAILED');
      const retried = await cli(['retry', id, '-o', 'json']);
      expect(retried.code).toBe(0);
      expect(JSON.parse(retried.stdout)).toMatchObject({ job_id: id, attempt: 2 });

      const q = await cli(['queues']);
      expect(q.code).toBe(0);
      expect(lines(q.stdout)[0]).toMatch(/^QUEUE +ADMISSION +PRIORITY +PREEMPTION +MAX +QUEUED +ADMITTED +RUNNING +USAGE CPU \/ MEM \/ GPU$/);
      expect(q.stdout).toMatch(/\nbatch +queued +0 +PreemptLowerPriority +100 /);
      const qj = JSON.parse((await cli(['queues', '-o', 'json'])).stdout) as { items: Array<{ name: string }> };
      expect(qj.items.map((i) => i.name)).toEqual(['batch', 'default']);

      const p = await cli(['nodepools']);
      expect(p.code).toBe(0);
      expect(lines(p.stdout)[0]).toMatch(/^POOL +NODES +CAPACITY CPU \/ MEM \/ GPU +FREE CPU \/ MEM \/ GPU +RUNNING +QUEUED +HEAD ETA +EXHAUSTED$/);
      expect(p.stdout).toMatch(/\ngpu +2 +128 \/ 1024Gi \/ 16 /);
      const pj = JSON.parse((await cli(['nodepools', '-o', 'json'])).stdout) as { items: Array<{ name: string }> };
      expect(pj.items.map((i) => i.name)).toEqual(['cpu', 'gpu']);
    },
    T,
  );
});
