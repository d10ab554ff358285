/** Maps what @kubernetes/client-node throws to the port's ClusterError kinds. */
import { ApiException } from '@kubernetes/client-node';
import { ClusterError } from '../types.js';

function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      return parsed.message ?? body.slice(0, 300);
    } catch {
      return body.slice(0, 300);
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return undefined;
}

export function toClusterError(err: unknown, what: string): ClusterError {
  if (err instanceof ClusterError) return err;
  // Typed calls throw ApiException; a watch request refused by the server throws an Error with statusCode.
  const watchStatus = err instanceof Error ? (err as { statusCode?: unknown }).statusCode : undefined;
  if (err instanceof ApiException || typeof watchStatus === 'number') {
    const code = err instanceof ApiException ? err.code : (watchStatus as number);
    const detail = err instanceof ApiException ? statusMessage(err.body) : `${(err as Error).message} (HTTP ${code})`;
    const msg = `${what}: ${detail ?? `HTTP ${code}`}`;
    if (code === 404) return new ClusterError('NotFound', msg);
    if (code === 409) {
      return new ClusterError(/already exists/i.test(msg) ? 'AlreadyExists' : 'Conflict', msg);
    }
    if (code === 400 || code === 422) return new ClusterError('Invalid', msg);
    if (code === 401 || code === 403) return new ClusterError('Forbidden', msg);
    return new ClusterError('Unavailable', msg); // 429, 5xx
  }
  const e = err as { code?: string; message?: string; name?: string };
  return new ClusterError('Unavailable', `${what}: ${e.code ?? e.name ?? 'error'} ${e.message ?? String(err)}`.trim());
}
