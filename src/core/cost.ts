/**
 * Cost estimate: the worst case if the job runs for its whole timeout, per resource:
 * resource x timeout_s x rate, with memory in GiB (memory_mb / 1024). Gang jobs pay per replica.
 */
import type { JobSpec } from './job-spec.js';
import { ANNOTATION_ESTIMATED_COST } from './k8s.js';
import { ShapeMemo } from './shape-memo.js';

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

type CostShape = Pick<JobSpec, 'cpu' | 'memory_mb' | 'gpu_count' | 'timeout_s' | 'replicas'>;

/** Distinct estimates remembered before the memo starts over (it only saves memory and formatting). */
const MAX_ESTIMATES = 4096;

interface Parts {
  cpu: number;
  memory: number;
  gpu: number;
}

/** The shared estimates by their parts in micro-dollars. */
const shared = new ShapeMemo<CostEstimate, Parts>(MAX_ESTIMATES, ({ cpu, memory, gpu }) =>
  Object.freeze({
    currency: 'USD',
    total: (cpu + memory + gpu) / MICRO,
    cpu: cpu / MICRO,
    memory: memory / MICRO,
    gpu: gpu / MICRO,
    basis: 'timeout_s',
  } as const),
);

/**
 * The estimate for a job of this shape. Estimates are immutable (frozen) values: jobs that cost the same
 * share one, so it is stored and formatted (costAnnotation) once, not per job. Looked up by its parts,
 * which are whole numbers: working them out is cheaper than formatting the shape into a key.
 */
export function estimateCost(spec: CostShape, rates: CostRates): CostEstimate {
  const seconds = spec.timeout_s * spec.replicas;
  const parts: Parts = {
    cpu: toMicro(spec.cpu * seconds * rates.cpuPerCpuSecond),
    memory: toMicro((spec.memory_mb / 1024) * seconds * rates.memoryPerGbSecond),
    gpu: toMicro(spec.gpu_count * seconds * rates.gpuPerGpuSecond),
  };
  return shared.get('USD', parts.cpu, parts.memory, parts.gpu, parts);
}

const annotations = new WeakMap<CostEstimate, string>();

/**
 * The estimate as the JSON of the `runway.dev/estimated-cost` annotation. The AIJob and its Job carry
 * the same estimate object, so it is formatted once (number formatting is most of JSON.stringify's cost).
 */
export function costAnnotation(estimate: CostEstimate): string {
  let json = annotations.get(estimate);
  if (json === undefined) annotations.set(estimate, (json = JSON.stringify(estimate)));
  return json;
}

const annotationMaps = new WeakMap<CostEstimate, Readonly<Record<string, string>>>();

/**
 * `{ "runway.dev/estimated-cost": costAnnotation(estimate) }`, frozen and shared: the annotations of an
 * AIJob and of its Jobs, the same for every job of a shape.
 */
export function costAnnotations(estimate: CostEstimate): Readonly<Record<string, string>> {
  let map = annotationMaps.get(estimate);
  if (map === undefined) annotationMaps.set(estimate, (map = Object.freeze({ [ANNOTATION_ESTIMATED_COST]: costAnnotation(estimate) })));
  return map;
}

const parsed = new Map<string, CostEstimate>();

/**
 * Reads a `runway.dev/estimated-cost` annotation (throws like JSON.parse on bad JSON). Jobs of one
 * shape carry the same text, so it is parsed once and every reader shares the frozen result.
 */
export function parseCostAnnotation(raw: string): CostEstimate {
  let estimate = parsed.get(raw);
  if (estimate === undefined) {
    estimate = Object.freeze(JSON.parse(raw) as CostEstimate);
    if (parsed.size >= MAX_ESTIMATES) parsed.clear();
    parsed.set(raw, estimate);
  }
  return estimate;
}
