import { randomUUID } from 'node:crypto';
import { API_SCOPES, scopesFor, type ApiScope } from '../prisma/api-scopes';
import { createApiKey, setApiKeyScopes } from '../prisma/api-keys';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, startTestApi, type TestApi } from './api-test-app';

/** Scoped API keys (api/scopes.ts): each route group answers 403 naming the scope it needs, and lets a key with it through. */
let api: TestApi;
let organizationId: string;
const keys = {} as Record<ApiScope | 'fresh', { id: string; key: string }>;

beforeAll(async () => {
  // Keys are looked up afresh on every request, so a scope change applies to the next one.
  api = await startTestApi({ apiKeyCacheMs: 0 });
  ({ organizationId } = await createTestOrganization('api-scopes'));
  const actor = { type: 'system', id: 'test' } as const;
  for (const scope of API_SCOPES) keys[scope] = await createApiKey(testPrisma(), organizationId, `${scope} only`, actor, [scope]);
  keys.fresh = await createApiKey(testPrisma(), organizationId, 'made without scopes', actor);
});
afterAll(async () => {
  await api?.close();
  await closeTestPrisma();
});

const refusedFor = (scope: ApiScope) => ({ status: 403, body: expect.objectContaining({ code: 'INSUFFICIENT_SCOPE', details: { required_scope: scope } }) });

describe('scoped API keys', () => {
  it('gives a key made without naming scopes ingest only', async () => {
    const stored = await testPrisma().apiKey.findUniqueOrThrow({ where: { id: keys.fresh.id } });
    expect(stored.scopes).toEqual(['ingest']);
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, entityId: keys.fresh.id, action: 'api_key.created' } });
    expect(audit.after).toMatchObject({ scopes: ['ingest'] });
  });

  it('ingest: posts events, reads its batch back and asks entitlement checks, and nothing else', async () => {
    const key = keys.ingest.key;
    const posted = await api.post('/api/v1/events', key, event(`scoped-${randomUUID()}`));
    expect(posted.status).toBe(202);
    const batchId = (posted.body as { batch_id: string }).batch_id;
    expect((await api.get(`/api/v1/batches/${batchId}`, key)).status).toBe(200);
    const check = await api.post('/api/v1/entitlements/check', key, { customer_id: 'acme', event_type: 'api_call', quantity: 1 });
    expect(check.status).not.toBe(403);

    expect(await api.get('/api/v1/invoices', key)).toMatchObject(refusedFor('read'));
    expect(await api.get('/api/v1/events', key)).toMatchObject(refusedFor('read'));
    expect(await api.post(`/api/v1/invoices/${randomUUID()}/approve`, key, {})).toMatchObject(refusedFor('billing'));
    expect(await api.post('/api/v1/customers', key, { external_id: 'x' })).toMatchObject(refusedFor('billing'));
    expect(await api.get('/api/v1/settings/billing', key)).toMatchObject(refusedFor('admin'));
    const settings = await api.patch('/api/v1/settings/billing', key, { stripe_webhook_secret: 'whsec_forged' });
    expect(settings).toMatchObject(refusedFor('admin'));
    expect((settings.body as { error: string }).error).toMatch(/lacks the "admin" scope, which PATCH \/api\/v1\/settings\/billing needs \(it has: ingest\)/);
  });

  it('read: reads and calculates, but neither posts events nor decides', async () => {
    const key = keys.read.key;
    expect((await api.get('/api/v1/invoices', key)).status).toBe(200);
    expect((await api.get('/api/v1/events', key)).status).toBe(200);
    expect((await api.post('/api/v1/quotes/price', key, {})).status).not.toBe(403);
    // Through the ingest fast lane (plain JSON) and through Express (a charset parameter) alike.
    expect(await api.post('/api/v1/events', key, event(`scoped-${randomUUID()}`))).toMatchObject(refusedFor('ingest'));
    expect(await api.post('/api/v1/events', key, event(`scoped-${randomUUID()}`), { 'content-type': 'application/json; charset=utf-8' })).toMatchObject(refusedFor('ingest'));
    expect(await api.post(`/api/v1/invoices/${randomUUID()}/approve`, key, {})).toMatchObject(refusedFor('billing'));
  });

  it('billing: reaches finance routes (an unknown invoice is a 404, not a 403) but not settings', async () => {
    const key = keys.billing.key;
    expect((await api.post(`/api/v1/invoices/${randomUUID()}/approve`, key, {})).status).toBe(404);
    expect(await api.get('/api/v1/settings/billing', key)).toMatchObject(refusedFor('admin'));
    expect(await api.get('/api/v1/invoices', key)).toMatchObject(refusedFor('read'));
    // The router matches paths regardless of case; the scope check must too.
    expect(await api.patch('/api/v1/SETTINGS/billing', key, { stripe_webhook_secret: 'whsec_forged' })).toMatchObject(refusedFor('admin'));
    expect(await api.get('/api/v1/Settings/Billing', key)).toMatchObject(refusedFor('admin'));
    const org = await testPrisma().organization.findUniqueOrThrow({ where: { id: organizationId } });
    expect(org.stripeWebhookSecretEnc).toBeNull();
  });

  it('admin: changes settings; scopes do not imply one another', async () => {
    const key = keys.admin.key;
    expect((await api.get('/api/v1/settings/billing', key)).status).toBe(200);
    expect(await api.post('/api/v1/events', key, event(`scoped-${randomUUID()}`))).toMatchObject(refusedFor('ingest'));
  });

  it('applies a scope change to the next request, audited', async () => {
    const key = keys.fresh;
    expect(await api.get('/api/v1/invoices', key.key)).toMatchObject(refusedFor('read'));
    expect(await setApiKeyScopes(testPrisma(), organizationId, key.id, ['ingest', 'read'], { type: 'system', id: 'test' })).toBe(true);
    expect((await api.get('/api/v1/invoices', key.key)).status).toBe(200);
    const audit = await testPrisma().auditLog.findFirstOrThrow({ where: { organizationId, entityId: key.id, action: 'api_key.scopes_set' } });
    expect([audit.before, audit.after]).toEqual([{ scopes: ['ingest'] }, { scopes: ['ingest', 'read'] }]);
  });

  it('admin: manages the organization\'s keys through the API, each change audited as made by the calling key', async () => {
    const admin = keys.admin;
    // Another scope cannot even list them.
    expect(await api.get('/api/v1/api-keys', keys.billing.key)).toMatchObject(refusedFor('admin'));
    expect(await api.post('/api/v1/api-keys', keys.ingest.key, { name: 'escalate', scopes: ['admin'] })).toMatchObject(refusedFor('admin'));

    const made = await api.post('/api/v1/api-keys', admin.key, { name: 'reporting' });
    expect(made.status).toBe(201);
    const created = made.body as { id: string; key: string; prefix: string; scopes: string[]; revoked_at: string | null };
    expect(created).toMatchObject({ name: 'reporting', scopes: ['ingest'], revoked_at: null });
    expect(created.key.startsWith(created.prefix)).toBe(true);
    // The secret is answered once: the list shows no key.
    const listed = (await api.get('/api/v1/api-keys', admin.key)).body as { data: Record<string, unknown>[] };
    expect(listed.data.find((k) => k.id === created.id)).toEqual(expect.not.objectContaining({ key: expect.anything() }));
    expect(JSON.stringify(listed)).not.toContain(created.key);
    // The new key works, as ingest only.
    expect(await api.get('/api/v1/invoices', created.key)).toMatchObject(refusedFor('read'));

    const widened = await api.patch(`/api/v1/api-keys/${created.id}`, admin.key, { scopes: ['read', 'ingest'] });
    expect(widened).toMatchObject({ status: 200, body: { id: created.id, scopes: ['ingest', 'read'] } });
    expect((await api.get('/api/v1/invoices', created.key)).status).toBe(200);
    const badScope = await api.patch(`/api/v1/api-keys/${created.id}`, admin.key, { scopes: ['approve'] });
    expect(badScope).toMatchObject({ status: 400, body: { details: { field: 'scopes.0' } } });
    const noScopes = await api.post('/api/v1/api-keys', admin.key, { name: 'nothing', scopes: [] });
    expect(noScopes).toMatchObject({ status: 400, body: { details: { field: 'scopes' } } });

    const revoked = await api.delete(`/api/v1/api-keys/${created.id}`, admin.key);
    expect(revoked).toMatchObject({ status: 200, body: { id: created.id, revoked_at: expect.any(String) } });
    expect((await api.get('/api/v1/invoices', created.key)).status).toBe(401);
    expect((await api.delete(`/api/v1/api-keys/${created.id}`, admin.key)).status).toBe(404);
    expect((await api.patch(`/api/v1/api-keys/${randomUUID()}`, admin.key, { scopes: ['read'] })).status).toBe(404);

    const audit = await testPrisma().auditLog.findMany({ where: { organizationId, entityId: created.id }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => [a.action, a.actorType, a.actorId])).toEqual([
      ['api_key.created', 'api_key', admin.id],
      ['api_key.scopes_set', 'api_key', admin.id],
      ['api_key.revoked', 'api_key', admin.id],
    ]);
  });

  it('the OpenAPI document names the scope of every /api/v1 operation, as the API enforces it', async () => {
    const doc = (await api.get('/api/openapi.json', null)).body as { paths: Record<string, Record<string, { security?: { bearerAuth: string[] }[]; responses: Record<string, unknown> }>> };
    const operations = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v1/'))
      .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
    expect(operations.length).toBeGreaterThan(30);
    for (const { path, method, op } of operations) {
      const documented = (op.security ?? []).map((r) => r.bearerAuth).flat();
      expect({ path, method, documented }).toEqual({ path, method, documented: [...scopesFor(method, path.slice('/api/v1'.length))] });
      expect(op.responses).toHaveProperty('403');
    }
    expect(doc.paths['/api/v1/settings/alerts']!.patch!.security).toEqual([{ bearerAuth: ['admin'] }]);
    expect(doc.paths['/api/v1/batches/{id}']!.get!.security).toEqual([{ bearerAuth: ['ingest'] }, { bearerAuth: ['read'] }]);
    expect(doc.paths['/api/v1/api-keys']!.post!.security).toEqual([{ bearerAuth: ['admin'] }]);
    // And the API does what it documents: a key with only the first documented scope of a write is let through the scope check.
    const key = keys.billing.key;
    expect((await api.post('/api/v1/reconciliations', key, {})).status).toBe(400);
  });

  it('enforces on every documented /api/v1 operation what the document says: 403 naming the scope without it, through with it', async () => {
    const doc = (await api.get('/api/openapi.json', null)).body as { paths: Record<string, Record<string, { security: { bearerAuth: string[] }[] }>> };
    const refusedWrongly: string[] = [];
    for (const [template, item] of Object.entries(doc.paths)) {
      if (!template.startsWith('/api/v1/')) continue;
      // Path parameters: an id no row has (the request stops at a 404 or a 400 after the scope check).
      const path = template.replace(/\{[^}]+\}/g, randomUUID());
      for (const [method, op] of Object.entries(item)) {
        const accepted = op.security.map((r) => r.bearerAuth[0]!) as ApiScope[];
        for (const scope of API_SCOPES) {
          const body = method === 'get' ? undefined : {};
          const res = await fetch(api.base + path, {
            method: method.toUpperCase(),
            headers: { authorization: `Bearer ${keys[scope].key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            body: body ? JSON.stringify(body) : undefined,
          });
          const answer = (await res.json().catch(() => ({}))) as { code?: string; details?: { required_scope?: string } };
          const refused = res.status === 403 && answer.code === 'INSUFFICIENT_SCOPE';
          if (refused !== !accepted.includes(scope) || (refused && answer.details?.required_scope !== accepted[0])) {
            refusedWrongly.push(`${method.toUpperCase()} ${template} with ${scope}: ${res.status} ${answer.code ?? ''}`);
          }
        }
      }
    }
    expect(refusedWrongly).toEqual([]);
  });
});
