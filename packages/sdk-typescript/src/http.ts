import type { paths } from './generated/openapi';

/** The JSON body of a request or response object in the generated OpenAPI types. */
type JsonOf<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;

/** What `POST|PUT|PATCH path` takes, from the API's OpenAPI document. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody?: infer R } ? JsonOf<NonNullable<R>> : never;

/** What `method path` answers with `status`, from the API's OpenAPI document. */
export type ResponseBody<P extends keyof paths, M extends keyof paths[P], S extends number = 200> = paths[P][M] extends { responses: infer R }
  ? S extends keyof R
    ? JsonOf<R[S]>
    : never
  : never;

/** An answer of the API that is not a success: its status, stable code and details (README, "Errors"). */
export class LedgerflowError extends Error {
  override readonly name = 'LedgerflowError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    /** seconds the API asked to wait (Retry-After), when it said */
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message);
  }

  /** Worth sending again unchanged: throttled, the API or its database overloaded or away. A 4xx otherwise is the request's fault. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export interface HttpOptions {
  apiKey: string;
  baseUrl: string;
  /** one request's time limit */
  timeoutMs: number;
  fetch: typeof fetch;
}

export interface Answer<T> {
  status: number;
  body: T;
}

/** One call to the API: JSON in and out, the key as a bearer token, every failure a LedgerflowError (status 0: no answer). */
export async function call<T>(options: HttpOptions, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const url = `${options.baseUrl.replace(/\/+$/, '')}${path}`;
  let response: Response;
  let text: string;
  try {
    response = await options.fetch(url, {
      method,
      headers: { authorization: `Bearer ${options.apiKey}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    text = await response.text();
  } catch (err) {
    // No answer, or one cut off mid-body: either way nothing to read, and worth sending again.
    const reason = err instanceof Error ? err.message : String(err);
    throw new LedgerflowError(0, 'NETWORK_ERROR', `${method} ${url} got no answer: ${reason}`, undefined, undefined);
  }
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (response.ok) {
    // A success that is not JSON came from something other than the API (a proxy page): not an answer.
    if (parsed === undefined || parsed === null || typeof parsed !== 'object') {
      throw new LedgerflowError(0, 'INVALID_RESPONSE', `${method} ${url} answered ${response.status} with no JSON body: ${text.slice(0, 200)}`, undefined, undefined);
    }
    return { status: response.status, body: parsed as T };
  }
  const error = (parsed ?? {}) as { error?: unknown; code?: unknown; details?: unknown };
  const retryAfter = Number(response.headers.get('retry-after'));
  throw new LedgerflowError(
    response.status,
    typeof error.code === 'string' ? error.code : `HTTP_${response.status}`,
    typeof error.error === 'string' ? error.error : `${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`,
    error.details,
    Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
  );
}
