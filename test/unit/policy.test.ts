// Policy resources: validation of their documents (the API's PUT bodies), the resolution of queues and
// tenants with the environment's defaults, and the CRDs generated from the same schemas.
import { describe, expect, it } from 'vitest';
import { runwayCrds, type StructuralSchema } from '../../src/cluster/kube/crds.js';
import { isRunwayError, type RunwayError } from '../../src/core/errors.js';
import { parsePolicy, parsePolicyName } from '../../src/core/policy-validation.js';
import {
  ComputeClusterSpecSchema,
  QueueSpecSchema,
  resolveQueue,
  resolveTenant,
  TenantPolicySpecSchema,
  type PolicyKind,
} from '../../src/core/policy.js';

const DEFAULTS = { tenantGpuQuota: 8, rateLimitPerMin: 60, rateLimitBurst: 10 };

/** The error a call throws (fails the test when it does not throw a RunwayError). */
function refusal(fn: () => unknown): RunwayError {
  try {
    fn();
  } catch (err) {
    if (isRunwayError(err)) return err;
    throw err;
  }
  throw new Error('expected a RunwayError');
}

function field(kind: PolicyKind, body: unknown, name = 'x'): { code: string; field: unknown; message: string } {
  const e = refusal(() => parsePolicy(kind, name, body));
  return { code: e.code, field: e.details.field, message: e.message };
}

describe('parsePolicy', () => {
  it('accepts a whole kubectl document and keeps only what Runway stores', () => {
    const doc = {
      apiVersion: 'runway.dev/v1alpha1',
      kind: 'AIJobQueue',
      metadata: { name: 'batch', labels: { team: 'ml' }, uid: 'ignored', resourceVersion: '7', managedFields: [] },
      spec: { admission: 'queued', maxConcurrency: 100, preemptionPolicy: 'PreemptLowerPriority', retryPolicy: { maxRetries: 3 } },
      status: { queued: 4 },
    };
    expect(parsePolicy('AIJobQueue', 'batch', doc)).toEqual({
      apiVersion: 'runway.dev/v1alpha1',
      kind: 'AIJobQueue',
      metadata: { name: 'batch', labels: { team: 'ml' } },
      spec: { admission: 'queued', maxConcurrency: 100, preemptionPolicy: 'PreemptLowerPriority', retryPolicy: { maxRetries: 3 } },
    });
  });

  it('accepts just {spec}, and no spec at all as an empty one; the result is frozen', () => {
    const a = parsePolicy('ComputeCluster', 'gpu', { spec: { nodeSelector: { 'runway.dev/pool': 'gpu' }, capacity: { maxGPUs: 16, maxCPU: 0.5 } } });
    expect(a).toMatchObject({ kind: 'ComputeCluster', metadata: { name: 'gpu' }, spec: { capacity: { maxGPUs: 16 } } });
    expect(Object.isFrozen(a.spec)).toBe(true);
    expect(parsePolicy('TenantPolicy', 'team-a', {}).spec).toEqual({});
  });

  it.each([
    ['a body that is not an object', 'AIJobQueue', [], 'body'],
    ['a wrong apiVersion', 'AIJobQueue', { apiVersion: 'v1', spec: {} }, 'apiVersion'],
    ['a kind for another endpoint', 'AIJobQueue', { kind: 'TenantPolicy', spec: {} }, 'kind'],
    ['a metadata.name that is not the path', 'AIJobQueue', { metadata: { name: 'y' }, spec: {} }, 'metadata.name'],
    ['an unknown top-level field', 'AIJobQueue', { spec: {}, extra: 1 }, 'extra'],
    ['an unknown spec field', 'AIJobQueue', { spec: { maxConcurency: 3 } }, 'spec.maxConcurency'],
    ['an unknown admission', 'AIJobQueue', { spec: { admission: 'later' } }, 'spec.admission'],
    ['a negative maxConcurrency', 'AIJobQueue', { spec: { maxConcurrency: -1 } }, 'spec.maxConcurrency'],
    ['a fractional maxConcurrency', 'AIJobQueue', { spec: { maxConcurrency: 1.5 } }, 'spec.maxConcurrency'],
    ['an unknown preemptionPolicy', 'AIJobQueue', { spec: { preemptionPolicy: 'Always' } }, 'spec.preemptionPolicy'],
    ['a cluster name that is no DNS label', 'AIJobQueue', { spec: { clusters: ['GPU'] } }, 'spec.clusters[0]'],
    ['a cluster named twice', 'AIJobQueue', { spec: { clusters: ['gpu', 'gpu'] } }, 'spec.clusters'],
    ['retryPolicy without maxRetries', 'AIJobQueue', { spec: { retryPolicy: { backoffMultiplier: 2 } } }, 'spec.retryPolicy.maxRetries'],
    ['retryPolicy in snake_case', 'AIJobQueue', { spec: { retryPolicy: { max_retries: 2 } } }, 'spec.retryPolicy.max_retries'],
    ['too many retries', 'AIJobQueue', { spec: { retryPolicy: { maxRetries: 21 } } }, 'spec.retryPolicy.maxRetries'],
    ['a priorityClass that is no object name', 'AIJobQueue', { spec: { priorityClass: 'High' } }, 'spec.priorityClass'],
    ['a node selector value that is no label value', 'ComputeCluster', { spec: { nodeSelector: { pool: 'a b' } } }, 'spec.nodeSelector.pool'],
    ['a node selector key that is no qualified name', 'ComputeCluster', { spec: { nodeSelector: { 'a b': 'x' } } }, 'spec.nodeSelector.a b'],
    ['capacity finer than a millicore', 'ComputeCluster', { spec: { capacity: { maxCPU: 0.0001 } } }, 'spec.capacity.maxCPU'],
    ['a negative GPU capacity', 'ComputeCluster', { spec: { capacity: { maxGPUs: -1 } } }, 'spec.capacity.maxGPUs'],
    ['an unknown capacity field', 'ComputeCluster', { spec: { capacity: { gpus: 1 } } }, 'spec.capacity.gpus'],
    ['a tenantId that is no label value', 'TenantPolicy', { spec: { tenantId: 'team a' } }, 'spec.tenantId'],
    ['a string quota', 'TenantPolicy', { spec: { gpuQuota: '4' } }, 'spec.gpuQuota'],
    ['a zero rate', 'TenantPolicy', { spec: { rateLimitPerMin: 0 } }, 'spec.rateLimitPerMin'],
    ['a zero burst', 'TenantPolicy', { spec: { rateLimitBurst: 0 } }, 'spec.rateLimitBurst'],
    ['a CPU quota finer than a millicore', 'TenantPolicy', { spec: { cpuQuota: 1.0005 } }, 'spec.cpuQuota'],
    ['a headroom rule that is not a boolean', 'TenantPolicy', { spec: { headroomRule: 'yes' } }, 'spec.headroomRule'],
    ['a negative budget', 'TenantPolicy', { spec: { budget: { monthlyUsd: -5 } } }, 'spec.budget.monthlyUsd'],
    ['an allowed queue that is no DNS label', 'TenantPolicy', { spec: { allowedQueues: ['Batch'] } }, 'spec.allowedQueues[0]'],
    ['a label key that is no qualified name', 'TenantPolicy', { metadata: { labels: { '-x': 'a' } } }, 'metadata.labels.-x'],
  ] as const)('refuses %s with INVALID_REQUEST naming the field', (_what, kind, body, name) => {
    const e = field(kind, body);
    expect(e.code).toBe('INVALID_REQUEST');
    expect(e.field).toBe(name);
    expect(e.message).toContain(name.split('[')[0]?.split('.').pop() ?? name);
  });

  it('says which kind an endpoint takes when the document is another', () => {
    expect(field('ComputeCluster', { kind: 'AIJobQueue' }).message).toBe(
      'kind "AIJobQueue" does not match this endpoint, which takes ComputeCluster',
    );
  });

  it('refuses numbers JSON cannot carry (Infinity parses from 1e400)', () => {
    expect(field('TenantPolicy', JSON.parse('{"spec":{"cpuQuota":1e400}}')).field).toBe('spec.cpuQuota');
  });
});

describe('parsePolicyName', () => {
  it('takes DNS labels for queues and clusters', () => {
    expect(parsePolicyName('AIJobQueue', 'batch-2')).toBe('batch-2');
    for (const bad of ['Batch', 'a.b', '-a', 'a'.repeat(64), '']) {
      expect(refusal(() => parsePolicyName('ComputeCluster', bad)).details).toEqual({ field: 'name' });
    }
  });

  it('takes tenant policy names that are object names and label values both', () => {
    expect(parsePolicyName('TenantPolicy', 'team-a.ml')).toBe('team-a.ml');
    for (const bad of ['Team_A', 'team..a', 'a'.repeat(64), '.a']) {
      expect(refusal(() => parsePolicyName('TenantPolicy', bad)).code).toBe('INVALID_REQUEST');
    }
  });
});

describe('resolveQueue', () => {
  it('fills every default: direct admission, priority 0, never preempts, any cluster', () => {
    expect(resolveQueue('default', undefined)).toEqual({ name: 'default', admission: 'direct', priority: 0, preemptionPolicy: 'Never', clusters: [] });
    expect(resolveQueue('q', {})).toEqual({ name: 'q', admission: 'direct', priority: 0, preemptionPolicy: 'Never', clusters: [] });
  });

  it('keeps what the spec sets, including a closed gate (maxConcurrency 0)', () => {
    expect(
      resolveQueue('batch', { admission: 'queued', maxConcurrency: 0, priority: 5, priorityClass: 'high', preemptionPolicy: 'PreemptLowerPriority', clusters: ['gpu'], retryPolicy: { maxRetries: 3, backoffMultiplier: 2 } }),
    ).toEqual({
      name: 'batch',
      admission: 'queued',
      maxConcurrency: 0,
      priority: 5,
      priorityClass: 'high',
      preemptionPolicy: 'PreemptLowerPriority',
      clusters: ['gpu'],
      retryPolicy: { maxRetries: 3, backoffMultiplier: 2 },
    });
  });
});

describe('resolveTenant', () => {
  it('uses the environment for a tenant without a policy: GPU quota only, default rates, no headroom rule', () => {
    expect(resolveTenant('team-a', undefined, DEFAULTS)).toEqual({ tenant: 'team-a', quota: { gpu: 8 }, rateLimitPerMin: 60, rateLimitBurst: 10, headroomRule: false });
  });

  it('takes the policy over the defaults, CPU in millicores', () => {
    expect(
      resolveTenant('team-a', { gpuQuota: 0, cpuQuota: 2.5, memoryQuotaMb: 4096, rateLimitPerMin: 6, rateLimitBurst: 1, allowedQueues: ['batch'], headroomRule: true, budget: { monthlyUsd: 100 } }, DEFAULTS),
    ).toEqual({
      tenant: 'team-a',
      quota: { gpu: 0, cpuMilli: 2500, memoryMb: 4096 },
      rateLimitPerMin: 6,
      rateLimitBurst: 1,
      allowedQueues: ['batch'],
      headroomRule: true,
      budgetMonthlyUsd: 100,
    });
  });

  it('defaults only what the policy leaves unset', () => {
    expect(resolveTenant('t', { rateLimitBurst: 3 }, DEFAULTS)).toEqual({ tenant: 't', quota: { gpu: 8 }, rateLimitPerMin: 60, rateLimitBurst: 3, headroomRule: false });
  });
});

describe('policy CRDs', () => {
  const specOf = (kind: string): StructuralSchema => {
    const crd = runwayCrds().find((c) => c.spec.names.kind === kind);
    return crd?.spec.versions[0]?.schema.openAPIV3Schema.properties?.spec ?? {};
  };

  it('have exactly the spec fields of the schemas the API validates with, camelCase', () => {
    expect(Object.keys(specOf('AIJobQueue').properties ?? {})).toEqual(Object.keys(QueueSpecSchema.properties));
    expect(Object.keys(specOf('ComputeCluster').properties ?? {})).toEqual(Object.keys(ComputeClusterSpecSchema.properties));
    expect(Object.keys(specOf('TenantPolicy').properties ?? {})).toEqual(Object.keys(TenantPolicySpecSchema.properties));
    expect(specOf('AIJobQueue').properties?.retryPolicy).toMatchObject({ required: ['maxRetries'], properties: { maxRetries: { maximum: 20 } } });
  });

  it('keep the same bounds and enums', () => {
    const q = specOf('AIJobQueue').properties ?? {};
    expect(q.admission).toMatchObject({ type: 'string', enum: ['direct', 'queued'] });
    expect(q.preemptionPolicy).toMatchObject({ type: 'string', enum: ['Never', 'PreemptLowerPriority'] });
    expect(q.maxConcurrency).toMatchObject({ type: 'integer', minimum: 0 });
    const t = specOf('TenantPolicy').properties ?? {};
    expect(t.rateLimitPerMin).toMatchObject({ type: 'number', minimum: 0, exclusiveMinimum: true });
    expect(t.rateLimitBurst).toMatchObject({ type: 'integer', minimum: 1 });
    expect(specOf('ComputeCluster').properties?.nodeSelector).toMatchObject({ type: 'object', additionalProperties: { type: 'string', maxLength: 63 } });
  });

  it('describe the headroom rule as the quota rule it is', () => {
    expect(specOf('TenantPolicy').properties?.headroomRule?.description).toBe(
      "refuse a submission when the tenant's current usage plus the request reaches >= 90% of any of its quotas (GPU, CPU, memory)",
    );
  });
});
