import { API_SCOPES, missingScope, parseScopes, scopesFor } from './api-scopes';

describe('API key scopes', () => {
  it('parses a comma list or all, and names an unknown scope', () => {
    expect(parseScopes('read, ingest')).toEqual(['ingest', 'read']);
    expect(parseScopes('all')).toEqual([...API_SCOPES]);
    expect(() => parseScopes('ingest,approve')).toThrow('unknown scope "approve"');
    expect(() => parseScopes(' , ')).toThrow('name at least one');
  });

  it.each([
    ['POST', '/events', ['ingest']],
    ['POST', '/proxy/authorize', ['proxy']],
    ['POST', '/proxy/events', ['proxy']],
    ['GET', '/events', ['read']],
    ['GET', '/batches/7', ['ingest', 'read']],
    ['POST', '/entitlements/check', ['ingest', 'read']],
    ['POST', '/reported-usage', ['ingest']],
    ['POST', '/quotes/price', ['read']],
    ['POST', '/rating/calculate', ['read']],
    ['GET', '/invoices/42', ['read']],
    ['POST', '/invoices/42/approve', ['billing']],
    ['POST', '/invoices/42/credit-notes', ['billing']],
    ['PATCH', '/subscriptions/9', ['billing']],
    ['POST', '/reconciliations', ['billing']],
    ['GET', '/settings/billing', ['admin']],
    ['PATCH', '/settings/alerts', ['admin']],
    ['GET', '/api-keys', ['admin']],
    ['POST', '/api-keys', ['admin']],
    ['DELETE', '/api-keys/5', ['admin']],
    // A path not placed is admin-only: a route added without a scope is never open to every key.
    ['GET', '/something-new', ['admin']],
    ['POST', '/something-new/7', ['admin']],
    // Express matches routes regardless of case: the scope is judged as the router routes it.
    ['PATCH', '/SETTINGS/billing', ['admin']],
    ['GET', '/Settings/billing', ['admin']],
    ['POST', '/%73ettings/alerts', ['admin']],
    ['GET', '/EVENTS', ['read']],
    ['POST', '/Entitlements/CHECK', ['ingest', 'read']],
  ])('%s %s takes %j', (method, path, scopes) => {
    expect(scopesFor(method, path)).toEqual(scopes);
  });

  it('lets a request through with any accepted scope and otherwise names the one it needs', () => {
    expect(missingScope(['ingest'], 'POST', '/events')).toBeNull();
    expect(missingScope(['ingest'], 'POST', '/invoices/1/approve')).toBe('billing');
    expect(missingScope(['read'], 'GET', '/batches/1')).toBeNull();
    expect(missingScope(['billing', 'read'], 'PATCH', '/settings/billing')).toBe('admin');
    expect(missingScope([], 'GET', '/invoices')).toBe('read');
  });
});
