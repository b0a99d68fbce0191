import type { ProxyVendor } from '../services/proxy-upstreams';

/*
 * Errors the proxy answers itself, in the vendor's own format, so the official clients raise their usual
 * exceptions with our message (openai: APIError with .error.code; @anthropic-ai/sdk: APIError with .error.type).
 */

const OPENAI_TYPES: Record<number, string> = { 400: 'invalid_request_error', 401: 'invalid_request_error', 403: 'invalid_request_error', 404: 'invalid_request_error', 405: 'invalid_request_error', 413: 'invalid_request_error', 429: 'insufficient_quota' };
const ANTHROPIC_TYPES: Record<number, string> = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 405: 'invalid_request_error', 413: 'request_too_large', 429: 'rate_limit_error', 504: 'timeout_error' };

export function vendorError(vendor: ProxyVendor, status: number, message: string, code: string): unknown {
  if (vendor === 'anthropic') return { type: 'error', error: { type: ANTHROPIC_TYPES[status] ?? 'api_error', message } };
  return { error: { message, type: OPENAI_TYPES[status] ?? 'server_error', param: null, code } };
}
