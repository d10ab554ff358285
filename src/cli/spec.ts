/**
 * Reading what the CLI sends: a job spec built from command-line flags and/or a file (YAML or JSON),
 * and the policy documents of `runway apply -f`. The CLI only makes sure it can build a request;
 * whether a spec or a policy is acceptable (required fields, bounds) is the server's answer.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { InvalidArgumentError } from 'commander';
import YAML from 'yaml';
import type { POLICY_API_VERSION, PolicyKind } from '../core/policy.js';

/** A problem with how the CLI was called: printed as `error: ...`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** Parses a flag value as a number, strictly: "4", "0.5", "-1", "1e3"; not "", "4cpu", "0x10". */
export function parseNumber(value: string): number {
  const n = Number(value);
  if (!NUMBER.test(value.trim()) || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${value}'`);
  return n;
}

/** Like parseNumber, for values that only make sense as whole numbers on the CLI side. */
export function parseInteger(value: string): number {
  const n = parseNumber(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
  return n;
}

/** Collects a repeatable KEY=VALUE flag into a record (the value may itself contain '='). */
export function collectPair(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got '${value}'`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** Collects a repeatable flag into a list. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The spec flags shared by `submit` and `estimate`, as commander hands them over. */
export interface SpecFlags {
  file?: string;
  tenant?: string;
  name?: string;
  image?: string;
  command?: string[];
  arg?: string[];
  cpu?: number;
  memoryMb?: number;
  gpus?: number;
  timeoutS?: number;
  queue?: string;
  priority?: number;
  replicas?: number;
  maxRetries?: number;
  backoffMultiplier?: number;
  expectedRuntimeS?: number;
  env?: Record<string, string>;
  label?: Record<string, string>;
  annotation?: Record<string, string>;
  idempotencyKey?: string;
}

export type SpecBody = Record<string, unknown>;

/** JSON by extension, or when it looks like JSON and the extension does not say YAML. */
function isJsonText(text: string, source: string): boolean {
  const ext = extname(source).toLowerCase();
  return ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && /^\s*[{[]/.test(text));
}

function syntaxError(source: string, what: string, err: unknown): UsageError {
  return new UsageError(`${source} is not valid ${what}: ${((err as Error).message.split('\n')[0] ?? '').replace(/:\s*$/, '')}`);
}

/** Parses a job file's text: JSON by extension or when it looks like JSON, YAML otherwise. */
export function parseSpecText(text: string, source: string): SpecBody {
  const asJson = isJsonText(text, source);
  let value: unknown;
  try {
    value = asJson ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw syntaxError(source, asJson ? 'JSON' : 'YAML', err);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${source} must hold one job spec (a mapping of fields such as image, cpu, memory_mb, timeout_s)`);
  }
  return value as SpecBody;
}

/** Reads a file's text; `-` is stdin. `source` names it in messages. */
function readInput(path: string): { text: string; source: string } {
  const source = path === '-' ? 'stdin' : path;
  try {
    return { text: readFileSync(path === '-' ? 0 : path, 'utf8'), source };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new UsageError(`cannot read ${source}: ${why}`);
  }
}

/** Reads a job file; `-` is stdin. */
export function readSpecFile(path: string): SpecBody {
  const { text, source } = readInput(path);
  return parseSpecText(text, source);
}

// ---------------------------------------------------------------------------------------------
// Policy documents (`runway apply -f`)
// ---------------------------------------------------------------------------------------------

/** The apiVersion of Runway's policy resources (the type keeps it equal to the server's). */
const POLICY_API: typeof POLICY_API_VERSION = 'runway.dev/v1alpha1';

/**
 * Each policy kind's API path segment. Kept here rather than imported from the server, so that the CLI
 * does not load it; `satisfies` keeps the kinds in step with core/policy.ts.
 */
const POLICY_PATHS = {
  AIJobQueue: 'queues',
  ComputeCluster: 'clusters',
  TenantPolicy: 'tenants',
} as const satisfies Record<PolicyKind, string>;

const KINDS = Object.keys(POLICY_PATHS) as PolicyKind[];
const KIND_LIST = `${KINDS.slice(0, -1).join(', ')} or ${KINDS[KINDS.length - 1] ?? ''}`;

/** The names `runway delete` takes for each kind (any case): singular, plural, kind, and kubectl's short name. */
const KIND_NAMES: Record<PolicyKind, readonly string[]> = {
  AIJobQueue: ['queue', 'queues', 'aijobqueue', 'aijobqueues', 'aijq'],
  ComputeCluster: ['cluster', 'clusters', 'computecluster', 'computeclusters', 'cc'],
  TenantPolicy: ['tenant', 'tenants', 'tenantpolicy', 'tenantpolicies', 'tp'],
};
const KIND_ALIASES: ReadonlyMap<string, PolicyKind> = new Map(KINDS.flatMap((kind) => KIND_NAMES[kind].map((n) => [n, kind] as const)));

/** Parses the kind argument of `runway delete` (commander argument parser). */
export function parsePolicyKind(value: string): PolicyKind {
  const kind = KIND_ALIASES.get(value.trim().toLowerCase());
  if (kind === undefined) throw new InvalidArgumentError(`expected queue, cluster or tenant (or the kind: ${KINDS.join(', ')}), got '${value}'`);
  return kind;
}

/** A policy document that passed the CLI's checks; the rest of it is the server's to judge. */
export interface PolicyDocument {
  apiVersion: typeof POLICY_API_VERSION;
  kind: PolicyKind;
  metadata: { name: string } & Record<string, unknown>;
  [field: string]: unknown;
}

/** The API path of a policy object. */
export function policyPath(kind: PolicyKind, name: string): string {
  return `/v1/${POLICY_PATHS[kind]}/${encodeURIComponent(name)}`;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'string' ? JSON.stringify(v) : `${typeof v} ${String(v)}`;
}

/** A document as found in the file: an array's elements and a List's items are documents of their own. */
function expandDocument(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  const v = value as { kind?: unknown; items?: unknown } | null;
  if (v !== null && typeof v === 'object' && v.kind === 'List' && Array.isArray(v.items)) return v.items;
  return [value];
}

/**
 * Parses the documents of a policy file: YAML with any number of `---`-separated documents (empty ones
 * are skipped), or JSON holding one object, an array of them or a `kind: List` with `items`. Each
 * document must have apiVersion runway.dev/v1alpha1, a policy kind and metadata.name; a usage error
 * names the first one that does not, by its position in the file (document 1, 2, ...).
 */
export function parsePolicyDocuments(text: string, source: string): PolicyDocument[] {
  let values: unknown[];
  if (isJsonText(text, source)) {
    try {
      values = [JSON.parse(text) as unknown];
    } catch (err) {
      throw syntaxError(source, 'JSON', err);
    }
  } else {
    const docs = YAML.parseAllDocuments(text, { prettyErrors: true });
    const broken = docs.find((d) => d.errors.length > 0);
    if (broken) throw syntaxError(source, 'YAML', broken.errors[0]);
    values = docs.map((d) => d.toJS() as unknown);
  }
  const found = values.flatMap(expandDocument).filter((v) => v !== null && v !== undefined);
  if (found.length === 0) throw new UsageError(`${source} holds no documents`);
  return found.map((doc, i) => checkPolicyDocument(doc, `${source} document ${i + 1}`));
}

function checkPolicyDocument(doc: unknown, where: string): PolicyDocument {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new UsageError(`${where} is ${describeValue(doc)}, not a policy document (apiVersion, kind, metadata, spec)`);
  }
  const { apiVersion, kind, metadata } = doc as Record<string, unknown>;
  if (kind === undefined) throw new UsageError(`${where}: missing kind (expected ${KIND_LIST})`);
  if (typeof kind !== 'string' || !KINDS.includes(kind as PolicyKind)) {
    throw new UsageError(`${where}: unknown kind ${describeValue(kind)} (expected ${KIND_LIST})`);
  }
  if (apiVersion !== POLICY_API) {
    const got = apiVersion === undefined ? 'missing apiVersion' : `apiVersion ${describeValue(apiVersion)}`;
    throw new UsageError(`${where} (${kind}): ${got}, expected ${POLICY_API}`);
  }
  const name = typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata) ? (metadata as { name?: unknown }).name : undefined;
  if (name === undefined || name === null || name === '') throw new UsageError(`${where} (${kind}): missing metadata.name`);
  if (typeof name !== 'string') throw new UsageError(`${where} (${kind}): metadata.name must be a string, got ${describeValue(name)}`);
  return doc as PolicyDocument;
}

/** Reads and checks a policy file; `-` is stdin. */
export function readPolicyFile(path: string): PolicyDocument[] {
  const { text, source } = readInput(path);
  return parsePolicyDocuments(text, source);
}

function mergeMap(base: unknown, extra: Record<string, string> | undefined): unknown {
  if (!extra) return base;
  return base !== null && typeof base === 'object' && !Array.isArray(base) ? { ...(base as Record<string, unknown>), ...extra } : extra;
}

/**
 * The request for submit/estimate: the file's fields (if any) with the flags on top. Maps (env,
 * labels, annotations) are merged key by key. The tenant goes in the X-Tenant-ID header unless the
 * body names one; a --tenant given on the command line (not from RUNWAY_TENANT) replaces the file's.
 */
export function buildSpec(
  flags: SpecFlags,
  opts: { tenantFromCli: boolean; positionalCommand?: string[] },
): { body: SpecBody; headers: Record<string, string> } {
  const body: SpecBody = flags.file !== undefined ? readSpecFile(flags.file) : {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined) body[key] = value;
  };
  set('name', flags.name);
  set('image', flags.image);
  const command = [...(flags.command ?? []), ...(opts.positionalCommand ?? [])];
  if (command.length > 0) body.command = command;
  set('args', flags.arg);
  set('cpu', flags.cpu);
  set('memory_mb', flags.memoryMb);
  set('gpu_count', flags.gpus);
  set('timeout_s', flags.timeoutS);
  set('queue', flags.queue);
  set('priority', flags.priority);
  set('replicas', flags.replicas);
  set('expected_runtime_s', flags.expectedRuntimeS);
  set('idempotency_key', flags.idempotencyKey);
  if (flags.maxRetries !== undefined || flags.backoffMultiplier !== undefined) {
    const base = body.retry_policy !== null && typeof body.retry_policy === 'object' ? (body.retry_policy as Record<string, unknown>) : {};
    const policy: Record<string, unknown> = { ...base };
    if (flags.maxRetries !== undefined) policy.max_retries = flags.maxRetries;
    if (flags.backoffMultiplier !== undefined) policy.backoff_multiplier = flags.backoffMultiplier;
    body.retry_policy = policy;
  }
  set('env', mergeMap(body.env, flags.env));
  set('labels', mergeMap(body.labels, flags.label));
  set('annotations', mergeMap(body.annotations, flags.annotation));

  const headers: Record<string, string> = {};
  // An empty tenant (say, `export RUNWAY_TENANT=`) means none.
  if (flags.tenant !== undefined && flags.tenant.trim() !== '') {
    if (opts.tenantFromCli && body.tenant_id !== undefined) body.tenant_id = flags.tenant;
    else if (body.tenant_id === undefined) headers['X-Tenant-ID'] = flags.tenant;
  }
  return { body, headers };
}
