/** The submit response's hand-written JSON is byte for byte what JSON.stringify writes. */
import { describe, expect, it } from 'vitest';
import { RUNWAY_API_VERSION, type AIJob } from '../../src/cluster/types.js';
import { DEFAULT_RATES, estimateCost } from '../../src/core/cost.js';
import { parseJobSpec } from '../../src/core/validation.js';
import { jobView, jobViewJson, type JobView } from '../../src/api/views.js';

const spec = parseJobSpec(
  { image: 'pytorch/pytorch:2.3', cpu: 0.25, memory_mb: 1536, gpu_count: 1, timeout_s: 901, name: 'ré "quoted"\n', env: { A: 'b' }, labels: { team: 'x' } },
  'team-a',
);

function aiJob(status?: AIJob['status']): AIJob {
  return {
    apiVersion: RUNWAY_API_VERSION,
    kind: 'AIJob',
    metadata: { name: 'j00000000000000001', creationTimestamp: '2026-01-01T00:00:00.000Z', annotations: {} },
    spec,
    ...(status ? { status } : {}),
  };
}

describe('jobViewJson', () => {
  it.each<[string, AIJob]>([
    ['a job just created', aiJob()],
    ['a running job', aiJob({ phase: 'RUNNING', attempts: 1, attempt: 1, startTime: '2026-01-01T00:00:01.000Z' })],
    [
      'a failed job with every optional field',
      aiJob({
        phase: 'FAILED',
        reason: 'OOMKilled',
        message: 'out of memory (exit 137) after 3 attempts; "backoffLimit" reached',
        exitCode: 137,
        attempts: 3,
        attempt: 2,
        startTime: '2026-01-01T00:00:01.000Z',
        completionTime: '2026-01-01T00:01:01.000Z',
        estimatedCost: estimateCost({ ...spec, timeout_s: 1234 }, DEFAULT_RATES),
      }),
    ],
  ])('matches JSON.stringify for %s', (_, job) => {
    const view = jobView(job, DEFAULT_RATES, job.status ? undefined : estimateCost(spec, DEFAULT_RATES));
    expect(jobViewJson(view)).toBe(JSON.stringify(view));
  });

  it('leaves a view with a key it does not know to JSON.stringify', () => {
    const view = { ...jobView(aiJob(), DEFAULT_RATES), extra: 1 } as JobView;
    expect(jobViewJson(view)).toBe(JSON.stringify(view));
  });
});
