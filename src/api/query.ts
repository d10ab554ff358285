/** Parsing of query strings and path parameters, with INVALID_REQUEST errors naming the parameter. */
import { errors } from '../core/errors.js';
import { JOB_ID_PATTERN } from '../core/ids.js';
import { DNS_LABEL_PATTERN, LABEL_VALUE_PATTERN } from '../core/job-spec.js';
import { JOB_STATUSES, type JobPhase } from '../core/status.js';

const labelValue = new RegExp(LABEL_VALUE_PATTERN);
const dnsLabel = new RegExp(DNS_LABEL_PATTERN);
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

type Query = Record<string, unknown>;

function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw errors.invalidRequest(name, `query parameter ${name} must be given once`);
  return v;
}

export function parseListQuery(raw: unknown) {
  const q = (raw ?? {}) as Query;
  const known = new Set(['tenant', 'status', 'queue', 'limit', 'continue']);
  for (const key of Object.keys(q)) {
    if (!known.has(key)) throw errors.invalidRequest(key, `unknown query parameter '${key}'; use tenant, status, queue, limit or continue`);
  }
  const tenant = single(q, 'tenant');
  if (tenant !== undefined && !labelValue.test(tenant)) throw errors.invalidRequest('tenant', `invalid tenant '${tenant.slice(0, 80)}'`);
  const status = single(q, 'status');
  if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status)) {
    throw errors.invalidRequest('status', `unknown status '${status.slice(0, 40)}'; one of ${JOB_STATUSES.join(', ')}`);
  }
  const queue = single(q, 'queue');
  if (queue !== undefined && !dnsLabel.test(queue)) throw errors.invalidRequest('queue', `invalid queue '${queue.slice(0, 80)}'`);
  const limitRaw = single(q, 'limit');
  let limit = DEFAULT_PAGE;
  if (limitRaw !== undefined) {
    limit = Number(limitRaw);
    if (!/^\d+$/.test(limitRaw) || limit < 1 || limit > MAX_PAGE) {
      throw errors.invalidRequest('limit', `limit must be an integer from 1 to ${MAX_PAGE}`);
    }
  }
  const after = single(q, 'continue');
  if (after !== undefined && !JOB_ID_PATTERN.test(after)) {
    throw errors.invalidRequest('continue', 'continue must be the token returned by the previous page');
  }
  const out: { tenant?: string; status?: JobPhase; queue?: string; limit: number; after?: string } = { limit };
  if (tenant !== undefined) out.tenant = tenant;
  if (status !== undefined) out.status = status as JobPhase;
  if (queue !== undefined) out.queue = queue;
  if (after !== undefined) out.after = after;
  return out;
}

export function parseTail(raw: unknown): number {
  const q = (raw ?? {}) as Query;
  const t = single(q, 'tail');
  if (t === undefined) return 100;
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < 1 || n > 10_000) throw errors.invalidRequest('tail', 'tail must be an integer from 1 to 10000');
  return n;
}
