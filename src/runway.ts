/**
 * Wires one Runway instance: cluster adapter, caches, controller, services and the HTTP app. `main.ts`
 * starts it for `npm start`; tests start it in-process on an ephemeral port with their own cluster.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.js';
import type { ClusterPort } from './cluster/types.js';
import type { Config } from './config.js';
import { Controller } from './controller/controller.js';
import { JobService } from './controller/job-service.js';
import { JobStore } from './controller/job-store.js';
import { PolicyStatusReporter } from './controller/policy-status.js';
import { PolicyStore } from './controller/policy-store.js';
import { SchedulingLoop } from './controller/scheduling-loop.js';
import type { AIJob } from './cluster/types.js';
import { QuotaLedger } from './core/quota.js';
import { TokenBucketLimiter } from './core/rate-limit.js';
import { ALWAYS_LEADER, type LeaderElector } from './controller/leader-election.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';

export interface Runway {
  config: Config;
  cluster: ClusterPort;
  app: FastifyInstance;
  controller: Controller;
  service: JobService;
  store: JobStore;
  /** Queues, node pools and tenant policies, as the cluster holds them. */
  policies: PolicyStore;
  scheduler: SchedulingLoop;
  /** Writes the status of the queues, node pools and tenant policies (leader only, every few seconds). */
  policyStatus: PolicyStatusReporter;
  ledger: QuotaLedger;
  metrics: Metrics;
  logger: Logger;
  /** Listens on config.host:config.port; returns the URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface RunwayOptions {
  cluster: ClusterPort;
  logger?: Logger;
  /** Clock for rate limiting (wall clock by default). */
  now?: () => number;
  /** Leader election among replicas; without it this replica always leads. */
  elector?: LeaderElector;
}

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export async function createRunway(config: Config, opts: RunwayOptions): Promise<Runway> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const store = new JobStore();
  const policies = new PolicyStore(config);
  const ledger = new QuotaLedger();
  const metrics = createMetrics({
    sources: {
      jobCounts: () => store.countsByPhase(),
      waitingByQueue: () => store.waitingByQueue(opts.cluster.now()),
      gpusAllocated: () => ledger.totalGpu(),
      // Read at scrape time, after the controller below exists.
      nodes: () => controller.nodeList(),
      podsHoldingRoom: () => controller.podsHoldingRoom(),
      unscheduledGpus: () => controller.unscheduledGpus(),
    },
  });
  const limiter = new TokenBucketLimiter(config.rateLimitPerMin, config.rateLimitBurst, opts.now ?? Date.now);
  const inflight = new Map<string, AIJob>();
  const { elector } = opts;
  const isLeader = elector ? () => elector.isLeader() : ALWAYS_LEADER.isLeader;
  const { cluster } = opts;

  const controller = new Controller({
    cluster,
    store,
    ledger,
    metrics,
    logger,
    attempts: config,
    rates: config.rates,
    isLeader,
    inflight,
    policies,
    retry: { baseDelayMs: config.retryBaseDelayS * 1000, queuedMaxRetries: config.queuedMaxRetries },
  });
  const scheduler = new SchedulingLoop({
    cluster,
    store,
    ledger,
    controller,
    policies,
    metrics,
    logger,
    defaultQuota: () => ({ gpu: config.tenantGpuQuota }),
    isLeader,
    admitConcurrency: config.admitConcurrency,
  });
  controller.onSchedulingNeeded(() => scheduler.trigger());
  const policyStatus = new PolicyStatusReporter({
    write: cluster.updatePolicyStatus.bind(cluster),
    policies,
    sources: () => ({
      queues: scheduler.queueViews(),
      pools: scheduler.poolViews({ explain: false }),
      gpusInUse: (tenant) => ledger.inUse(tenant).gpu,
    }),
    shouldWrite: () => isLeader() && controller.isSynced,
    logger,
    everyMs: config.policyStatusIntervalS * 1000,
  });
  const service = new JobService({
    config,
    cluster,
    store,
    ledger,
    limiter,
    controller,
    scheduler,
    policies,
    metrics,
    logger,
    inflight,
    isLeader,
    ...(elector ? { leaderName: () => elector.leader() } : {}),
  });

  await controller.start();
  scheduler.trigger();
  policyStatus.start();
  if (elector) {
    elector.onChange = (leading) => {
      logger.info({ identity: elector.identity, leading }, leading ? 'became the leader' : 'stopped leading');
      // A new leader re-examines every job: statuses a follower could not write, intents to finish.
      if (leading) {
        controller.resyncAll();
        scheduler.trigger();
      }
    };
    elector.start();
  }
  const app = await buildApp({ config, cluster, controller, service, policies, scheduler, metrics, logger, version: VERSION });

  return {
    config,
    cluster,
    app,
    controller,
    service,
    store,
    policies,
    scheduler,
    policyStatus,
    ledger,
    metrics,
    logger,
    async listen() {
      const url = await app.listen({ port: config.port, host: config.host });
      return url;
    },
    async close() {
      await elector?.stop();
      await app.close();
      policyStatus.stop();
      scheduler.stop();
      controller.stop();
      await cluster.close();
    },
  };
}
