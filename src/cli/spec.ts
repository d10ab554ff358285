/**
 * Building a job spec from command-line flags and/or a file (YAML or JSON). The CLI only makes sure it
 * can build a request; whether the spec is acceptable (required fields, bounds) is the server's answer.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { InvalidArgumentError } from 'commander';
import YAML from 'yaml';

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

/** Parses a job file's text: JSON by extension or when it looks like JSON, YAML otherwise. */
export function parseSpecText(text: string, source: string): SpecBody {
  const ext = extname(source).toLowerCase();
  const asJson = ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && /^\s*[{[]/.test(text));
  let value: unknown;
  try {
    value = asJson ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    const what = asJson ? 'JSON' : 'YAML';
    throw new UsageError(`${source} is not valid ${what}: ${((err as Error).message.split('\n')[0] ?? '').replace(/:\s*$/, '')}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${source} must hold one job spec (a mapping of fields such as image, cpu, memory_mb, timeout_s)`);
  }
  return value as SpecBody;
}

/** Reads a job file; `-` is stdin. */
export function readSpecFile(path: string): SpecBody {
  const source = path === '-' ? 'stdin' : path;
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new UsageError(`cannot read ${source}: ${why}`);
  }
  return parseSpecText(text, source);
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
