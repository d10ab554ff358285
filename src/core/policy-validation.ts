/**
 * Turns an untrusted policy document — a PUT body, one document of `runway apply -f`, the YAML an
 * operator would give `kubectl apply` — into a PolicyResource, or refuses it with INVALID_REQUEST
 * naming the field. The spec is checked against the same TypeBox schema the CRD is generated from.
 * Pure: no I/O, no configuration.
 */
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import type { TLocalizedValidationError } from 'typebox/error';
import { errors, type RunwayError } from './errors.js';
import { deepFreeze } from './immutable.js';
import { LABEL_VALUE_PATTERN } from './job-spec.js';
import {
  POLICY_API_VERSION,
  POLICY_NAME,
  POLICY_SPEC_SCHEMAS,
  type PolicyKind,
  type PolicyOf,
  type PolicyResource,
} from './policy.js';
import { describe, pickError, qualifiedName } from './validation.js';

const labelValue = new RegExp(LABEL_VALUE_PATTERN);
const namePatterns = Object.fromEntries(
  Object.entries(POLICY_NAME).map(([kind, rule]) => [kind, new RegExp(rule.pattern)]),
) as Record<PolicyKind, RegExp>;

const MetadataSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'must equal the name in the path when given' })),
    labels: Type.Optional(Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 63 }), { maxProperties: 64 })),
    annotations: Type.Optional(Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 65536 }), { maxProperties: 64 })),
  },
  // A document read back (`runway get -o json`, `kubectl get -o yaml`) carries server-set fields
  // (uid, resourceVersion, creationTimestamp, managedFields, ...): accepted, and ignored.
  { additionalProperties: true, description: 'name, labels and annotations; server-set fields are ignored' },
);

function documentSchema<K extends PolicyKind>(kind: K) {
  return Type.Object(
    {
      apiVersion: Type.Optional(Type.String({ description: `${POLICY_API_VERSION} when given` })),
      kind: Type.Optional(Type.String({ description: `${kind} when given` })),
      metadata: Type.Optional(MetadataSchema),
      spec: Type.Optional(POLICY_SPEC_SCHEMAS[kind] as (typeof POLICY_SPEC_SCHEMAS)[K]),
      status: Type.Optional(Type.Unknown({ description: 'ignored: status is written by Runway' })),
    },
    { additionalProperties: false, description: `A ${kind} document, as for kubectl apply; or just {spec: ...}` },
  );
}

/** The PUT body of each kind (for the OpenAPI document). */
export const POLICY_DOCUMENT_SCHEMAS = {
  AIJobQueue: documentSchema('AIJobQueue'),
  ComputeCluster: documentSchema('ComputeCluster'),
  TenantPolicy: documentSchema('TenantPolicy'),
};

const validators = {
  AIJobQueue: Compile(POLICY_DOCUMENT_SCHEMAS.AIJobQueue),
  ComputeCluster: Compile(POLICY_DOCUMENT_SCHEMAS.ComputeCluster),
  TenantPolicy: Compile(POLICY_DOCUMENT_SCHEMAS.TenantPolicy),
};

/**
 * The INVALID_REQUEST of a document that fails its schema. A field that takes one of a few values
 * (admission, preemptionPolicy) fails as a union of constants, with a "must be equal to constant" (or
 * "must be string") error per value: the message lists the values instead.
 */
function documentError(body: unknown, list: TLocalizedValidationError[], what: string): RunwayError {
  const first = list.find((e) => e.keyword !== 'boolean');
  const structural = list.some((e) => e.keyword === 'additionalProperties' || e.keyword === 'required');
  const allowed = list
    .filter((e) => e.keyword === 'const' && e.instancePath === first?.instancePath)
    .map((e) => JSON.stringify((e.params as { allowedValue?: unknown }).allowedValue));
  if (first && !structural && allowed.length > 0) {
    return pickError(body, [{ ...first, message: `must be one of ${allowed.join(', ')}` }], what);
  }
  return pickError(body, list, what);
}

/** Checks the name of a policy object (the {name} of its API path). */
export function parsePolicyName(kind: PolicyKind, name: unknown, field = 'name'): string {
  const rule = POLICY_NAME[kind];
  if (typeof name !== 'string' || name.length > rule.maxLength || !namePatterns[kind].test(name)) {
    throw errors.invalidRequest(field, `invalid ${kind} name ${describe(name)}: expected ${rule.what}`);
  }
  return name;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** True when a number of cores is a whole number of millicores, the smallest unit Kubernetes accepts. */
function wholeMillicores(cores: number): boolean {
  return Math.abs(cores * 1000 - Math.round(cores * 1000)) <= 1e-6;
}

function checkCores(field: string, cores: number | undefined): void {
  if (cores !== undefined && !wholeMillicores(cores)) {
    throw errors.invalidRequest(field, `invalid ${field}: ${cores} is finer than 0.001 cores (1m), the smallest unit Kubernetes accepts`);
  }
}

function checkLabels(field: string, labels: Record<string, string> | undefined, values: 'label' | 'any'): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!qualifiedName.test(k)) throw errors.invalidRequest(`${field}.${k}`, `invalid ${field} key '${k}': must be a Kubernetes qualified name`);
    if (values === 'label' && v !== '' && !labelValue.test(v)) {
      throw errors.invalidRequest(`${field}.${k}`, `invalid ${field}.${k} value ${describe(v)}: must be a Kubernetes label value`);
    }
  }
}

/**
 * Validates a policy document for the object `kind`/`name` (the API path). The body may be a whole
 * document (apiVersion, kind, metadata, spec) or just `{spec}`; what it gives must agree with the path.
 * A missing spec is an empty one (every field has a default). Returns a frozen document holding only
 * what Runway stores: apiVersion, kind, metadata (name, labels, annotations) and spec.
 */
export function parsePolicy<K extends PolicyKind>(kind: K, name: string, body: unknown): PolicyOf<K> {
  if (!isRecord(body)) throw errors.invalidRequest('body', `the body must be a JSON object (got ${describe(body)})`);
  if (body.apiVersion !== undefined && body.apiVersion !== POLICY_API_VERSION) {
    throw errors.invalidRequest('apiVersion', `apiVersion must be ${POLICY_API_VERSION} (got ${describe(body.apiVersion)})`);
  }
  if (body.kind !== undefined && body.kind !== kind) {
    throw errors.invalidRequest('kind', `kind ${describe(body.kind)} does not match this endpoint, which takes ${kind}`, { expected: kind });
  }
  const validator = validators[kind];
  if (!validator.Check(body)) throw documentError(body, [...validator.Errors(body)], `${kind} document`);

  const metadata = isRecord(body.metadata) ? body.metadata : {};
  if (metadata.name !== undefined && metadata.name !== name) {
    throw errors.invalidRequest('metadata.name', `metadata.name ${describe(metadata.name)} does not match the name in the path ${describe(name)}`);
  }
  const labels = metadata.labels as Record<string, string> | undefined;
  const annotations = metadata.annotations as Record<string, string> | undefined;
  checkLabels('metadata.labels', labels, 'label');
  checkLabels('metadata.annotations', annotations, 'any');

  const spec = (isRecord(body.spec) ? body.spec : {}) as PolicyOf<K>['spec'];
  switch (kind) {
    case 'ComputeCluster': {
      const s = spec as PolicyOf<'ComputeCluster'>['spec'];
      checkLabels('spec.nodeSelector', s.nodeSelector, 'label');
      checkCores('spec.capacity.maxCPU', s.capacity?.maxCPU);
      break;
    }
    case 'TenantPolicy':
      checkCores('spec.cpuQuota', (spec as PolicyOf<'TenantPolicy'>['spec']).cpuQuota);
      break;
  }

  const meta: PolicyResource['metadata'] = { name };
  if (labels !== undefined) meta.labels = labels;
  if (annotations !== undefined) meta.annotations = annotations;
  return deepFreeze({ apiVersion: POLICY_API_VERSION, kind, metadata: meta, spec }) as PolicyOf<K>;
}
