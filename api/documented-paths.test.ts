import { DocumentedPaths } from './documented-paths';

const paths = new DocumentedPaths(() => ({
  paths: {
    '/api/v1/invoices': { get: {} },
    '/api/v1/invoices/{id}': { get: {} },
    '/api/v1/invoices/{id}/approve': { post: {} },
    '/api/v1/settings/billing': { get: {}, patch: {} },
    '/webhooks/stripe': { post: {} },
  },
}));

describe('DocumentedPaths', () => {
  it('names the template a path is counted under, case-insensitively, with a trailing slash or not', () => {
    expect(paths.routeOf('/api/v1/invoices')).toBe('/api/v1/invoices');
    expect(paths.routeOf('/api/v1/invoices/9f1c')).toBe('/api/v1/invoices/{id}');
    expect(paths.routeOf('/API/V1/Invoices/9f1c/approve/')).toBe('/api/v1/invoices/{id}/approve');
  });

  it('counts a path the document does not have as "other", so callers cannot grow the label set', () => {
    expect(paths.routeOf('/api/v1/invoices/9f1c/nope')).toBe('other');
    expect(paths.routeOf('/wp-admin.php')).toBe('other');
  });

  it('gives each path its methods, HEAD beside GET', () => {
    expect(paths.matching('/api/v1/settings/billing').flatMap((p) => p.methods)).toEqual(['GET', 'PATCH', 'HEAD']);
    expect(paths.matching('/webhooks/stripe').flatMap((p) => p.methods)).toEqual(['POST']);
  });
});
