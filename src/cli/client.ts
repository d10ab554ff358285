/**
 * A small HTTP client for the Runway API (global fetch). It turns every failure into one of two errors
 * the CLI knows how to print: ApiError (the server answered with its error shape, or something else
 * that is not a success) and ConnectionError (nothing answered).
 */

/** The server answered with an error. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    readonly details: Record<string, unknown> = {},
    readonly retryAfter: string | undefined = undefined,
  ) {
    super(message);
  }
}

/** Nothing answered at the URL (refused, unknown host, timed out). */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';

  constructor(
    readonly url: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  /** Answer with the body as text instead of parsing JSON. */
  text?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

interface ErrorShape {
  error?: { code?: unknown; message?: unknown; details?: unknown };
  request_id?: unknown;
}

function errorFrom(status: number, statusText: string, text: string, headers: Headers): ApiError {
  const requestId = headers.get('x-request-id') ?? undefined;
  const retryAfter = headers.get('retry-after') ?? undefined;
  let parsed: ErrorShape | undefined;
  try {
    parsed = JSON.parse(text) as ErrorShape;
  } catch {
    parsed = undefined;
  }
  const e = parsed?.error;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    const details = e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {};
    const rid = typeof parsed?.request_id === 'string' ? parsed.request_id : requestId;
    return new ApiError(status, e.code, e.message, rid, details, retryAfter);
  }
  // Not Runway's error shape (a proxy, a wrong URL): show what came back, briefly.
  const snippet = text.trim().replace(/\s+/g, ' ').slice(0, 200);
  const message = `HTTP ${status}${statusText ? ` ${statusText}` : ''}${snippet ? `: ${snippet}` : ''}`;
  return new ApiError(status, `HTTP_${status}`, message, requestId, {}, retryAfter);
}

export class RunwayClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: opts.text ? 'text/plain' : 'application/json', ...opts.headers };
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(this.timeoutMs) };
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }

    let res: Response;
    let text: string;
    try {
      res = await fetch(url, init);
      text = await res.text();
    } catch (err) {
      throw this.connectionError(err);
    }
    if (!res.ok) throw errorFrom(res.status, res.statusText, text, res.headers);
    // 204 No Content (a policy DELETE) has no body to parse.
    if (res.status === 204) return { status: res.status, body: undefined as T, headers: res.headers };
    if (opts.text) return { status: res.status, body: text as T, headers: res.headers };
    try {
      return { status: res.status, body: JSON.parse(text) as T, headers: res.headers };
    } catch {
      throw new ApiError(res.status, 'BAD_RESPONSE', `the server at ${this.baseUrl} did not answer with JSON (is RUNWAY_URL right?)`, res.headers.get('x-request-id') ?? undefined);
    }
  }

  get<T>(path: string, opts?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, opts);
  }

  post<T>(path: string, body: unknown, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, { ...opts, body });
  }

  put<T>(path: string, body: unknown, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('PUT', path, { ...opts, body });
  }

  delete<T>(path: string, opts?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('DELETE', path, opts);
  }

  private connectionError(err: unknown): ConnectionError {
    const name = (err as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new ConnectionError(this.baseUrl, `Runway at ${this.baseUrl} did not answer within ${this.timeoutMs / 1000} s`);
    }
    return new ConnectionError(this.baseUrl, `cannot reach Runway at ${this.baseUrl} (is it running? set RUNWAY_URL)`);
  }
}
