import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { createApiKey } from '../prisma/api-keys';
import { DomainError } from '../services/errors';
import { updateQuotaLimit } from '../services/quota-limits';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { event, startTestApi, type TestApi } from './api-test-app';

// Issue 14, point 2: an organization sets its own quota limits through the API (no seed script),
// one default per event type, every change audited, and ingest obeys a change on its next request.

let api: TestApi;
let org: Awaited<ReturnType<typeof createTestOrganization>>;

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('api-quota-limits');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

const path = '/api/v1/quota-limits';
const audit = (entityId: string) => testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityType: 'quota_limit', entityId }, orderBy: { id: 'asc' } });

test('a HARD default set through the API refuses the events past it; raised, it admits them; removed, nothing is limited — each change audited', async () => {
  const created = await api.post(path, org.apiKey, { event_type: 'image_render', mode: 'HARD', limit: '2', reset_window: 'day' });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ event_type: 'image_render', customer_external_id: null, mode: 'HARD', limit: '2', soft_warning_percent: 80, grace_period_seconds: 0, reset_window: 'day' });
  const id: string = created.body.id;

  const send = () => api.post('/api/v1/events', org.apiKey, event(`ql-${randomUUID()}`, { event_type: 'image_render', customer_external_id: 'studio' }));
  expect((await send()).status).toBe(202);
  expect((await send()).status).toBe(202);
  const refused = await send();
  expect(refused.status).toBe(403);
  expect(refused.body).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { limit: '2', current: '2' } });

  const raised = await api.patch(`${path}/${id}`, org.apiKey, { limit: '3' });
  expect(raised.status).toBe(200);
  expect(raised.body).toMatchObject({ id, limit: '3', mode: 'HARD' });
  expect((await send()).status).toBe(202);
  expect((await send()).status).toBe(403);

  const removed = await api.delete(`${path}/${id}`, org.apiKey);
  expect(removed.status).toBe(200);
  expect(removed.body).toMatchObject({ id, limit: '3' });
  expect((await send()).status).toBe(202);
  expect((await api.get(`${path}/${id}`, org.apiKey)).status).toBe(404);
  expect(await testPrisma().quotaCounter.count({ where: { quotaLimitId: id } })).toBe(0);

  const rows = await audit(id);
  expect(rows.map((r) => [r.action, r.actorType, r.actorId])).toEqual([
    ['quota_limit.created', 'api_key', org.apiKeyId],
    ['quota_limit.updated', 'api_key', org.apiKeyId],
    ['quota_limit.deleted', 'api_key', org.apiKeyId],
  ]);
  expect(rows[1]).toMatchObject({ before: expect.objectContaining({ limit: '2' }), after: expect.objectContaining({ limit: '3' }) });
  expect(rows[2]).toMatchObject({ before: expect.objectContaining({ limit: '3', mode: 'HARD', event_type: 'image_render', customer_external_id: null }) });
});

test('one default per event type: a second is a 409 naming the existing one, and the database refuses it too', async () => {
  const first = await api.post(path, org.apiKey, { event_type: 'seat', mode: 'SOFT', limit: '50' });
  expect(first.status).toBe(201);
  const second = await api.post(path, org.apiKey, { event_type: 'seat', mode: 'HARD', limit: '10', customer_external_id: null });
  expect(second.status).toBe(409);
  expect(second.body).toMatchObject({ code: 'ALREADY_EXISTS', details: { field: 'customer_external_id' } });
  expect(second.body.error).toContain(first.body.id);
  // Not only the API: the unique index treats the NULL customer as one value (NULLS NOT DISTINCT).
  await expect(
    testPrisma().quotaLimit.create({ data: { organizationId: org.organizationId, eventType: 'seat', customerExternalId: null, limitValue: 1, mode: 'HARD' } }),
  ).rejects.toThrow(/Unique constraint/);
  // A customer's own limit next to the default is fine, once.
  expect((await api.post(path, org.apiKey, { event_type: 'seat', customer_external_id: 'acme', mode: 'DISABLED' })).status).toBe(201);
  expect((await api.post(path, org.apiKey, { event_type: 'seat', customer_external_id: 'acme', mode: 'HARD', limit: '5' })).status).toBe(409);
  const listed = await api.get(`${path}?event_type=seat`, org.apiKey);
  expect(listed.status).toBe(200);
  const pairs = listed.body.data.map((l: { customer_external_id: string | null; mode: string }) => [l.customer_external_id, l.mode]);
  expect(pairs).toHaveLength(2);
  expect(pairs).toEqual(expect.arrayContaining([['acme', 'DISABLED'], [null, 'SOFT']]));
  const acmeOnly = await api.get(`${path}?customer_external_id=acme`, org.apiKey);
  expect(acmeOnly.body.data).toHaveLength(1);
});

test('bad input is a 400 naming the field; what a limit counts cannot change', async () => {
  const cases: [unknown, string][] = [
    [{ event_type: 'x', mode: 'HARD' }, 'limit'],
    [{ event_type: 'x', mode: 'HARD', limit: '-1' }, 'limit'],
    [{ event_type: 'x', mode: 'HARD', limit: '1.1234567' }, 'limit'],
    [{ event_type: 'x', mode: 'STRICT', limit: '1' }, 'mode'],
    [{ event_type: '', mode: 'SOFT', limit: '1' }, 'event_type'],
    [{ event_type: 'x', mode: 'SOFT', limit: '1', soft_warning_percent: 0 }, 'soft_warning_percent'],
    [{ event_type: 'x', mode: 'SOFT', limit: '1', reset_window: 'week' }, 'reset_window'],
    [{ event_type: 'x', mode: 'SOFT', limit: '1', grace_period_seconds: -5 }, 'grace_period_seconds'],
    [{ event_type: 'x', mode: 'SOFT', limit: '1', colour: 'red' }, 'colour'],
    [{ event_type: 'x\u0000y', mode: 'SOFT', limit: '1' }, 'event_type'],
  ];
  for (const [body, field] of cases) {
    const res = await api.post(path, org.apiKey, body);
    expect([JSON.stringify(body), res.status, res.body.details?.field]).toEqual([JSON.stringify(body), 400, field]);
  }

  const limit = await api.post(path, org.apiKey, { event_type: 'export', mode: 'DISABLED' });
  expect(limit.status).toBe(201);
  expect(limit.body.limit).toBe('0');
  const id = limit.body.id;
  const moved = await api.patch(`${path}/${id}`, org.apiKey, { event_type: 'other' });
  expect(moved.status).toBe(400);
  expect(moved.body.details.field).toBe('event_type');
  expect(moved.body.error).toMatch(/cannot change/);
  expect((await api.patch(`${path}/${id}`, org.apiKey, {})).status).toBe(400);
  // Switched on, a DISABLED limit needs a number to count to.
  const noNumber = await api.patch(`${path}/${id}`, org.apiKey, { mode: 'HARD' });
  expect(noNumber.status).toBe(400);
  expect(noNumber.body).toMatchObject({ code: 'MISSING_FIELD', details: { field: 'limit' } });
  const on = await api.patch(`${path}/${id}`, org.apiKey, { mode: 'HARD', limit: '100', grace_period_seconds: 60 });
  expect(on.status).toBe(200);
  expect(on.body).toMatchObject({ mode: 'HARD', limit: '100', grace_period_seconds: 60 });
  // A form filled from the limit before that change (the web app's edit form sends its updated_at) is refused.
  const stale = updateQuotaLimit(testPrisma(), org.organizationId, id, { limit: '5' }, { type: 'user', id: 'late@example.com' }, { ifUnchangedSince: limit.body.updated_at });
  await expect(stale).rejects.toThrow(DomainError);
  await expect(stale).rejects.toMatchObject({ kind: 'conflict', code: 'CHANGED_MEANWHILE' });
  expect((await api.get(`${path}/${id}`, org.apiKey)).body.limit).toBe('100');
});

test('another organization\'s limits are not there, and a key without the billing scope cannot change them', async () => {
  const other = await createTestOrganization('api-quota-limits-other');
  const mine = await api.post(path, org.apiKey, { event_type: 'private', mode: 'SOFT', limit: '5' });
  expect(mine.status).toBe(201);
  for (const res of [
    await api.get(`${path}/${mine.body.id}`, other.apiKey),
    await api.patch(`${path}/${mine.body.id}`, other.apiKey, { limit: '1' }),
    await api.delete(`${path}/${mine.body.id}`, other.apiKey),
    await api.get(`${path}/not-a-uuid`, org.apiKey),
  ]) {
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('NOT_FOUND');
  }
  expect((await api.get(path, other.apiKey)).body.data).toEqual([]);

  const reader = await createApiKey(testPrisma(), org.organizationId, 'reader', { type: 'system', id: 'test' }, ['read']);
  expect((await api.get(path, reader.key)).status).toBe(200);
  const refused = await api.post(path, reader.key, { event_type: 'y', mode: 'SOFT', limit: '1' });
  expect(refused.status).toBe(403);
  expect(refused.body).toMatchObject({ code: 'INSUFFICIENT_SCOPE', details: { required_scope: 'billing' } });
  expect((await api.get(`${path}/${mine.body.id}`, org.apiKey)).body.limit).toBe('5');
});

test('a HARD limit removed while a request is counted against it: the request is stored, under the limits as they are then', async () => {
  const created = await api.post(path, org.apiKey, { event_type: 'race_render', mode: 'HARD', limit: '10' });
  expect(created.status).toBe(201);
  // Hold the limit's row as a removal does, so the request's counter insert waits on its foreign key…
  const remover = await api.pgPool.connect();
  try {
    await remover.query('BEGIN');
    await remover.query('SELECT id FROM quota_limits WHERE id = $1 FOR UPDATE', [created.body.id]);
    const sent = api.post('/api/v1/events', org.apiKey, event(`race-${randomUUID()}`, { event_type: 'race_render', customer_external_id: 'racer' }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // …then remove it: the request's insert fails its foreign key, and the group is stored again without the limit.
    await remover.query('DELETE FROM quota_limits WHERE id = $1', [created.body.id]);
    await remover.query('COMMIT');
    const res = await sent;
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
  } finally {
    remover.release();
  }
  expect(await testPrisma().quotaCounter.count({ where: { quotaLimitId: created.body.id } })).toBe(0);
});

test('the migration to one default keeps the newest of two defaults, removes the older with its counters, and audits the removal', async () => {
  const sql = fs.readFileSync(join(__dirname, '..', 'prisma', 'migrations', '20261204060000_quota_limit_one_default', 'migration.sql'), 'utf8');
  // The statements as the migration runner splits them; the two that clean up, run against duplicates made possible again.
  const statements = sql.split(';').map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter((s) => s !== '');
  const cleanup = statements.filter((s) => /^(INSERT INTO "audit_logs"|DELETE FROM "quota_limits")/.test(s));
  expect(cleanup).toHaveLength(2);
  const { organizationId } = await createTestOrganization('quota-migration');
  const client = await api.pgPool.connect();
  try {
    await client.query('BEGIN');
    // As before the migration: NULL customers distinct, so two defaults for one event type can exist.
    await client.query('DROP INDEX "quota_limits_organization_id_event_type_customer_external_i_key"');
    await client.query('CREATE UNIQUE INDEX "quota_limits_organization_id_event_type_customer_external_i_key" ON "quota_limits" ("organization_id", "event_type", "customer_external_id")');
    const insert = `INSERT INTO quota_limits (id, organization_id, customer_external_id, event_type, limit_value, mode, created_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, 'HARD', $5) RETURNING id`;
    const older = (await client.query<{ id: string }>(insert, [organizationId, null, 'dup', '100.5', '2026-01-01T00:00:00Z'])).rows[0]!.id;
    const newer = (await client.query<{ id: string }>(insert, [organizationId, null, 'dup', '200', '2026-02-01T00:00:00Z'])).rows[0]!.id;
    const own = (await client.query<{ id: string }>(insert, [organizationId, 'acme', 'dup', '5', '2025-01-01T00:00:00Z'])).rows[0]!.id;
    await client.query(`INSERT INTO quota_counters (id, quota_limit_id, customer_external_id, window_start, used, updated_at) VALUES (gen_random_uuid(), $1, 'x', now(), 1, now())`, [older]);
    for (const statement of cleanup) await client.query(statement);
    const left = await client.query<{ id: string }>('SELECT id FROM quota_limits WHERE organization_id = $1 ORDER BY created_at', [organizationId]);
    expect(left.rows.map((r) => r.id)).toEqual([own, newer]);
    expect((await client.query('SELECT 1 FROM quota_counters WHERE quota_limit_id = $1', [older])).rowCount).toBe(0);
    const audit = await client.query<{ action: string; actor_type: string; entity_id: string; before: Record<string, unknown> }>(
      `SELECT action, actor_type, entity_id, before FROM audit_logs WHERE organization_id = $1 AND entity_type = 'quota_limit'`,
      [organizationId],
    );
    expect(audit.rows).toEqual([
      expect.objectContaining({ action: 'quota_limit.deleted', actor_type: 'system', entity_id: older, before: expect.objectContaining({ limit: '100.5', mode: 'HARD', customer_external_id: null, event_type: 'dup' }) }),
    ]);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});
