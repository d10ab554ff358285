import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8000,
      cluster: 'sim',
      namespace: 'jobs',
      bounds: { maxCpu: 8, maxMemoryMb: 32768, maxGpu: 4, maxTimeoutS: 3600, maxReplicas: 8 },
      tenantGpuQuota: 8,
      rateLimitPerMin: 60,
      rateLimitBurst: 10,
      backoffLimit: 2,
      rates: { cpuPerCpuSecond: 0.000048, memoryPerGbSecond: 0.000006, gpuPerGpuSecond: 0.00028 },
      logLevel: 'info',
      simSpeed: 1,
      clusterTimeoutMs: 1000,
      policyStatusIntervalS: 10,
    });
  });

  it('reads overrides', () => {
    const c = loadConfig({
      PORT: '9000',
      RUNWAY_MAX_CPU: '16',
      RUNWAY_SIM_SPEED: '0.5',
      RUNWAY_CLUSTER: 'kube',
      COST_GPU_PER_GPU_SECOND: '0.001',
      RUNWAY_POLICY_STATUS_INTERVAL_S: '0.5',
    });
    expect([c.port, c.bounds.maxCpu, c.simSpeed, c.cluster, c.rates.gpuPerGpuSecond, c.policyStatusIntervalS]).toEqual([9000, 16, 0.5, 'kube', 0.001, 0.5]);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['RUNWAY_MAX_CPU', '0'],
    ['RUNWAY_MAX_MEMORY_MB', '1.5'],
    ['RUNWAY_MAX_GPU', '-1'],
    ['RUNWAY_TENANT_GPU_QUOTA', 'lots'],
    ['RUNWAY_RATE_LIMIT_PER_MIN', '0'],
    ['RUNWAY_RATE_LIMIT_BURST', '0'],
    ['RUNWAY_BACKOFF_LIMIT', '-1'],
    ['COST_CPU_PER_CPU_SECOND', 'free'],
    ['RUNWAY_SIM_SPEED', '0'],
    ['RUNWAY_SIM_SPEED', 'fast'],
    ['RUNWAY_CLUSTER', 'docker'],
    ['RUNWAY_NAMESPACE', 'Jobs_NS'],
    ['LOG_LEVEL', 'loud'],
    ['RUNWAY_INSTALL_CRDS', 'maybe'],
    ['RUNWAY_POLICY_STATUS_INTERVAL_S', '0'],
    ['RUNWAY_POLICY_STATUS_INTERVAL_S', 'often'],
  ])('stops with a message naming %s=%s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}=`));
  });
});
