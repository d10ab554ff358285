// The production layout runs: what the Dockerfile's runtime stage holds (package*.json, a clean
// `npm ci --omit=dev`, the compiled dist/ and bin/, and no src/, tsconfig or dev dependencies) starts,
// answers /healthz, and `runway --version` runs the compiled CLI. There is no Docker engine here, so
// this is the check that the image would work.
//
// Everything happens in a temporary directory: the repository never gets a dist/ (bin/runway.js
// prefers dist/ when it exists, which would make the other suites run stale compiled code).
// `npm ci --prefer-offline` uses the local npm cache, so after a first run it works offline.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

let dir = '';
let server: ChildProcess | undefined;
let serverOutput = '';

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, NODE_ENV: 'production' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}, ${r.error?.message ?? ''}):\n${r.stdout}${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** Like run(), asynchronously: lets npm ci and the compile overlap. */
function runAsync(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NODE_ENV: 'production' }, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${out}`))));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForHealthz(url: string, timeoutMs: number): Promise<Response> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return res;
    } catch {
      // not listening yet
    }
    if (server?.exitCode !== null && server?.exitCode !== undefined) throw new Error(`node dist/main.js exited ${server.exitCode}:\n${serverOutput}`);
    if (Date.now() > until) throw new Error(`no 200 from ${url} within ${timeoutMs} ms:\n${serverOutput}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'runway-prod-'));
  // The runtime stage: package*.json and bin/ (the Dockerfile copies exactly these, plus dist/).
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  await Promise.all([
    runAsync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], dir, 120_000),
    // The build stage: `npm run build` (tsc -p tsconfig.build.json) with the repository's dev
    // dependencies, emitting into the temporary directory instead of the repository's dist/.
    runAsync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist')], ROOT, 120_000),
  ]);
}, 180_000);

afterAll(async () => {
  if (server?.pid !== undefined && server.exitCode === null) {
    process.kill(server.pid, 'SIGKILL');
    await new Promise((r) => server?.once('exit', r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The image's command: the Dockerfile's last CMD (exec form). */
function imageCommand(): string[] {
  const cmds = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('CMD '));
  return JSON.parse((cmds[cmds.length - 1] ?? '').slice(4)) as string[];
}

describe('production layout (npm ci --omit=dev + compiled dist/)', () => {
  it('the image runs node with the V8 flags of `npm start` (which the submit benchmark uses too)', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
    const start = scripts.start.split(' ');
    const image = imageCommand();
    expect(image[0]).toBe('node');
    expect(image[image.length - 1]).toBe('dist/main.js');
    expect(start.slice(0, 1)).toEqual(['node']);
    expect(start.slice(start.indexOf('--import'))).toEqual(['--import', 'tsx', 'src/main.ts']);
    expect(image.slice(1, -1)).toEqual(start.slice(1, start.indexOf('--import')));
    expect(image.slice(1, -1)).toEqual(['--max-semi-space-size=64', '--min-semi-space-size=64']);
  });


  it('holds no sources and no dev dependencies', () => {
    expect(existsSync(join(dir, 'dist', 'main.js'))).toBe(true);
    expect(existsSync(join(dir, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(dir, 'src'))).toBe(false);
    for (const dev of ['typescript', 'vitest', 'eslint', 'fast-check']) expect(existsSync(join(dir, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(ROOT, 'dist')), 'the repository must not get a dist/').toBe(false);
  });

  it("the image's command (`node <flags> dist/main.js`) starts on the embedded cluster and answers /healthz, /readyz and /metrics; SIGTERM stops it cleanly", async () => {
    const port = await freePort();
    server = spawn(process.execPath, imageCommand().slice(1), {
      cwd: dir,
      env: { ...process.env, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), RUNWAY_CLUSTER: 'sim', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (d: Buffer) => (serverOutput += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (serverOutput += d.toString()));
    const base = `http://127.0.0.1:${port}`;
    const health = await waitForHealthz(`${base}/healthz`, 20_000);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('runway_pool_gpus{pool="gpu",state="capacity"} 16');
    expect(serverOutput).toContain(`Runway listening on http://127.0.0.1:${port}`);

    const pid = server.pid as number;
    const exited = new Promise<number | null>((r) => server?.once('exit', (code) => r(code)));
    process.kill(pid, 'SIGTERM');
    expect(await exited).toBe(0);
  }, 40_000);

  it('`node bin/runway.js --version` runs the compiled CLI from dist/ (there is no src/ to fall back to)', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const out = run(process.execPath, ['bin/runway.js', '--version'], dir, 20_000);
    expect(out.trim()).toBe(version);
  });
});
