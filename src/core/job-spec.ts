/**
 * The job spec: the one schema for what a user submits. It validates requests (see validation.ts),
 * documents the API (OpenAPI) and is the `spec` of the AIJob custom resource, so the three never drift.
 * Bounds that operators configure (max cpu, memory, ...) are checked separately, in bounds.ts.
 */
import Type from 'typebox';

/** A Kubernetes label value: also the shape of tenant ids, so a tenant can label everything it owns. */
export const LABEL_VALUE_PATTERN = '^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$';
/** A DNS-1123 label, used for queue names. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
/** Environment variable names as Kubernetes accepts them (C identifier, plus dots and dashes). */
export const ENV_NAME_PATTERN = '^[-._a-zA-Z][-._a-zA-Z0-9]*$';

export const RetryPolicySchema = Type.Object(
  {
    max_retries: Type.Integer({ minimum: 0, maximum: 20, description: 'attempts after the first' }),
    backoff_multiplier: Type.Optional(
      Type.Number({ minimum: 1, maximum: 10, description: 'delay factor between attempts' }),
    ),
  },
  { additionalProperties: false },
);

export const JobSpecSchema = Type.Object(
  {
    tenant_id: Type.Optional(
      Type.String({
        pattern: LABEL_VALUE_PATTERN,
        description: 'owning tenant; the X-Tenant-ID header is used when this is omitted',
      }),
    ),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'a human name' })),
    image: Type.String({ minLength: 1, maxLength: 512, pattern: '^[^\\s]+$', description: 'container image' }),
    command: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 })),
    args: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 })),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: ENV_NAME_PATTERN, maxLength: 256 }), Type.String({ maxLength: 32768 }), {
        maxProperties: 128,
      }),
    ),
    cpu: Type.Number({ exclusiveMinimum: 0, description: 'cores; fractions down to 0.001 allowed' }),
    memory_mb: Type.Integer({ exclusiveMinimum: 0, description: 'MiB' }),
    gpu_count: Type.Optional(Type.Integer({ minimum: 0, description: 'nvidia.com/gpu, default 0' })),
    timeout_s: Type.Integer({ exclusiveMinimum: 0, description: 'wall-clock limit (activeDeadlineSeconds)' }),
    queue: Type.Optional(Type.String({ pattern: DNS_LABEL_PATTERN, description: 'default: "default"' })),
    priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000, description: 'default 0' })),
    replicas: Type.Optional(Type.Integer({ minimum: 1, description: 'gang size, default 1' })),
    retry_policy: Type.Optional(RetryPolicySchema),
    labels: Type.Optional(
      Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 63 }), { maxProperties: 64 }),
    ),
    annotations: Type.Optional(
      Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 65536 }), { maxProperties: 64 }),
    ),
    expected_runtime_s: Type.Optional(Type.Integer({ exclusiveMinimum: 0, description: 'for ETAs' })),
    idempotency_key: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$', description: 'printable ASCII' }),
    ),
  },
  { additionalProperties: false },
);

export type JobSpecInput = Type.Static<typeof JobSpecSchema>;
export type RetryPolicy = Type.Static<typeof RetryPolicySchema>;

/** A validated spec with defaults filled in. Everything past the API edge works with this. */
export interface JobSpec {
  tenant_id: string;
  name?: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  cpu: number;
  memory_mb: number;
  gpu_count: number;
  timeout_s: number;
  queue: string;
  priority: number;
  replicas: number;
  retry_policy?: RetryPolicy;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  expected_runtime_s?: number;
  idempotency_key?: string;
}

export const DEFAULT_QUEUE = 'default';
