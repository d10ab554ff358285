/** Human output for the CLI: aligned tables, key/value views, money, memory and ages. Pure functions. */
import type { JobView } from '../api/views.js';
import type { PoolView, QueueView } from '../controller/scheduling-loop.js';
import type { CostEstimate } from '../core/cost.js';
import type { PolicyKind } from '../core/policy.js';

/** Statuses after which nothing more happens to a job unless a user retries it. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'DEADLINE', 'DEAD_LETTER', 'CANCELLED']);

/** Columns separated by two spaces, each as wide as its widest cell; no trailing spaces. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `Key:  value` lines with the values aligned; entries with an undefined value are left out. */
export function keyValue(entries: readonly (readonly [string, string | undefined])[]): string {
  const shown = entries.filter((e): e is readonly [string, string] => e[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length + 1));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v}`.trimEnd()).join('\n') + '\n';
}

/** Dollars with every significant digit (amounts are whole micro-dollars), at least two decimals: $1.5264, $0.50. */
export function usd(amount: number): string {
  let s = amount.toFixed(6).replace(/0+$/, '');
  const decimals = s.length - s.indexOf('.') - 1;
  if (decimals < 2) s += '0'.repeat(2 - decimals);
  return `$${s}`;
}

/** Digits after the point that show every amount exactly (2 to 6). */
function decimalsFor(amounts: readonly number[]): number {
  return Math.max(2, ...amounts.map((a) => usd(a).length - usd(a).indexOf('.') - 1));
}

/** The cost breakdown of an estimate, amounts aligned on the decimal point. */
export function costBreakdown(cost: CostEstimate): string {
  const parts: [string, number][] = [
    ['cpu', cost.cpu],
    ['memory', cost.memory],
    ['gpu', cost.gpu],
    ['total', cost.total],
  ];
  const decimals = decimalsFor(parts.map(([, v]) => v));
  const amounts = parts.map(([, v]) => v.toFixed(decimals));
  const width = Math.max(...amounts.map((a) => a.length));
  const basis = cost.basis === 'timeout_s' ? 'if the job runs for its whole timeout' : `basis: ${cost.basis}`;
  return (
    `Estimated cost (${cost.currency}, ${basis}):\n` +
    parts.map(([name], i) => `  ${name.padEnd(6)}  ${(amounts[i] ?? '').padStart(width)}`).join('\n') +
    '\n'
  );
}

/** Memory in MiB as Kubernetes writes it: 16Gi, 512Mi. */
export function memory(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024}Gi` : `${mb}Mi`;
}

/** How long ago, the way kubectl says it: 45s, 3m, 2h, 4d. */
export function age(since: string | undefined, now: number = Date.now()): string {
  const t = since ? Date.parse(since) : NaN;
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** The table `submit` prints. */
export function submittedTable(job: JobView): string {
  return table(['JOB ID', 'TENANT', 'STATUS', 'GPUS', 'EST. COST'], [[job.job_id, job.tenant_id, job.status, String(job.spec.gpu_count), usd(job.estimated_cost.total)]]);
}

/** The table `list` prints. */
export function jobsTable(jobs: readonly JobView[], now: number = Date.now()): string {
  return table(
    ['JOB ID', 'TENANT', 'STATUS', 'REASON', 'GPUS', 'CPU', 'MEMORY', 'AGE', 'EST. COST'],
    jobs.map((j) => [
      j.job_id,
      j.tenant_id,
      j.status,
      j.reason ?? '-',
      String(j.spec.gpu_count),
      String(j.spec.cpu),
      memory(j.spec.memory_mb),
      age(j.created_at, now),
      usd(j.estimated_cost.total),
    ]),
  );
}

/** The key/value view `get` prints. */
export function jobDetails(job: JobView): string {
  const s = job.spec;
  const c = job.estimated_cost;
  const resources = [
    `cpu ${s.cpu}`,
    `memory ${memory(s.memory_mb)}`,
    `gpus ${s.gpu_count}`,
    ...(s.replicas !== 1 ? [`replicas ${s.replicas}`] : []),
    `timeout ${s.timeout_s}s`,
  ].join(', ');
  return keyValue([
    ['Job ID', job.job_id],
    ['Name', job.name],
    ['Tenant', job.tenant_id],
    ['Status', job.status],
    ['Reason', job.reason],
    ['Exit code', job.exit_code === undefined ? undefined : String(job.exit_code)],
    ['Attempt', `${job.attempt} (pods started: ${job.attempts})`],
    ['Failures', job.failures ? String(job.failures) : undefined],
    ['Preemptions', job.preemptions ? String(job.preemptions) : undefined],
    ['Queue', `${job.queue} (priority ${job.priority})`],
    ['Position', job.queue_position === undefined ? undefined : `${job.queue_position} in queue ${job.queue}`],
    ['Waiting', job.pending_reason],
    ['Est. start', job.estimated_start],
    ['Next attempt', job.next_attempt_at],
    ['Pool', job.pool],
    ['Image', s.image],
    ['Command', s.command?.length ? s.command.join(' ') : undefined],
    ['Resources', resources],
    ['Created', job.created_at || undefined],
    ['Started', job.started_at],
    ['Finished', job.finished_at],
    ['Est. cost', `${usd(c.total)} (cpu ${usd(c.cpu)}, memory ${usd(c.memory)}, gpu ${usd(c.gpu)})`],
    ['Message', job.message],
  ]);
}

/** One line of `get --watch`: the job and its new status, with why when known. */
export function statusLine(job: JobView): string {
  let line = `${job.job_id}  ${job.status}`;
  if (job.reason) line += `  ${job.reason}`;
  if (job.exit_code !== undefined) line += `  exit ${job.exit_code}`;
  if (job.queue_position !== undefined) line += `  #${job.queue_position}`;
  if (job.pending_reason) line += `  ${job.pending_reason}`;
  else if (job.message) line += `  ${job.message}`;
  return line + '\n';
}

const amounts = (a: { cpu: number; memory_mb: number; gpu: number }) => `${round(a.cpu)} / ${memory(a.memory_mb)} / ${a.gpu}`;
const round = (n: number) => String(Math.round(n * 1000) / 1000);

/** The table `queues` prints. */
export function queuesTable(queues: readonly QueueView[]): string {
  return table(
    ['QUEUE', 'ADMISSION', 'PRIORITY', 'PREEMPTION', 'MAX', 'QUEUED', 'ADMITTED', 'RUNNING', 'USAGE CPU / MEM / GPU'],
    queues.map((q) => [
      q.name,
      q.admission,
      String(q.priority),
      q.preemption_policy,
      q.max_concurrency === undefined ? '-' : String(q.max_concurrency),
      String(q.queued),
      String(q.admitted),
      String(q.running),
      amounts(q.usage),
    ]),
  );
}

/** The table `nodepools` prints. */
export function poolsTable(pools: readonly PoolView[], now: number = Date.now()): string {
  return table(
    ['POOL', 'NODES', 'CAPACITY CPU / MEM / GPU', 'FREE CPU / MEM / GPU', 'RUNNING', 'QUEUED', 'HEAD ETA', 'EXHAUSTED'],
    pools.map((p) => {
      const eta = p.head_job?.estimated_start ? Date.parse(p.head_job.estimated_start) : NaN;
      return [
        p.name,
        String(p.nodes),
        amounts(p.capacity),
        amounts(p.free),
        String(p.running_jobs),
        String(p.queued_jobs),
        Number.isFinite(eta) ? `in ${Math.max(0, Math.ceil((eta - now) / 60_000))} min` : '-',
        p.exhausted ? 'yes' : 'no',
      ];
    }),
  );
}

/** How a policy object is named in output, as kubectl does: aijobqueue/training. */
export function policyRef(kind: PolicyKind, name: string): string {
  return `${kind.toLowerCase()}/${name}`;
}

/** Pretty JSON for a single document. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
