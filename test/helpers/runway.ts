/** Starts a real Runway in the test process on the embedded cluster with a manual clock. */
import { Writable } from 'node:stream';
import { ManualClock, SimCluster } from '../../src/cluster/sim/index.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createRunway, type Runway } from '../../src/runway.js';

export interface TestRunway {
  runway: Runway;
  clock: ManualClock;
  cluster: SimCluster;
  config: Config;
  /** Log lines written so far, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Lets watch deliveries and reconciles run (they are queued on microtasks and setImmediate). */
  settle(): Promise<void>;
  /** Advances the cluster clock in steps, settling after each, so every transition is observed. */
  advance(ms: number, stepMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export async function startTestRunway(env: Record<string, string> = {}, opts: { now?: () => number } = {}): Promise<TestRunway> {
  const config: Config = { ...loadConfig({ LOG_LEVEL: 'info', ...env }), port: 0, host: '127.0.0.1' };
  const clock = new ManualClock();
  const cluster = new SimCluster({ namespace: config.namespace, clock });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const runway = await createRunway(config, { cluster, logger, ...(opts.now ? { now: opts.now } : {}) });
  const t: TestRunway = {
    runway,
    clock,
    cluster,
    config,
    logs,
    settle: () => settle(),
    async advance(ms, stepMs = 1000) {
      for (let done = 0; done < ms; done += stepMs) {
        clock.advance(Math.min(stepMs, ms - done));
        await settle();
      }
    },
    close: () => t.runway.close(),
  };
  await t.settle();
  return t;
}

export const README_JOB = { image: 'pytorch/pytorch:2.3', cpu: 4, memory_mb: 16384, gpu_count: 2, timeout_s: 1800 };
