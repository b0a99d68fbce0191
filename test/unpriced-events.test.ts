import fs from 'node:fs';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import { createApiKey } from '../prisma/api-keys';
import { startTestApi, type TestApi } from './api-test-app';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma, uniqueTaskQueue } from './harness/fixtures';
import { RecordingNotifier } from './harness/ingest-worker';
import { insertBatch } from './harness/insert-batch';

// Issue 14, point 1: events whose vendor usage had no rate are listed with why, and re-rated once a rate prices
// them — a rate added for the time before the model had one — only adding what was missing, once, audited.

let api: TestApi;
const activities = createActivities({ prisma: testPrisma(), pool: testPool(), taskQueue: uniqueTaskQueue('unused'), notifier: new RecordingNotifier() });
const DAY = 86_400_000;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

interface Listed {
  summary: { vendor: string; model: string; events: number; lines: number; priceable_now: number }[];
  data: { id: string; cost: string | null; unpriced: { line: unknown; reason: string; detail: string; priceable_now: boolean }[] }[];
}

test('unpriced lines are listed with their reason; after a rate fills the time before the first one, a re-rate prices them once and audits each event', async () => {
  const prisma = testPrisma();
  const org = await createTestOrganization('unpriced-events');
  const gpt = { vendor: 'openai', model: 'gpt-4o' };
  const current = await api.post('/api/v1/vendor-rates', org.apiKey, { ...gpt, input_per_million_tokens: '2.50', output_per_million_tokens: '10' });
  expect(current.status).toBe(201);
  const yesterday = new Date(Date.now() - DAY).toISOString();
  const now = new Date(Date.now() + 1000).toISOString();
  const mistral = { vendor: 'mistral', model: 'large', input_tokens: 10, output_tokens: 10 };
  const withImages = { ...gpt, input_tokens: 100, images: 2 };
  const batch = await insertBatch(prisma, org.organizationId, [
    // Before gpt-4o had a rate.
    { customerExternalId: 'acme', timestamp: yesterday, vendorUsage: [{ ...gpt, input_tokens: 1_000_000, output_tokens: 1_000 }] },
    { customerExternalId: 'acme', timestamp: yesterday, vendorUsage: [{ ...gpt, input_tokens: 2_000, output_tokens: 0 }, mistral] },
    // Under the current rate, which has no price for images; and a line of the wrong shape.
    { customerExternalId: 'acme', timestamp: now, vendorUsage: [{ ...gpt, input_tokens: 1_000_000, output_tokens: 0 }, withImages] },
    { customerExternalId: 'acme', timestamp: now, vendorUsage: ['text'] },
    // Priced in full.
    { customerExternalId: 'acme', timestamp: now, vendorUsage: [{ ...gpt, input_tokens: 1, output_tokens: 1 }] },
  ]);
  const [before1, before2, images, malformed, priced] = batch.eventIds as [string, string, string, string, string];
  await new MockActivityEnvironment({ workflowExecution: { workflowId: `ingest:${batch.batchId}`, runId: 'run' } }).run(activities.rateEvents, {
    batchId: batch.batchId,
    organizationId: org.organizationId,
  });
  expect((await prisma.usageEvent.findUniqueOrThrow({ where: { id: images } })).cost?.toFixed()).toBe('2.5');

  const listed = await api.get('/api/v1/unpriced-events', org.apiKey);
  expect(listed.status).toBe(200);
  const body = listed.body as Listed;
  expect(body.summary).toEqual([
    { vendor: '', model: '', events: 1, lines: 1, priceable_now: 0 },
    { vendor: 'mistral', model: 'large', events: 1, lines: 1, priceable_now: 0 },
    { vendor: 'openai', model: 'gpt-4o', events: 3, lines: 3, priceable_now: 0 },
  ]);
  expect(body.data.map((e) => e.id).sort()).toEqual([before1, before2, images, malformed].sort());
  const reasons = new Map(body.data.map((e) => [e.id, e.unpriced.map((u) => [u.reason, u.priceable_now])]));
  expect(reasons.get(before2)).toEqual([
    ['no_rate', false],
    ['no_rate', false],
  ]);
  expect(reasons.get(images)).toEqual([['no_price', false]]);
  expect(body.data.find((e) => e.id === images)!.unpriced[0]!.detail).toMatch(new RegExp(`^rate ${current.body.id} of openai/gpt-4o has no price for images; rates are never edited, so this line stays unpriced`));
  expect(reasons.get(malformed)).toEqual([['malformed', false]]);

  // Finance enters what gpt-4o cost before: a rate for the time before the first one (the gap), and the lines there become priceable.
  const gap = await api.post('/api/v1/vendor-rates', org.apiKey, { ...gpt, input_per_million_tokens: '5', output_per_million_tokens: '15', effective_from: new Date(Date.now() - 2 * DAY).toISOString() });
  expect(gap.status).toBe(201);
  const after = (await api.get('/api/v1/unpriced-events?vendor=openai&model=gpt-4o', org.apiKey)).body as Listed;
  expect(after.summary.find((s) => s.model === 'gpt-4o')).toMatchObject({ lines: 3, priceable_now: 2 });
  expect(after.data.map((e) => e.id).sort()).toEqual([before1, before2, images].sort());

  // A reading key lists but does not re-rate.
  const reader = await createApiKey(prisma, org.organizationId, 'reader', { type: 'system', id: 'test' }, ['read']);
  expect((await api.get('/api/v1/unpriced-events', reader.key)).status).toBe(200);
  expect((await api.post('/api/v1/unpriced-events/rerate', reader.key, {})).status).toBe(403);

  const rerated = await api.post('/api/v1/unpriced-events/rerate', org.apiKey, { vendor: 'openai', model: 'gpt-4o' });
  expect(rerated.status).toBe(200);
  // The two lines of yesterday priced; the images line (no price) and the mistral line (no rate) still not.
  expect(rerated.body).toEqual({ events_rerated: 2, lines_priced: 2, lines_still_unpriced: 2 });
  const stored = new Map((await prisma.usageEvent.findMany({ where: { id: { in: batch.eventIds } } })).map((e) => [e.id, e]));
  // 5 × 1,000,000 / 1e6 + 15 × 1,000 / 1e6
  expect([stored.get(before1)!.cost?.toFixed(), stored.get(before1)!.rateIds, stored.get(before1)!.unpricedUsage]).toEqual(['5.015', [gap.body.id], null]);
  // 5 × 2,000 / 1e6 added to nothing; the mistral line stays listed.
  expect([stored.get(before2)!.cost?.toFixed(), stored.get(before2)!.rateIds, stored.get(before2)!.unpricedUsage]).toEqual(['0.01', [gap.body.id], [mistral]]);
  expect([stored.get(images)!.cost?.toFixed(), stored.get(images)!.unpricedUsage]).toEqual(['2.5', [withImages]]);
  expect(stored.get(priced)!.unpricedUsage).toBeNull();

  const audit = await prisma.auditLog.findMany({ where: { organizationId: org.organizationId, action: 'event.rerated' }, orderBy: { id: 'asc' } });
  expect(audit.map((a) => [a.entityId, a.actorType, a.actorId]).sort()).toEqual(
    [
      [before1, 'api_key', org.apiKeyId],
      [before2, 'api_key', org.apiKeyId],
    ].sort(),
  );
  expect(audit.find((a) => a.entityId === before2)).toMatchObject({
    before: { cost: '0', rateIds: [], unpricedLines: [{ ...gpt, input_tokens: 2_000, output_tokens: 0 }, mistral] },
    after: { cost: '0.01', rateIds: [gap.body.id], unpricedLines: [mistral] },
  });

  // While a re-rate of the organization runs, another answers 409 at once instead of waiting on its rows.
  const holder = await testPool().connect();
  try {
    await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`rerate:${org.organizationId}`]);
    const busy = await api.post('/api/v1/unpriced-events/rerate', org.apiKey, {});
    expect([busy.status, busy.body.code]).toEqual([409, 'RERATE_RUNNING']);
  } finally {
    await holder.query('SELECT pg_advisory_unlock_all()');
    holder.release();
  }

  // Running it again prices nothing twice.
  expect((await api.post('/api/v1/unpriced-events/rerate', org.apiKey, {})).body).toEqual({ events_rerated: 0, lines_priced: 0, lines_still_unpriced: 3 });
  expect((await prisma.usageEvent.findUniqueOrThrow({ where: { id: before1 } })).cost?.toFixed()).toBe('5.015');

  const bad = await api.post('/api/v1/unpriced-events/rerate', org.apiKey, { event_ids: ['not-a-uuid'] });
  expect(bad.status).toBe(400);
  expect(bad.body.details.field).toMatch(/^event_ids/);
  const other = await createTestOrganization('unpriced-events-other');
  expect((await api.get('/api/v1/unpriced-events', other.apiKey)).body).toEqual({ summary: [], data: [] });
  expect((await api.post('/api/v1/unpriced-events/rerate', other.apiKey, { event_ids: [before2] })).body).toEqual({ events_rerated: 0, lines_priced: 0, lines_still_unpriced: 0 });
});

test('the migration gives events rated before it their unpriced lines from their event.rating_incomplete audit rows', async () => {
  const sql = fs.readFileSync(join(__dirname, '..', 'prisma', 'migrations', '20261204110000_unpriced_usage', 'migration.sql'), 'utf8');
  // The statements as the migration runner splits them; the backfill is the UPDATE.
  const backfill = sql
    .split(';')
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.startsWith('UPDATE'));
  expect(backfill).toHaveLength(1);
  const prisma = testPrisma();
  const org = await createTestOrganization('unpriced-backfill');
  const lines = [{ vendor: 'openai', model: 'old-model', input_tokens: 3, output_tokens: 4 }, 'text'];
  const batch = await insertBatch(prisma, org.organizationId, [
    { customerExternalId: 'acme', timestamp: new Date().toISOString(), vendorUsage: lines },
    { customerExternalId: 'acme', timestamp: new Date().toISOString(), vendorUsage: [] },
  ]);
  const [incomplete, complete] = batch.eventIds as [string, string];
  const client = await testPool().connect();
  try {
    await client.query('BEGIN');
    // As rated before the column: the lines only in the audit row.
    await client.query(`UPDATE usage_events SET status = 'rated', cost = 0, unpriced_usage = NULL WHERE id = ANY($1::uuid[])`, [batch.eventIds]);
    await client.query(
      `INSERT INTO audit_logs (organization_id, actor_type, actor_id, action, entity_type, entity_id, after) VALUES ($1, 'workflow', 'ingest:x', 'event.rating_incomplete', 'usage_event', $2, $3)`,
      [org.organizationId, incomplete, JSON.stringify({ pricedCost: '0', rateIds: [], unpricedLines: lines })],
    );
    await client.query(backfill[0]!);
    const rows = await client.query<{ id: string; unpriced_usage: unknown }>('SELECT id, unpriced_usage FROM usage_events WHERE id = ANY($1::uuid[])', [batch.eventIds]);
    expect(new Map(rows.rows.map((r) => [r.id, r.unpriced_usage]))).toEqual(
      new Map<string, unknown>([
        [incomplete, lines],
        [complete, null],
      ]),
    );
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});
