/**
 * The `runway` command: talks to the Runway HTTP API (RUNWAY_URL), prints a readable table by default
 * and JSON with `-o json`. Exit codes: 0 success, 1 the API refused or could not be reached (or a
 * watched job did not succeed), 2 the command line itself was wrong.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { JobView } from '../api/views.js';
import type { CostEstimate } from '../core/cost.js';
import type { PolicyKind } from '../core/policy.js';
import { ApiError, ConnectionError, RunwayClient } from './client.js';
import type { PoolView, QueueView } from '../controller/scheduling-loop.js';
import {
  costBreakdown,
  jobDetails,
  jobsTable,
  json,
  policyRef,
  poolsTable,
  queuesTable,
  statusLine,
  submittedTable,
  TERMINAL_STATUSES,
} from './format.js';
import {
  buildSpec,
  collectList,
  collectPair,
  parseInteger,
  parseNumber,
  parsePolicyKind,
  policyPath,
  readPolicyFile,
  UsageError,
  type PolicyDocument,
  type SpecFlags,
} from './spec.js';

export const DEFAULT_URL = 'http://localhost:8000';

type Output = 'table' | 'json';

interface GlobalOptions {
  url: string;
  output: Output;
}

interface JobList {
  items: JobView[];
  continue?: string;
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const out = (text: string) => void process.stdout.write(text);
const err = (text: string) => void process.stderr.write(text);

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

function clientFor(cmd: Command): RunwayClient {
  // An empty RUNWAY_URL (`export RUNWAY_URL=`) means the default.
  const url = globals(cmd).url.trim() || DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid Runway URL '${url}' (from --url or RUNWAY_URL); expected e.g. ${DEFAULT_URL}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`invalid Runway URL '${url}': only http:// and https:// are supported`);
  }
  return new RunwayClient(url);
}

function jobPath(id: string): string {
  return `/v1/jobs/${encodeURIComponent(id)}`;
}

function positiveInteger(value: string): number {
  const n = parseInteger(value);
  if (n < 1) throw new InvalidArgumentError(`expected a positive whole number, got '${value}'`);
  return n;
}

function port(value: string): number {
  const n = parseInteger(value);
  if (n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port from 0 to 65535, got '${value}'`);
  return n;
}

/** The job spec flags shared by `submit` and `estimate`. */
function addSpecOptions(cmd: Command): Command {
  return cmd
    .argument('[command...]', 'the container command, after --, e.g. -- python train.py --epochs 3')
    .option('-f, --file <path>', 'job spec file, YAML or JSON ("-" reads stdin); flags override its fields')
    .addOption(new Option('--tenant <id>', 'tenant, sent as X-Tenant-ID unless the spec names one').env('RUNWAY_TENANT'))
    .option('--name <name>', 'a human name for the job')
    .option('--image <image>', 'container image')
    .option('--command <part>', 'container command; repeat for each part', collectList)
    .option('--arg <arg>', 'container argument; repeatable', collectList)
    .option('--cpu <cores>', 'CPU cores (fractions allowed)', parseNumber)
    .option('--memory-mb <mib>', 'memory in MiB', parseNumber)
    .option('--gpus <n>', 'GPUs (gpu_count)', parseNumber)
    .option('--timeout-s <seconds>', 'wall-clock limit in seconds', parseNumber)
    .option('--queue <queue>', 'queue (default: "default")')
    .option('--priority <n>', 'priority within the queue', parseNumber)
    .option('--replicas <n>', 'gang size', parseNumber)
    .option('--max-retries <n>', 'retry_policy.max_retries', parseNumber)
    .option('--backoff-multiplier <x>', 'retry_policy.backoff_multiplier', parseNumber)
    .option('--expected-runtime-s <seconds>', 'expected run time, for ETAs', parseNumber)
    .option('--env <KEY=VALUE>', 'environment variable; repeatable', collectPair)
    .option('--label <key=value>', 'label; repeatable', collectPair)
    .option('--annotation <key=value>', 'annotation; repeatable (e.g. sim.runway.dev/duration-s=30)', collectPair)
    .option('--idempotency-key <key>', 'submitting again with the same key returns the same job');
}

function specFrom(cmd: Command, positional: string[]) {
  return buildSpec(cmd.opts<SpecFlags>(), {
    tenantFromCli: cmd.getOptionValueSource('tenant') === 'cli',
    positionalCommand: positional,
  });
}

async function submit(positional: string[], _opts: unknown, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const client = clientFor(cmd);
  const { body, headers } = specFrom(cmd, positional);
  const res = await client.post<JobView>('/v1/jobs', body, { headers });
  if (res.status === 200) {
    err(`job ${res.body.job_id} already exists with this idempotency key; nothing new was created\n`);
  }
  out(output === 'json' ? json(res.body) : submittedTable(res.body));
}

async function estimate(positional: string[], _opts: unknown, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const client = clientFor(cmd);
  const { body, headers } = specFrom(cmd, positional);
  const res = await client.post<{ estimated_cost: CostEstimate }>('/v1/estimate', body, { headers });
  out(output === 'json' ? json(res.body) : costBreakdown(res.body.estimated_cost));
}

/** Polls until the job is terminal, printing a line per change; the exit code says whether it succeeded. */
async function watch(client: RunwayClient, id: string, output: Output, intervalMs: number): Promise<number> {
  let last: string | undefined;
  for (;;) {
    const { body: job } = await client.get<JobView>(jobPath(id));
    const key = `${job.status}/${job.attempt}`;
    if (key !== last) {
      out(output === 'json' ? JSON.stringify(job) + '\n' : statusLine(job));
      last = key;
    }
    if (TERMINAL_STATUSES.has(job.status)) return job.status === 'SUCCEEDED' ? 0 : 1;
    await sleep(intervalMs);
  }
}

async function get(id: string, opts: { watch?: boolean; interval: number }, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const client = clientFor(cmd);
  if (opts.watch) {
    process.exitCode = await watch(client, id, output, opts.interval);
    return;
  }
  const { body } = await client.get<JobView>(jobPath(id));
  out(output === 'json' ? json(body) : jobDetails(body));
}

interface ListOptions {
  tenant?: string;
  status?: string;
  queue?: string;
  limit?: number;
  continue?: string;
  all?: boolean;
}

async function list(opts: ListOptions, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const client = clientFor(cmd);
  const query = { tenant: opts.tenant, status: opts.status, queue: opts.queue, limit: opts.limit };
  let page = (await client.get<JobList>('/v1/jobs', { query: { ...query, continue: opts.continue } })).body;
  const items = [...page.items];
  const seen = new Set<string>();
  while (opts.all && page.continue !== undefined && !seen.has(page.continue)) {
    seen.add(page.continue);
    page = (await client.get<JobList>('/v1/jobs', { query: { ...query, continue: page.continue } })).body;
    items.push(...page.items);
  }
  const next = opts.all ? undefined : page.continue;
  if (output === 'json') {
    out(json(next !== undefined ? { items, continue: next } : { items }));
    return;
  }
  if (items.length === 0) err('No jobs found.\n');
  else out(jobsTable(items));
  if (next !== undefined) err(`More jobs: use --all, or --continue ${next} for the next page.\n`);
}

async function logs(id: string, opts: { tail?: number }, cmd: Command): Promise<void> {
  const client = clientFor(cmd);
  const { body } = await client.get<string>(`${jobPath(id)}/logs`, { query: { tail: opts.tail }, text: true });
  out(body === '' || body.endsWith('\n') ? body : body + '\n');
}

async function cancel(id: string, _opts: unknown, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const { body } = await clientFor(cmd).delete<JobView>(jobPath(id));
  out(output === 'json' ? json(body) : statusLine(body));
}

async function retry(id: string, _opts: unknown, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const { body } = await clientFor(cmd).post<JobView>(`${jobPath(id)}/retry`, undefined);
  out(output === 'json' ? json(body) : statusLine(body));
}

async function queues(_opts: unknown, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const { body } = await clientFor(cmd).get<{ items: QueueView[] }>('/v1/queues');
  out(output === 'json' ? json(body) : queuesTable(body.items));
}

async function nodepools(_opts: unknown, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const { body } = await clientFor(cmd).get<{ items: PoolView[] }>('/v1/nodepools');
  out(output === 'json' ? json(body) : poolsTable(body.items));
}

/** The Authorization header of policy writes: the admin token from --token or RUNWAY_ADMIN_TOKEN, if any. */
function adminHeaders(token: string | undefined): Record<string, string> {
  // An empty token (`export RUNWAY_ADMIN_TOKEN=`) means none.
  const t = token?.trim() ?? '';
  if (t === '') return {};
  if (!/^[\x21-\x7e]+$/.test(t)) throw new UsageError('invalid admin token (from --token or RUNWAY_ADMIN_TOKEN): expected printable ASCII without spaces');
  return { Authorization: `Bearer ${t}` };
}

/** An API error about one object of a file: the message says which. */
function about(ref: string, e: unknown): unknown {
  return e instanceof ApiError ? new ApiError(e.status, e.code, `${ref}: ${e.message}`, e.requestId, e.details, e.retryAfter) : e;
}

/** What `apply -o json` prints: the stored documents as a List, which `apply -f` takes back. */
const policyList = (items: PolicyDocument[]) => json({ apiVersion: 'v1', kind: 'List', items });

/**
 * Creates or replaces each document of the file in order (PUT), printing a line per document. The
 * first one refused stops it: those before it stay applied, and a summary says which ones were not.
 */
async function apply(opts: { file: string; token?: string }, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const client = clientFor(cmd);
  const headers = adminHeaders(opts.token);
  const docs = readPolicyFile(opts.file);
  const stored: PolicyDocument[] = [];
  for (const [i, doc] of docs.entries()) {
    const ref = policyRef(doc.kind, doc.metadata.name);
    try {
      const res = await client.put<PolicyDocument>(policyPath(doc.kind, doc.metadata.name), doc, { headers });
      stored.push(res.body);
      if (output === 'table') out(`${ref} ${res.status === 201 ? 'created' : 'configured'}\n`);
    } catch (e) {
      if (output === 'json') out(policyList(stored));
      process.exitCode = reportError(about(ref, e));
      if (docs.length > 1) {
        const done = docs.slice(0, i).map((d) => policyRef(d.kind, d.metadata.name));
        const rest = docs.slice(i).map((d) => policyRef(d.kind, d.metadata.name));
        err(`Applied ${i} of ${docs.length} documents${done.length > 0 ? ` (${done.join(', ')})` : ''}; not applied: ${rest.join(', ')}.\n`);
      }
      return;
    }
  }
  if (output === 'json') out(policyList(stored));
}

async function deletePolicy(kind: PolicyKind, name: string, opts: { token?: string }, cmd: Command): Promise<void> {
  const { output } = globals(cmd);
  const client = clientFor(cmd);
  await client.delete(policyPath(kind, name), { headers: adminHeaders(opts.token) });
  out(output === 'json' ? json({ kind, name, deleted: true }) : `${policyRef(kind, name)} deleted\n`);
}

/** --token for policy writes. */
function tokenOption(): Option {
  return new Option('--token <token>', 'admin token, sent as Authorization: Bearer (needed when the server sets RUNWAY_ADMIN_TOKEN)').env(
    'RUNWAY_ADMIN_TOKEN',
  );
}

async function serveCommand(opts: { port?: number; host?: string }): Promise<void> {
  const overrides: { port?: number; host?: string } = {};
  if (opts.port !== undefined) overrides.port = opts.port;
  if (opts.host !== undefined) overrides.host = opts.host;
  // Loaded only here, so that the other commands never load the server.
  const { serve } = await import('../main.js');
  try {
    await serve(overrides);
  } catch (e) {
    // Whatever it opened before failing (cluster, timers) must not keep the process alive.
    process.exit(reportError(e));
  }
}

const EXAMPLES = `
Examples:
  $ runway serve --port 8000
  $ export RUNWAY_URL=http://localhost:8000 RUNWAY_TENANT=team-a
  $ runway submit --image python:3.12 --cpu 4 --memory-mb 16384 --gpus 2 --timeout-s 1800 -- python train.py
  $ runway submit -f job.yaml --priority 10
  $ runway get job-abc123 --watch
  $ runway list --tenant team-a --status RUNNING
  $ runway estimate --cpu 4 --memory-mb 16384 --gpus 2 --timeout-s 1800 --image python:3.12
  $ runway logs job-abc123 --tail 50
  $ runway cancel job-abc123
  $ runway retry job-abc123
  $ runway queues
  $ runway nodepools
  $ runway apply -f deploy/examples/policies.yaml
  $ runway delete queue training
  $ runway list -o json | jq '.items[].job_id'

Environment:
  RUNWAY_URL          the Runway API (default ${DEFAULT_URL})
  RUNWAY_TENANT       default tenant for submit and estimate
  RUNWAY_ADMIN_TOKEN  admin token for apply and delete (or --token)

Exit codes:
  0  success
  1  the API refused the request or could not be reached; for get --watch, the job did not succeed
  2  usage error (unknown command or option, bad flag value, unreadable spec or policy file)
`;

export function createProgram(): Command {
  const program = new Command('runway');
  program
    .description('Submit, watch and price batch and ML jobs on a shared Kubernetes cluster through Runway.')
    .version(readVersion(), '-V, --version', 'print the version')
    .addOption(new Option('--url <url>', 'Runway API URL').env('RUNWAY_URL').default(DEFAULT_URL))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXAMPLES);

  program
    .command('serve')
    .description('start the Runway server (configured by the environment: PORT, HOST, RUNWAY_CLUSTER, ...)')
    .option('--port <port>', 'port to listen on (overrides PORT)', port)
    .option('--host <host>', 'address to listen on (overrides HOST)')
    .action(serveCommand);

  addSpecOptions(
    program
      .command('submit')
      .description('submit a job from flags and/or a spec file; prints the created job')
      .addHelpText(
        'after',
        `
Examples:
  $ runway submit --tenant team-a --image busybox --cpu 1 --memory-mb 512 --timeout-s 60 -- echo hello
  $ runway submit -f job.yaml --gpus 2 --annotation sim.runway.dev/duration-s=30
  $ cat job.json | runway submit -f - -o json`,
      ),
  ).action(submit);

  program
    .command('get')
    .description('show a job; with --watch, follow it until it finishes')
    .argument('<id>', 'job id')
    .option('-w, --watch', 'poll and print a line each time the status changes; exit when the job is finished')
    .option('--interval <ms>', 'poll interval for --watch, in milliseconds', positiveInteger, 1000)
    .addHelpText(
      'after',
      `
With --watch the exit code is 0 when the job SUCCEEDED and 1 when it ended otherwise
(FAILED, DEADLINE, DEAD_LETTER, CANCELLED); with -o json each change is one JSON object per line.

Examples:
  $ runway get job-abc123
  $ runway get job-abc123 --watch && echo done`,
    )
    .action(get);

  program
    .command('list')
    .description('list jobs, newest first')
    .option('--tenant <id>', 'only this tenant')
    .option('--status <status>', 'only this status (QUEUED, PENDING, RUNNING, SUCCEEDED, FAILED, ...)')
    .option('--queue <queue>', 'only this queue')
    .option('--limit <n>', 'page size', parseNumber)
    .option('--continue <token>', 'the token of the next page')
    .option('-A, --all', 'follow pages until the end')
    .action(list);

  addSpecOptions(
    program
      .command('estimate')
      .description('price a job without running it (same flags as submit)')
      .addHelpText(
        'after',
        `
Example:
  $ runway estimate --image python:3.12 --cpu 4 --memory-mb 16384 --gpus 2 --timeout-s 1800`,
      ),
  ).action(estimate);

  program
    .command('logs')
    .description("print the last lines of a job's current attempt")
    .argument('<id>', 'job id')
    .option('--tail <n>', 'number of lines (server default 100)', parseNumber)
    .action(logs);

  program
    .command('cancel')
    .description('cancel a job: its Job is deleted or it leaves its queue (cancelling again is harmless)')
    .argument('<id>', 'job id')
    .action(cancel);

  program
    .command('retry')
    .description('start a new attempt of a FAILED, DEADLINE or DEAD_LETTER job')
    .argument('<id>', 'job id')
    .action(retry);

  program.command('queues').description('queues: policy, jobs queued, admitted and running, usage').action(queues);

  program
    .command('nodepools')
    .description('node pools: capacity, free room, queued demand, the head job\'s estimated start')
    .action(nodepools);

  program
    .command('apply')
    .description('create or replace queues, compute clusters and tenant policies from a YAML or JSON file')
    .requiredOption('-f, --file <path>', 'policy file: YAML (documents separated by ---) or JSON (an object, an array or a List); "-" reads stdin')
    .addOption(tokenOption())
    .addHelpText(
      'after',
      `
Each document needs apiVersion runway.dev/v1alpha1, a kind (AIJobQueue, ComputeCluster or
TenantPolicy) and metadata.name; the file is checked before anything is sent. Documents are applied
in order, each created or replaced (a line says which); the first one the server refuses stops
the apply, and those before it stay applied. With -o json the stored documents print as a List.

Examples:
  $ runway apply -f deploy/examples/policies.yaml
  $ cat queue.json | runway apply -f - --token "$ADMIN_TOKEN" -o json`,
    )
    .action(apply);

  program
    .command('delete')
    .description('delete a queue, compute cluster or tenant policy')
    .argument('<kind>', 'queue, cluster or tenant (also AIJobQueue, ComputeCluster, TenantPolicy)', parsePolicyKind)
    .argument('<name>', 'object name')
    .addOption(tokenOption())
    .addHelpText(
      'after',
      `
Deleting an object that does not exist is an error (NOT_FOUND, exit 1). Without its object, the
default queue is the implicit direct queue.

Examples:
  $ runway delete queue training
  $ runway delete tenantpolicy team-a --token "$ADMIN_TOKEN"`,
    )
    .action(deletePolicy);

  return program;
}

/** Prints an error the way the CLI promises (no stack traces for expected failures); returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander printed it already
  if (e instanceof UsageError) {
    err(`error: ${e.message}\n`);
    return 2;
  }
  if (e instanceof ApiError) {
    let text = `Error: ${e.message} (${e.code})\n`;
    if (e.retryAfter !== undefined) text += `retry after: ${e.retryAfter} s\n`;
    if (e.requestId !== undefined) text += `request id: ${e.requestId}\n`;
    err(text);
    return 1;
  }
  if (e instanceof ConnectionError) {
    err(`Error: ${e.message}\n`);
    return 1;
  }
  const message = e instanceof Error ? e.message : String(e);
  err(`Error: ${message}\n`);
  if (process.env.RUNWAY_DEBUG && e instanceof Error && e.stack) err(`${e.stack}\n`);
  return 1;
}

export async function run(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}

process.exitCode = await run();
