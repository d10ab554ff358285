/**
 * Policy resources: queues (AIJobQueue), node pools (ComputeCluster) and per-tenant guardrails
 * (TenantPolicy). Cluster-scoped custom resources in kube mode, in-memory objects in the embedded
 * cluster; read and written through the API and `runway apply -f` with the same YAML. Specs are
 * camelCase, as Kubernetes resources are. This file holds their shapes and the pure resolution of
 * "what applies to this queue / tenant", with the environment's defaults for what a policy leaves unset.
 */
import type { ObjectMeta } from './k8s.js';
import type { TenantQuota } from './quota.js';

export const POLICY_KINDS = ['AIJobQueue', 'ComputeCluster', 'TenantPolicy'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

export type AdmissionMode = 'direct' | 'queued';
export type PreemptionPolicy = 'Never' | 'PreemptLowerPriority';

export interface QueueSpec {
  admission?: AdmissionMode;
  maxConcurrency?: number;
  priorityClass?: string;
  priority?: number;
  preemptionPolicy?: PreemptionPolicy;
  /** ComputeClusters this queue may use; empty or unset = any. */
  clusters?: string[];
  retryPolicy?: { maxRetries: number; backoffMultiplier?: number };
}

export interface ComputeClusterSpec {
  nodeSelector?: Record<string, string>;
  capacity?: { maxJobs?: number; maxGPUs?: number; maxCPU?: number; maxMemoryMb?: number };
}

export interface TenantPolicySpec {
  /** The tenant governed; default metadata.name. */
  tenantId?: string;
  gpuQuota?: number;
  cpuQuota?: number;
  memoryQuotaMb?: number;
  rateLimitPerMin?: number;
  rateLimitBurst?: number;
  allowedQueues?: string[];
  /** Refuse a submission when usage + request reaches >= 90% of a quota. */
  headroomRule?: boolean;
  budget?: { monthlyUsd?: number };
}

interface PolicyObject<K extends PolicyKind, S> {
  apiVersion: 'runway.dev/v1alpha1';
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
