/**
 * Cost estimate: the worst case if the job runs for its whole timeout, per resource:
 * resource x timeout_s x rate, with memory in GiB (memory_mb / 1024). Gang jobs pay per replica.
 */
import type { JobSpec } from './job-spec.js';

export interface CostRates {
  cpuPerCpuSecond: number;
  memoryPerGbSecond: number;
  gpuPerGpuSecond: number;
}

export interface CostEstimate {
  currency: 'USD';
  total: number;
  cpu: number;
  memory: number;
  gpu: number;
  basis: 'timeout_s';
}

export const DEFAULT_RATES: CostRates = {
  cpuPerCpuSecond: 0.000048,
  memoryPerGbSecond: 0.000006,
  gpuPerGpuSecond: 0.00028,
};

// Amounts are kept in whole micro-dollars so that the parts add up to the total exactly.
const MICRO = 1_000_000;
const toMicro = (usd: number) => Math.round(usd * MICRO);

export function estimateCost(
  spec: Pick<JobSpec, 'cpu' | 'memory_mb' | 'gpu_count' | 'timeout_s' | 'replicas'>,
  rates: CostRates,
): CostEstimate {
  const seconds = spec.timeout_s * spec.replicas;
  const cpu = toMicro(spec.cpu * seconds * rates.cpuPerCpuSecond);
  const memory = toMicro((spec.memory_mb / 1024) * seconds * rates.memoryPerGbSecond);
  const gpu = toMicro(spec.gpu_count * seconds * rates.gpuPerGpuSecond);
  return {
    currency: 'USD',
    total: (cpu + memory + gpu) / MICRO,
    cpu: cpu / MICRO,
    memory: memory / MICRO,
    gpu: gpu / MICRO,
    basis: 'timeout_s',
  };
}
