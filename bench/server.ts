/**
 * A server for the submit benchmark, run as its own process so the load generator does not share its
 * CPU: `runway` (Runway on the embedded cluster, configured as `npm start` and the image run it, rate
 * limit raised) or `bare` (a Fastify route that parses the same body and answers 201 — the ceiling any
 * Fastify app on this machine can reach). Prints its URL on stdout, and nothing else there.
 *
 * BENCH_LOG_LEVEL (default silent) sets Runway's log level; logs go to BENCH_LOG_FILE (default
 * /dev/null) through the same synchronous pino destination `npm start` uses for stdout.
 */
import Fastify from 'fastify';
import { pino } from 'pino';
import { ScaledClock, SimCluster } from '../src/cluster/sim/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createRunway } from '../src/runway.js';

const mode = process.argv[2];

if (mode === 'bare') {
  const app = Fastify();
  app.post('/v1/jobs', async (request, reply) => reply.code(201).send({ job_id: 'x', status: 'PENDING', echo: request.body }));
  console.log(await app.listen({ port: 0, host: '127.0.0.1' }));
} else if (mode === 'runway') {
  const config = {
    ...loadConfig({
      RUNWAY_RATE_LIMIT_PER_MIN: '60000000',
      RUNWAY_RATE_LIMIT_BURST: '1000000',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    }),
    port: 0,
    host: '127.0.0.1',
  };
  // BENCH_LOG_SYNC=0 measures a buffered (asynchronous) destination instead of pino's synchronous default.
  const sync = process.env.BENCH_LOG_SYNC !== '0';
  const logger = createLogger(config.logLevel, pino.destination({ dest: process.env.BENCH_LOG_FILE ?? '/dev/null', sync }));
  const cluster = new SimCluster({ namespace: config.namespace, clock: new ScaledClock(1) });
  const runway = await createRunway(config, { cluster, logger });
  console.log(await runway.listen());
} else {
  console.error('usage: server.ts runway|bare');
  process.exit(2);
}

// Exit normally on SIGTERM/SIGINT so that --cpu-prof and similar flags write their output.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
