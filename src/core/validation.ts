/**
 * Turns an untrusted request body (and the X-Tenant-ID header) into a JobSpec, or refuses it with
 * INVALID_REQUEST naming the field. Pure: no I/O, no configuration. Per-job bounds come after this
 * (bounds.ts) so that "malformed" (400) and "too big" (422) stay distinct answers.
 */
import { Compile } from 'typebox/compile';
import type { TLocalizedValidationError } from 'typebox/error';
import { errors } from './errors.js';
import { intern } from './immutable.js';
import {
  DEFAULT_QUEUE,
  ENV_NAME_PATTERN,
  JobSpecSchema,
  LABEL_VALUE_PATTERN,
  type JobSpec,
  type JobSpecInput,
} from './job-spec.js';

const jobSpecValidator = Compile(JobSpecSchema);
const labelValue = new RegExp(LABEL_VALUE_PATTERN);
const envName = new RegExp(ENV_NAME_PATTERN);
// Kubernetes qualified names: an optional DNS-subdomain prefix and a name of up to 63 characters.
export const qualifiedName = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const RESERVED_PREFIX = 'runway.dev/';
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Converts a JSON pointer ("/retry_policy/max_retries", "/command/0") into "retry_policy.max_retries", "command[0]". */
export function fieldFromPointer(pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** A short rendering of a rejected value for an error message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function valueAt(body: unknown, pointer: string): unknown {
  let cur: unknown = body;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** The most useful single error to show: unknown and missing fields first, then the first type error. */
export function pickError(body: unknown, list: TLocalizedValidationError[], what = 'job spec') {
  const unknown = list.find((e) => e.keyword === 'additionalProperties');
  if (unknown) {
    const names = (unknown.params as { additionalProperties: string[] }).additionalProperties;
    const base = fieldFromPointer(unknown.instancePath);
    const field = base ? `${base}.${names[0]}` : String(names[0]);
    return errors.invalidRequest(field, `unknown field '${field}'`, { unknown_fields: names });
  }
  const required = list.find((e) => e.keyword === 'required');
  if (required) {
    const names = (required.params as { requiredProperties: string[] }).requiredProperties;
    const base = fieldFromPointer(required.instancePath);
    const field = base ? `${base}.${names[0]}` : String(names[0]);
    return errors.invalidRequest(field, `missing required field '${field}'`, { missing_fields: names });
  }
  const first = list.find((e) => e.keyword !== 'boolean') ?? list[0];
  if (!first) return errors.invalidRequest('body', `invalid ${what}`);
  const field = fieldFromPointer(first.instancePath) || 'body';
  const got = valueAt(body, first.instancePath);
  return errors.invalidRequest(field, `invalid ${field}: ${first.message} (got ${describe(got)})`);
}

function checkKeys(field: string, record: Record<string, string> | undefined, test: (k: string) => boolean, what: string) {
  if (!record) return;
  for (const key of Object.keys(record)) {
    if (!test(key)) throw errors.invalidRequest(`${field}.${key}`, `invalid ${field} key '${key}': ${what}`);
    if (field !== 'env' && key.startsWith(RESERVED_PREFIX)) {
      throw errors.invalidRequest(`${field}.${key}`, `${field} key '${key}' uses the reserved prefix ${RESERVED_PREFIX}`);
    }
  }
}

/** Resolves the tenant from body and header: the header is used only when the body omits it. */
function resolveTenant(bodyTenant: string | undefined, header: string | string[] | undefined): string {
  if (header !== undefined && !Array.isArray(header) && header.trim() === '') header = undefined; // blank = absent
  if (Array.isArray(header)) {
    throw errors.invalidRequest('X-Tenant-ID', 'X-Tenant-ID was sent more than once; send it once');
  }
  if (header !== undefined && !labelValue.test(header)) {
    throw errors.invalidRequest(
      'X-Tenant-ID',
      'X-Tenant-ID must be 1-63 characters of letters, digits, ".", "_" or "-", starting and ending with a letter or digit',
    );
  }
  if (bodyTenant !== undefined && header !== undefined && bodyTenant !== header) {
    throw errors.invalidRequest(
      'tenant_id',
      `tenant_id '${bodyTenant}' in the body conflicts with X-Tenant-ID '${header}'; send one or make them equal`,
    );
  }
  const tenant = bodyTenant ?? header;
  if (tenant === undefined) {
    throw errors.invalidRequest('tenant_id', 'missing tenant: set tenant_id in the body or the X-Tenant-ID header');
  }
  return tenant;
}

/**
 * Validates a submitted body. Throws RunwayError(INVALID_REQUEST) naming the first bad field.
 * The result has defaults filled in (gpu_count 0, queue "default", priority 0, replicas 1).
 */
export function parseJobSpec(body: unknown, tenantHeader?: string | string[]): JobSpec {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw errors.invalidRequest('body', `the body must be a JSON object (got ${describe(body)})`);
  }
  if (!jobSpecValidator.Check(body)) {
    // Tenant errors are reported in the same terms whether the tenant came from the body or the header.
    throw pickError(body, [...jobSpecValidator.Errors(body)]);
  }
  const input: JobSpecInput = body;
  const tenant = resolveTenant(input.tenant_id, tenantHeader);

  if (Math.abs(input.cpu * 1000 - Math.round(input.cpu * 1000)) > 1e-6) {
    throw errors.invalidRequest('cpu', `invalid cpu: ${input.cpu} is finer than 0.001 cores (1m), the smallest unit Kubernetes accepts`);
  }
  checkKeys('env', input.env, (k) => envName.test(k), 'must be letters, digits, "_", "-" or "." and not start with a digit');
  checkKeys('labels', input.labels, (k) => qualifiedName.test(k), 'must be a Kubernetes qualified name');
  checkKeys('annotations', input.annotations, (k) => qualifiedName.test(k), 'must be a Kubernetes qualified name');
  if (input.labels) {
    for (const [k, v] of Object.entries(input.labels)) {
      if (v !== '' && !labelValue.test(v)) {
        throw errors.invalidRequest(`labels.${k}`, `invalid labels.${k} value: must be a Kubernetes label value (63 characters of letters, digits, '.', '_', '-')`);
      }
    }
  }
  if (input.annotations) {
    let size = 0;
    for (const [k, v] of Object.entries(input.annotations)) size += k.length + v.length;
    if (size > MAX_ANNOTATIONS_BYTES) {
      throw errors.invalidRequest('annotations', `annotations total ${size} bytes; Kubernetes allows at most ${MAX_ANNOTATIONS_BYTES}`);
    }
  }
  if (input.expected_runtime_s !== undefined && input.expected_runtime_s > input.timeout_s) {
    throw errors.invalidRequest(
      'expected_runtime_s',
      `expected_runtime_s ${input.expected_runtime_s} is longer than timeout_s ${input.timeout_s}; the job would be killed first`,
    );
  }

  const spec: JobSpec = {
    tenant_id: intern(tenant),
    image: intern(input.image),
    cpu: Math.round(input.cpu * 1000) / 1000,
    memory_mb: input.memory_mb,
    gpu_count: input.gpu_count ?? 0,
    timeout_s: input.timeout_s,
    queue: input.queue ?? DEFAULT_QUEUE,
    priority: input.priority ?? 0,
    replicas: input.replicas ?? 1,
  };
  // A validated spec is an immutable value, frozen with everything in it, so that whatever stores it
  // (the AIJob, the cluster, the cache) can share it rather than copy it. Its parts are one level deep
  // (the schema says so): each is frozen as it is set, with no walk over the whole spec.
  if (input.name !== undefined) spec.name = input.name;
  if (input.command !== undefined) spec.command = Object.freeze(input.command) as string[];
  if (input.args !== undefined) spec.args = Object.freeze(input.args) as string[];
  if (input.env !== undefined) spec.env = Object.freeze(input.env);
  if (input.retry_policy !== undefined) spec.retry_policy = Object.freeze(input.retry_policy);
  if (input.labels !== undefined) spec.labels = Object.freeze(input.labels);
  if (input.annotations !== undefined) spec.annotations = Object.freeze(input.annotations);
  if (input.expected_runtime_s !== undefined) spec.expected_runtime_s = input.expected_runtime_s;
  if (input.idempotency_key !== undefined) spec.idempotency_key = input.idempotency_key;
  return Object.freeze(spec);
}
