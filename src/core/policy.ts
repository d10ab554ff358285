/**
 * Policy resources: queues (AIJobQueue), node pools (ComputeCluster) and per-tenant guardrails
 * (TenantPolicy). Cluster-scoped custom resources in kube mode, in-memory objects in the embedded
 * cluster; read and written through the API and `runway apply -f` with the same YAML. Specs are
 * camelCase, as Kubernetes resources are. This file holds their shapes and the pure resolution of
 * "what applies to this queue / tenant", with the environment's defaults for what a policy leaves unset.
 */
import Type from 'typebox';
import { DNS_LABEL_PATTERN, LABEL_VALUE_PATTERN, RetryPolicySchema } from './job-spec.js';
import type { ObjectMeta } from './k8s.js';
import type { TenantQuota } from './quota.js';

export const POLICY_KINDS = ['AIJobQueue', 'ComputeCluster', 'TenantPolicy'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

export const POLICY_API_VERSION = 'runway.dev/v1alpha1';

/** A DNS-1123 subdomain (at most 253 characters): Kubernetes object names, PriorityClass names. */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/**
 * The name pattern of each kind's objects (the {name} of its API path). Queue names are what job specs
 * put in `queue`, and ComputeCluster names what queues list in `clusters`: DNS labels. A TenantPolicy
 * without spec.tenantId governs the tenant of its name, so its name must be both an object name and a
 * label value: a DNS subdomain of at most 63 characters (tenants whose id has capitals or underscores
 * set spec.tenantId).
 */
export const POLICY_NAME = {
  AIJobQueue: { pattern: DNS_LABEL_PATTERN, maxLength: 63, what: 'a DNS label (a-z, 0-9 and "-", at most 63 characters)' },
  ComputeCluster: { pattern: DNS_LABEL_PATTERN, maxLength: 63, what: 'a DNS label (a-z, 0-9 and "-", at most 63 characters)' },
  TenantPolicy: {
    pattern: DNS_SUBDOMAIN_PATTERN,
    maxLength: 63,
    what: 'lowercase letters, digits, "-" and "." (at most 63 characters, starting and ending with a letter or digit)',
  },
} as const satisfies Record<PolicyKind, { pattern: string; maxLength: number; what: string }>;

// ---------------------------------------------------------------------------------------------
// Specs: one TypeBox schema each. They validate the API's PUT bodies (policy-validation.ts), are the
// spec schemas of the CRDs (cluster/kube/crds.ts) and document the API (OpenAPI), so all three agree.
// ---------------------------------------------------------------------------------------------

export const AdmissionModeSchema = Type.Union([Type.Literal('direct'), Type.Literal('queued')], {
  description: 'direct (default): admit or reject at submit time; queued: hold until quota and capacity allow',
});
export const PreemptionPolicySchema = Type.Union([Type.Literal('Never'), Type.Literal('PreemptLowerPriority')], {
  description: 'whether jobs of this queue may evict lower-priority jobs to fit (default Never)',
});

export const QueueSpecSchema = Type.Object(
  {
    admission: Type.Optional(AdmissionModeSchema),
    maxConcurrency: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'most jobs of this queue admitted at once; unset = no limit, 0 = closed' }),
    ),
    priorityClass: Type.Optional(
      Type.String({ maxLength: 253, pattern: DNS_SUBDOMAIN_PATTERN, description: "PriorityClass given to the pods of this queue's jobs" }),
    ),
    priority: Type.Optional(
      Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, description: "order between queues: added to each job's priority (default 0)" }),
    ),
    preemptionPolicy: Type.Optional(PreemptionPolicySchema),
    clusters: Type.Optional(
      Type.Array(Type.String({ pattern: DNS_LABEL_PATTERN, maxLength: 63 }), {
        maxItems: 64,
        uniqueItems: true,
        description: 'ComputeClusters (node pools) this queue may place jobs on; empty or unset = any',
      }),
    ),
    retryPolicy: Type.Optional(
      Type.Object(
        {
          // The same bounds as a job's retry_policy: a queue's default is what a job could ask for itself.
          maxRetries: RetryPolicySchema.properties.max_retries,
          backoffMultiplier: RetryPolicySchema.properties.backoff_multiplier,
        },
        { additionalProperties: false, description: 'default retry policy for jobs of this queue that set none' },
      ),
    ),
  },
  { additionalProperties: false, description: 'How the queue admits, orders and retries its jobs; every field has a default.' },
);

export const ComputeClusterSpecSchema = Type.Object(
  {
    nodeSelector: Type.Optional(
      Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 63 }), {
        maxProperties: 64,
        description: "node labels that select the pool's nodes, e.g. runway.dev/pool: gpu (also set on its job pods)",
      }),
    ),
    capacity: Type.Optional(
      Type.Object(
        {
          maxJobs: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e9, description: 'jobs running at once' })),
          maxGPUs: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e9, description: 'nvidia.com/gpu' })),
          maxCPU: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9, description: 'cores (fractions down to 0.001)' })),
          maxMemoryMb: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e12, description: 'MiB' })),
        },
        { additionalProperties: false, description: 'upper bounds Runway admits against; unset = what the nodes report' },
      ),
    ),
  },
  { additionalProperties: false, description: 'Which nodes form the pool, and how much of them Runway may use.' },
);

export const TenantPolicySpecSchema = Type.Object(
  {
    tenantId: Type.Optional(
      Type.String({ pattern: LABEL_VALUE_PATTERN, description: 'the tenant governed (tenant_id in job specs); default: metadata.name' }),
    ),
    gpuQuota: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1e6, description: 'GPUs the tenant may hold at once (default RUNWAY_TENANT_GPU_QUOTA)' }),
    ),
    cpuQuota: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1e9, description: 'cores the tenant may hold at once (fractions down to 0.001); unset = no limit' }),
    ),
    memoryQuotaMb: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e12, description: 'MiB the tenant may hold at once; unset = no limit' })),
    rateLimitPerMin: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 60_000_000, description: 'submissions per minute (default RUNWAY_RATE_LIMIT_PER_MIN)' }),
    ),
    rateLimitBurst: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1e9, description: 'submissions allowed in a burst (default RUNWAY_RATE_LIMIT_BURST)' }),
    ),
    allowedQueues: Type.Optional(
      Type.Array(Type.String({ pattern: DNS_LABEL_PATTERN, maxLength: 63 }), {
        maxItems: 256,
        uniqueItems: true,
        description: 'queues the tenant may submit to; unset = all',
      }),
    ),
    headroomRule: Type.Optional(
      Type.Boolean({
        description:
          "refuse a submission when the tenant's current usage plus the request reaches >= 90% of any of its quotas (GPU, CPU, memory)",
      }),
    ),
    budget: Type.Optional(
      Type.Object(
        { monthlyUsd: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, description: 'spend allowed per calendar month, USD' })) },
        { additionalProperties: false, description: 'spending limits' },
      ),
    ),
  },
  { additionalProperties: false, description: "The tenant's guardrails; fields left unset use the global configuration." },
);

/** The spec schema of each kind. */
export const POLICY_SPEC_SCHEMAS = {
  AIJobQueue: QueueSpecSchema,
  ComputeCluster: ComputeClusterSpecSchema,
  TenantPolicy: TenantPolicySpecSchema,
} as const;

export type AdmissionMode = Type.Static<typeof AdmissionModeSchema>;
export type PreemptionPolicy = Type.Static<typeof PreemptionPolicySchema>;
export type QueueSpec = Type.Static<typeof QueueSpecSchema>;
export type ComputeClusterSpec = Type.Static<typeof ComputeClusterSpecSchema>;
export type TenantPolicySpec = Type.Static<typeof TenantPolicySpecSchema>;

interface PolicyObject<K extends PolicyKind, S> {
  apiVersion: typeof POLICY_API_VERSION;
  kind: K;
  metadata: ObjectMeta;
  spec: S;
  status?: Record<string, unknown>;
}

export type AIJobQueue = PolicyObject<'AIJobQueue', QueueSpec>;
export type ComputeCluster = PolicyObject<'ComputeCluster', ComputeClusterSpec>;
export type TenantPolicy = PolicyObject<'TenantPolicy', TenantPolicySpec>;
export type PolicyResource = AIJobQueue | ComputeCluster | TenantPolicy;
/** The resource type of a policy kind: PolicyOf<'AIJobQueue'> is AIJobQueue. */
export type PolicyOf<K extends PolicyKind> = Extract<PolicyResource, { kind: K }>;

export function isPolicyKind(kind: string): kind is PolicyKind {
  return (POLICY_KINDS as readonly string[]).includes(kind);
}

/** The queue every job without `queue` goes to; it exists (direct admission) even when no object defines it. */
export const DEFAULT_QUEUE_NAME = 'default';

/** A queue with every default filled in: what admission and the scheduling cycle use. */
export interface ResolvedQueue {
  name: string;
  admission: AdmissionMode;
  maxConcurrency?: number;
  priority: number;
  priorityClass?: string;
  preemptionPolicy: PreemptionPolicy;
  clusters: string[];
  retryPolicy?: { maxRetries: number; backoffMultiplier?: number };
}

/** A tenant's guardrails with the environment's defaults for what its policy leaves unset. */
export interface ResolvedTenant {
  tenant: string;
  quota: TenantQuota;
  rateLimitPerMin: number;
  rateLimitBurst: number;
  /** Undefined = every queue. */
  allowedQueues?: string[];
  headroomRule: boolean;
  budgetMonthlyUsd?: number;
}

export interface PolicyDefaults {
  tenantGpuQuota: number;
  rateLimitPerMin: number;
  rateLimitBurst: number;
}

export function resolveQueue(name: string, spec: QueueSpec | undefined): ResolvedQueue {
  const q: ResolvedQueue = {
    name,
    admission: spec?.admission ?? 'direct',
    priority: spec?.priority ?? 0,
    preemptionPolicy: spec?.preemptionPolicy ?? 'Never',
    clusters: spec?.clusters ?? [],
  };
  if (spec?.maxConcurrency !== undefined) q.maxConcurrency = spec.maxConcurrency;
  if (spec?.priorityClass !== undefined) q.priorityClass = spec.priorityClass;
  if (spec?.retryPolicy !== undefined) q.retryPolicy = spec.retryPolicy;
  return q;
}

export function resolveTenant(tenant: string, spec: TenantPolicySpec | undefined, defaults: PolicyDefaults): ResolvedTenant {
  const quota: TenantQuota = { gpu: spec?.gpuQuota ?? defaults.tenantGpuQuota };
  if (spec?.cpuQuota !== undefined) quota.cpuMilli = Math.round(spec.cpuQuota * 1000);
  if (spec?.memoryQuotaMb !== undefined) quota.memoryMb = spec.memoryQuotaMb;
  const t: ResolvedTenant = {
    tenant,
    quota,
    rateLimitPerMin: spec?.rateLimitPerMin ?? defaults.rateLimitPerMin,
    rateLimitBurst: spec?.rateLimitBurst ?? defaults.rateLimitBurst,
    headroomRule: spec?.headroomRule ?? false,
  };
  if (spec?.allowedQueues !== undefined) t.allowedQueues = spec.allowedQueues;
  if (spec?.budget?.monthlyUsd !== undefined) t.budgetMonthlyUsd = spec.budget.monthlyUsd;
  return t;
}
