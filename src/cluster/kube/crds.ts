/**
 * Runway's CustomResourceDefinitions (apiextensions.k8s.io/v1, group runway.dev, version v1alpha1):
 * AIJob, AIJobQueue, ComputeCluster and TenantPolicy. This module is their single source of truth:
 * `scripts/gen-crds.ts` writes them to deploy/crds/ and Runway installs them at start when
 * RUNWAY_INSTALL_CRDS=true. The AIJob spec schema is derived from JobSpecSchema, and the spec schemas
 * of AIJobQueue, ComputeCluster and TenantPolicy from their schemas in core/policy.ts, so the API, the
 * OpenAPI document and the custom resources validate the same fields with the same bounds.
 *
 * Kubernetes accepts only structural schemas (a subset of OpenAPI v3 / JSON Schema draft 4), so the
 * TypeBox schema is converted: records (`patternProperties`) become `additionalProperties` (their key
 * patterns cannot be expressed and are left to the API's validation), draft-2019 numeric
 * `exclusiveMinimum`/`exclusiveMaximum` become `minimum` + `exclusiveMinimum: true`, and `$id`,
 * `additionalProperties: false` (unknown fields are pruned instead) and similar are dropped. A
 * keyword the conversion does not know is an error, so a change to JobSpecSchema cannot silently
 * produce a CRD that validates something else.
 */
import { stringify } from 'yaml';
import { JobSpecSchema } from '../../core/job-spec.js';
import { ComputeClusterSpecSchema, QueueSpecSchema, TenantPolicySpecSchema } from '../../core/policy.js';
import { JOB_STATUSES } from '../../core/status.js';

export const RUNWAY_GROUP = 'runway.dev';
export const RUNWAY_CRD_VERSION = 'v1alpha1';

/** The subset of JSON Schema that a Kubernetes v1 CRD accepts (JSONSchemaProps), as Runway uses it. */
export interface StructuralSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: string;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  items?: StructuralSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Namespaced' | 'Cluster';
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: StructuralSchema };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
    }>;
  };
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (TypeBox) -> Kubernetes structural schema
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
/** Formats the Kubernetes OpenAPI validator knows; any other would be silently ignored, so refuse it. */
const FORMATS = new Set([
  'bsonobjectid', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid', 'uuid3', 'uuid4',
  'uuid5', 'isbn', 'isbn10', 'isbn13', 'creditcard', 'ssn', 'hexcolor', 'rgbcolor', 'byte', 'password',
  'date', 'duration', 'datetime', 'date-time', 'int32', 'int64', 'float', 'double',
]);
/** Copied as they are. */
const COPIED = [
  'description', 'default', 'enum', 'format', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems',
  'minProperties', 'maxProperties', 'multipleOf',
] as const;
/** Meaningless or inexpressible in a structural schema; dropping them loses no validation the API lacks. */
const DROPPED = new Set(['$id', '$schema', '$comment', 'title', 'examples', 'uniqueItems']);
/** Handled explicitly below. */
const HANDLED = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'patternProperties', 'items', 'minimum',
  'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'anyOf', 'const', ...COPIED,
]);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Converts a JSON Schema (as TypeBox builds it) to a Kubernetes structural schema. Throws, naming
 * the path, on anything that a structural schema cannot say.
 */
export function toStructuralSchema(schema: unknown, path = '$'): StructuralSchema {
  if (!isObject(schema)) throw new Error(`${path}: not a schema object`);
  for (const key of Object.keys(schema)) {
    if (!HANDLED.has(key) && !DROPPED.has(key)) {
      throw new Error(`${path}: JSON Schema keyword "${key}" has no structural-schema equivalent; extend crds.ts`);
    }
  }

  // A union of literals (Type.Union([Type.Literal('a'), ...])) or one literal becomes an enum.
  if (schema.anyOf !== undefined || schema.const !== undefined) return literalEnum(schema, path);

  const out: StructuralSchema = {};
  const type = schema.type;
  if (typeof type !== 'string' || !TYPES.has(type)) {
    throw new Error(`${path}: needs a single type (got ${JSON.stringify(type)})`);
  }
  out.type = type as StructuralSchema['type'];

  for (const key of COPIED) {
    if (schema[key] !== undefined) (out as Json)[key] = schema[key];
  }
  if (out.format !== undefined && !FORMATS.has(out.format)) {
    throw new Error(`${path}: format "${out.format}" is not one Kubernetes validates`);
  }
  bound(schema, out, 'minimum', 'exclusiveMinimum', path, (a, b) => a > b);
  bound(schema, out, 'maximum', 'exclusiveMaximum', path, (a, b) => a < b);

  if (type === 'object') {
    const props = schema.properties;
    const patterns = schema.patternProperties;
    const extra = schema.additionalProperties;
    if (props !== undefined) {
      if (!isObject(props)) throw new Error(`${path}.properties: not an object`);
      out.properties = {};
      for (const [name, sub] of Object.entries(props)) out.properties[name] = toStructuralSchema(sub, `${path}.${name}`);
      if (Array.isArray(schema.required) && schema.required.length > 0) out.required = [...(schema.required as string[])];
    }
    if (patterns !== undefined) {
      // Type.Record: one key pattern -> additionalProperties (the key pattern itself is dropped).
      if (!isObject(patterns) || Object.keys(patterns).length !== 1 || props !== undefined) {
        throw new Error(`${path}: only a record with one key pattern and no fixed properties can be converted`);
      }
      out.additionalProperties = toStructuralSchema(Object.values(patterns)[0], `${path}[*]`);
    }
    if (isObject(extra)) {
      if (out.properties || out.additionalProperties) {
        throw new Error(`${path}: properties and additionalProperties are mutually exclusive in a structural schema`);
      }
      out.additionalProperties = toStructuralSchema(extra, `${path}[*]`);
    }
    // additionalProperties: false is dropped: unknown fields are pruned by the API server.
  } else if (schema.properties !== undefined || schema.patternProperties !== undefined) {
    throw new Error(`${path}: properties on a non-object`);
  }

  if (type === 'array') {
    if (!isObject(schema.items)) throw new Error(`${path}: an array needs a single items schema`);
    out.items = toStructuralSchema(schema.items, `${path}[]`);
  }
  return out;
}

/** Draft 2019 numeric exclusive bounds -> draft 4 `minimum` + boolean `exclusiveMinimum` (same for max). */
function bound(
  schema: Json,
  out: StructuralSchema,
  inclusiveKey: 'minimum' | 'maximum',
  exclusiveKey: 'exclusiveMinimum' | 'exclusiveMaximum',
  path: string,
  stricter: (a: number, b: number) => boolean,
): void {
  const inc = schema[inclusiveKey];
  const exc = schema[exclusiveKey];
  if (inc !== undefined && typeof inc !== 'number') throw new Error(`${path}.${inclusiveKey}: not a number`);
  if (exc !== undefined && typeof exc !== 'number') throw new Error(`${path}.${exclusiveKey}: expected a number`);
  if (exc !== undefined && (inc === undefined || !stricter(inc, exc))) {
    out[inclusiveKey] = exc;
    out[exclusiveKey] = true;
  } else if (inc !== undefined) {
    out[inclusiveKey] = inc;
  }
}

function literalEnum(schema: Json, path: string): StructuralSchema {
  const branches = schema.anyOf !== undefined ? schema.anyOf : [schema];
  if (!Array.isArray(branches)) throw new Error(`${path}.anyOf: not an array`);
  const values: unknown[] = [];
  let type: string | undefined;
  for (const b of branches) {
    if (!isObject(b) || b.const === undefined) throw new Error(`${path}: only unions of literals can be converted`);
    const t = typeof b.const === 'number' ? (Number.isInteger(b.const) ? 'integer' : 'number') : typeof b.const;
    if (type !== undefined && t !== type) throw new Error(`${path}: literals of mixed types`);
    type = t;
    values.push(b.const);
  }
  if (type === undefined || !TYPES.has(type)) throw new Error(`${path}: unsupported literal type ${String(type)}`);
  const out: StructuralSchema = { type: type as StructuralSchema['type'], enum: values };
  if (typeof schema.description === 'string') out.description = schema.description;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

const str = (description: string, extra: StructuralSchema = {}): StructuralSchema => ({ type: 'string', description, ...extra });
const int = (description: string, extra: StructuralSchema = {}): StructuralSchema => ({ type: 'integer', description, ...extra });
const num = (description: string, extra: StructuralSchema = {}): StructuralSchema => ({ type: 'number', description, ...extra });
const time = (description: string): StructuralSchema => str(description, { format: 'date-time' });
const count = (description: string): StructuralSchema => int(description, { minimum: 0 });

function conditions(): StructuralSchema {
  return {
    type: 'array',
    description: 'Observations of the resource state, one per type (Kubernetes condition convention).',
    maxItems: 32,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    items: {
      type: 'object',
      required: ['type', 'status'],
      properties: {
        type: str('condition type, e.g. Admitted, Running, Complete', { maxLength: 316 }),
        status: str('True, False or Unknown', { enum: ['True', 'False', 'Unknown'] }),
        reason: str('machine-readable CamelCase reason for the last transition', { maxLength: 1024 }),
        message: str('human-readable details', { maxLength: 32768 }),
        lastTransitionTime: time('when the status last changed'),
      },
    },
  };
}

const LABELS = { 'app.kubernetes.io/name': 'runway', 'app.kubernetes.io/part-of': 'runway' };

function crd(def: {
  kind: string;
  plural: string;
  shortName: string;
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: StructuralSchema;
  status: StructuralSchema;
  specRequired: boolean;
  columns: PrinterColumn[];
}): CustomResourceDefinition {
  const root: StructuralSchema = {
    type: 'object',
    description: def.description,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: def.spec,
      status: def.status,
    },
  };
  if (def.specRequired) root.required = ['spec'];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${RUNWAY_GROUP}`, labels: { ...LABELS } },
    spec: {
      group: RUNWAY_GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.kind.toLowerCase(),
        shortNames: [def.shortName],
        categories: ['runway'],
      },
      scope: def.scope,
      versions: [
        {
          name: RUNWAY_CRD_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: root },
          subresources: { status: {} },
          additionalPrinterColumns: def.columns,
        },
      ],
    },
  };
}

const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

// ---------------------------------------------------------------------------------------------
// The four resources
// ---------------------------------------------------------------------------------------------

function aiJob(): CustomResourceDefinition {
  const { type, ...rest } = toStructuralSchema(JobSpecSchema, 'AIJob.spec');
  const spec: StructuralSchema = {
    type,
    description: 'The job spec as submitted to POST /v1/jobs (snake_case), with defaults filled in.',
    ...rest,
  };
  const status: StructuralSchema = {
    type: 'object',
    description: 'What Runway and Kubernetes did with the job; written by Runway through the status subresource.',
    properties: {
      phase: str('Runway status', { enum: [...JOB_STATUSES] }),
      reason: str('why the job is in this phase: OOMKilled, DeadlineExceeded, BackoffLimitExceeded, Error, Preempted, ...'),
      message: str('human-readable details'),
      exitCode: int('exit code of the last failed container, where Kubernetes reports one'),
      attempts: count('pods started for the current attempt Job (Kubernetes retries via backoffLimit)'),
      attempt: count('Runway-level attempt number: the suffix of the current Job name (<job-id>-<attempt>)'),
      startTime: time('when the current attempt Job started'),
      completionTime: time('when the job reached a terminal phase'),
      estimatedCost: {
        type: 'object',
        description: 'worst-case cost: resource x timeout_s x rate',
        properties: {
          currency: str('always USD', { enum: ['USD'] }),
          total: num('USD', { minimum: 0 }),
          cpu: num('USD', { minimum: 0 }),
          memory: num('USD', { minimum: 0 }),
          gpu: num('USD', { minimum: 0 }),
          basis: str('what the estimate assumes', { enum: ['timeout_s'] }),
        },
      },
      conditions: conditions(),
      admittedAt: time('when the current attempt was admitted (its Job decided)'),
      pool: str('ComputeCluster the current attempt was admitted to, when the scheduler chose one', { maxLength: 253 }),
      failures: count('failed attempts so far: what the retry budget is spent on (preemptions do not count)'),
      preemptions: count('times the job was preempted'),
      nextAttemptAt: time('when the next retry attempt is due (RETRYING)'),
    },
  };
  return crd({
    kind: 'AIJob',
    plural: 'aijobs',
    shortName: 'aij',
    scope: 'Namespaced',
    description: 'A Runway job: one submission, run as batch/v1 Jobs named <job-id>-<attempt> that it owns.',
    spec,
    status,
    specRequired: true,
    columns: [
      { name: 'Tenant', type: 'string', jsonPath: '.spec.tenant_id' },
      { name: 'Status', type: 'string', jsonPath: '.status.phase' },
      { name: 'GPUs', type: 'integer', jsonPath: '.spec.gpu_count' },
      { name: 'Queue', type: 'string', jsonPath: '.spec.queue' },
      { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
      { name: 'Exit', type: 'integer', jsonPath: '.status.exitCode', priority: 1 },
      AGE,
    ],
  });
}

function aiJobQueue(): CustomResourceDefinition {
  return crd({
    kind: 'AIJobQueue',
    plural: 'aijobqueues',
    shortName: 'aijq',
    scope: 'Cluster',
    description: 'A queue jobs are submitted to (metadata.name is the queue name in job specs).',
    spec: toStructuralSchema(QueueSpecSchema, 'AIJobQueue.spec'),
    status: {
      type: 'object',
      properties: {
        queued: count('jobs waiting for admission'),
        admitted: count('jobs admitted and not yet running'),
        running: count('jobs running'),
      },
    },
    specRequired: false,
    columns: [
      { name: 'Admission', type: 'string', jsonPath: '.spec.admission' },
      { name: 'Max', type: 'integer', jsonPath: '.spec.maxConcurrency' },
      { name: 'Priority', type: 'integer', jsonPath: '.spec.priority', priority: 1 },
      { name: 'Queued', type: 'integer', jsonPath: '.status.queued' },
      { name: 'Running', type: 'integer', jsonPath: '.status.running' },
      AGE,
    ],
  });
}

function computeCluster(): CustomResourceDefinition {
  return crd({
    kind: 'ComputeCluster',
    plural: 'computeclusters',
    shortName: 'cc',
    scope: 'Cluster',
    description: 'A pool of nodes Runway places jobs on, with the capacity Runway may use there.',
    spec: toStructuralSchema(ComputeClusterSpecSchema, 'ComputeCluster.spec'),
    status: {
      type: 'object',
      properties: {
        nodes: count('ready nodes matching nodeSelector'),
        runningJobs: count('jobs running in the pool'),
        allocatedGPUs: count('GPUs held by jobs in the pool'),
        allocatedCPU: num('cores held by jobs in the pool', { minimum: 0 }),
        allocatedMemoryMb: count('MiB held by jobs in the pool'),
        conditions: conditions(),
      },
    },
    specRequired: false,
    columns: [
      { name: 'MaxJobs', type: 'integer', jsonPath: '.spec.capacity.maxJobs' },
      { name: 'MaxGPUs', type: 'integer', jsonPath: '.spec.capacity.maxGPUs' },
      { name: 'Running', type: 'integer', jsonPath: '.status.runningJobs' },
      { name: 'GPUsUsed', type: 'integer', jsonPath: '.status.allocatedGPUs' },
      AGE,
    ],
  });
}

function tenantPolicy(): CustomResourceDefinition {
  return crd({
    kind: 'TenantPolicy',
    plural: 'tenantpolicies',
    shortName: 'tp',
    scope: 'Cluster',
    description: "Per-tenant overrides of Runway's guardrails; fields left unset use the global configuration.",
    spec: toStructuralSchema(TenantPolicySpecSchema, 'TenantPolicy.spec'),
    status: {
      type: 'object',
      properties: {
        gpusAllocated: count('GPUs the tenant holds now'),
        spendMonthToDateUsd: num('estimated spend of the month so far, USD', { minimum: 0 }),
        conditions: conditions(),
      },
    },
    specRequired: false,
    columns: [
      { name: 'GPUQuota', type: 'integer', jsonPath: '.spec.gpuQuota' },
      { name: 'RatePerMin', type: 'number', jsonPath: '.spec.rateLimitPerMin' },
      { name: 'BudgetUSD', type: 'number', jsonPath: '.spec.budget.monthlyUsd' },
      { name: 'GPUsUsed', type: 'integer', jsonPath: '.status.gpusAllocated', priority: 1 },
      AGE,
    ],
  });
}

/** Runway's CRDs, in install order. Each call builds fresh objects (callers may mutate them). */
export function runwayCrds(): CustomResourceDefinition[] {
  return [aiJob(), aiJobQueue(), computeCluster(), tenantPolicy()];
}

/** The files of deploy/crds/: one YAML document per CRD, and the kustomization listing them. */
export function runwayCrdFiles(): Array<{ file: string; content: string }> {
  const header =
    '# Generated by `npx tsx scripts/gen-crds.ts` from src/cluster/kube/crds.ts. Do not edit by hand:\n' +
    '# test/unit/crds.test.ts fails when this file and the generator disagree.\n';
  const files = runwayCrds().map((c) => ({
    file: `${c.metadata.name}.yaml`,
    content: header + stringify(c, { lineWidth: 0 }),
  }));
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: files.map((f) => f.file),
  };
  return [...files, { file: 'kustomization.yaml', content: header + stringify(kustomization) }];
}
