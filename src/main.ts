/** `npm start` / `runway serve`: validate configuration, start Runway, stop cleanly on SIGTERM/SIGINT. */
import { createCluster } from './cluster/create.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './observability/logger.js';
import { createRunway } from './runway.js';

export async function serve(overrides: Partial<Config> = {}): Promise<void> {
  let config: Config;
  try {
    config = { ...loadConfig(), ...overrides };
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`runway: configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const { cluster, elector } = await createCluster(config);
  const runway = await createRunway(config, { cluster, logger, ...(elector ? { elector } : {}) });
  const url = await runway.listen();
  logger.info(
    { url, cluster: cluster.name, namespace: config.namespace, sim_speed: config.cluster === 'sim' ? config.simSpeed : undefined },
    `Runway listening on ${url} (cluster: ${cluster.name}, namespace: ${config.namespace})`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    runway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

// Run when executed directly (npm start), not when imported by the CLI.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  serve().catch((err: unknown) => {
    console.error(`runway: failed to start: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  });
}
