/** `npm start` / `runway serve` as a process: the start-up line, a bad variable, a clean stop. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';

const TSX = ['--import', 'tsx'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

describe('runway serve', () => {
  it('logs one start-up line with where it listens and which cluster, serves, and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [...TSX, 'src/main.ts'], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' } });
    try {
      let out = '';
      const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          for (const l of out.split('\n')) {
            if (l.includes('Runway listening on')) resolve(JSON.parse(l) as Record<string, unknown>);
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(line).toMatchObject({ level: 'info', url: `http://127.0.0.1:${port}`, cluster: 'sim', namespace: 'jobs' });
      expect(line.msg).toBe(`Runway listening on http://127.0.0.1:${port} (cluster: sim, namespace: jobs)`);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);

  it('refuses to start with a bad variable, naming it', async () => {
    const child = spawn(process.execPath, [...TSX, 'src/main.ts'], { env: { ...process.env, RUNWAY_MAX_GPU: 'four' } });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(err).toContain('runway: configuration error: RUNWAY_MAX_GPU="four" is invalid: expected an integer from 0 to 1000000');
  }, 30_000);
});
