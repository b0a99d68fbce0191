/*
 * What an API key may do. A key carries scopes, set when it is created:
 *
 * - `ingest`: post usage events, read back a request's batch, ask an entitlement check, hold and release credits
 *   (and read a reservation back)
 *   (what an app that meters its usage needs, and all a new key gets unless asked otherwise);
 * - `read`: every GET outside settings, API keys and webhooks, and the calculators (quotes, rating, entitlement checks);
 * - `billing`: finance's writes: invoice decisions, credit notes, customers (and their credit grants), catalog,
 *   credit burn rates, quota limits, vendor rates, subscriptions and plan changes, reconciliations;
 * - `admin`: the organization's settings (its Stripe key and webhook secret, alert channels), its
 *   API keys and its outbound webhook endpoints and deliveries; a route not placed in scopesFor is admin-only, so a new one is never open by mistake;
 * - `proxy`: call the AI proxy (proxy/: OpenAI- and Anthropic-compatible endpoints, each call metered as an event
 *   of the caller's organization); it opens no route of this API.
 *
 * Scopes do not imply one another: a key that approves invoices and reads them has both.
 */

export const API_SCOPES = ['ingest', 'read', 'billing', 'admin', 'proxy'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** A key created without naming its scopes. */
export const DEFAULT_SCOPES: readonly ApiScope[] = ['ingest'];

export function isApiScope(value: string): value is ApiScope {
  return (API_SCOPES as readonly string[]).includes(value);
}

/** `ingest,read` or `all` (every scope) → the scopes, or an error naming the unknown one. */
export function parseScopes(text: string): ApiScope[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'all') return [...API_SCOPES];
  if (names.length === 0) throw new Error(`scopes: name at least one of ${API_SCOPES.join(', ')} (or all)`);
  const unknown = names.find((n) => !isApiScope(n));
  if (unknown !== undefined) throw new Error(`scopes: unknown scope "${unknown}" (expected ${API_SCOPES.join(', ')} or all)`);
  return API_SCOPES.filter((s) => names.includes(s));
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A path segment as the router matches it: Express routes ignore case, so
 * `/SETTINGS/billing` reaches the settings routes and must be judged as them.
 * Percent-escapes are decoded too, in case a router ever matches decoded paths.
 */
function routeSegment(segment: string): string {
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    // A malformed escape matches no route as written; judge the raw text.
  }
  return decoded.toLowerCase();
}

/**
 * The scopes any one of which lets a request through, by method and path
 * under /api/v1 (e.g. `/invoices/42/approve`).
 */
export function scopesFor(method: string, path: string): readonly ApiScope[] {
  const m = method.toUpperCase();
  const [first = '', second = ''] = path.split('/').filter((p) => p !== '').map(routeSegment);
  const reads = READ_METHODS.has(m);
  switch (first) {
    case 'events':
      return reads ? ['read'] : ['ingest'];
    // The AI proxy asks before each call, and posts each call's event (with its own token beside the caller's key).
    case 'proxy':
      return ['proxy'];
    case 'batches':
      return ['ingest', 'read'];
    case 'entitlements':
      return second === 'check' ? ['ingest', 'read'] : reads ? ['read'] : ['billing'];
    // Apps hold credits before an expensive call, and release them when they do not make it.
    case 'credits':
      if (second === 'reservations') return reads ? ['ingest', 'read'] : ['ingest'];
      // Buying credits charges the customer's card: finance's.
      if (second === 'top-ups') return reads ? ['read'] : ['billing'];
      return ['admin'];
    // Apps report their own usage counts for leak detection.
    case 'reported-usage':
      return ['ingest'];
    // Calculators: they change nothing.
    case 'quotes':
      return ['read'];
    case 'rating':
      return second === 'calculate' || reads ? ['read'] : ['billing'];
    case 'meters':
    case 'quota-limits':
    case 'vendor-rates':
    case 'providers':
    case 'unpriced-events':
    case 'plans':
    case 'credit-burn-rates':
    case 'customers':
    case 'subscriptions':
    case 'revenue':
    case 'margins':
    case 'invoices':
    case 'reconciliations':
      return reads ? ['read'] : ['billing'];
    // The organization's secrets and its keys.
    case 'settings':
    case 'api-keys':
      return ['admin'];
    // Whatever is not placed above: a new route is admin-only until it is (and a path no route serves
    // is a 403 to a key without admin, a 404 to one with it).
    default:
      return ['admin'];
  }
}

/** The scope a caller lacks for this request (the first one the route accepts), or null when it may go on. */
export function missingScope(granted: readonly string[], method: string, path: string): ApiScope | null {
  const accepted = scopesFor(method, path);
  return accepted.some((s) => granted.includes(s)) ? null : accepted[0]!;
}
