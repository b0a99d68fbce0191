import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { hashApiKey } from '../prisma/api-keys';
import { DEMO_CATALOG, DEMO_CREDITS, DEMO_ORGANIZATION, DEMO_QUOTAS, DEMO_RATES, seedDemo } from '../prisma/seed';
import { closeTestPrisma, testPrisma } from './harness/fixtures';

const ROOT = path.join(__dirname, '..');
let keyDir: string;

beforeAll(() => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerflow-seed-'));
});
afterAll(async () => {
  fs.rmSync(keyDir, { recursive: true, force: true });
  await closeTestPrisma();
});

async function demoCounts(organizationId: string) {
  const prisma = testPrisma();
  return {
    organizations: await prisma.organization.count({ where: { name: DEMO_ORGANIZATION } }),
    rates: await prisma.vendorRate.count({ where: { organizationId } }),
    quotas: await prisma.quotaLimit.count({ where: { organizationId } }),
    keys: await prisma.apiKey.count({ where: { organizationId } }),
    plans: await prisma.plan.count({ where: { organizationId } }),
    subscriptions: await prisma.subscription.count({ where: { organizationId } }),
    burnRates: await prisma.creditBurnRate.count({ where: { organizationId } }),
    grants: await prisma.creditGrant.count({ where: { organizationId } }),
  };
}

describe('demo seed (npm start runs it on every start)', () => {
  it('seeds nothing twice and keeps printing the same working key', async () => {
    const keyFile = path.join(keyDir, 'demo-api-key');
    const first = await seedDemo(testPrisma(), { keyFile });
    const afterFirst = await demoCounts(first.organizationId);
    expect(afterFirst).toEqual({ organizations: 1, rates: DEMO_RATES.length, quotas: DEMO_QUOTAS.length, keys: 1, plans: DEMO_CATALOG.plans.length, subscriptions: 1, burnRates: 1, grants: 1 });
    // Globex holds the demo's credits: its wallet shows them.
    const [wallet] = await testPrisma().$queryRaw<{ balance: string }[]>`
      SELECT x.balance_after::text AS balance FROM credit_ledger_entries x JOIN credit_wallets w ON w.id = x.wallet_id JOIN customers c ON c.id = w.customer_id
       WHERE c.organization_id = ${first.organizationId}::uuid AND c.external_id = ${DEMO_CREDITS.customer.externalId} ORDER BY x.seq DESC LIMIT 1`;
    expect(wallet?.balance).toBe('5000.000000');

    const second = await seedDemo(testPrisma(), { keyFile });
    expect(second.organizationId).toBe(first.organizationId);
    expect(second.apiKey).toBe(first.apiKey);
    expect(await demoCounts(first.organizationId)).toEqual(afterFirst);

    const stored = await testPrisma().apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(first.apiKey) } });
    expect(stored.revokedAt).toBeNull();
    expect((fs.statSync(keyFile).mode & 0o777).toString(8)).toBe('600');
  });
});

function admin(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: process.env.DATABASE_URL },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('admin command', () => {
  it('creates an organization and prints a new, working API key on its last line', async () => {
    const org = `admin-test-${randomUUID()}`;
    expect(admin('create-org', '--name', org).status).toBe(0);
    const created = admin('create-api-key', '--org', org, '--name', 'ci');
    expect(created.status).toBe(0);
    const lastLine = created.stdout.trim().split('\n').pop()!;
    expect(lastLine).toMatch(/^lf_[A-Za-z0-9_-]{43}$/);
    const stored = await testPrisma().apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(lastLine) }, include: { organization: true } });
    expect(stored.organization.name).toBe(org);
    expect(created.stdout).not.toContain(stored.keyHash);
  });

  it('creates keys with the scopes asked for (ingest only by default), lists them, changes them and names an unknown scope', async () => {
    const org = `admin-scopes-${randomUUID()}`;
    expect(admin('create-org', '--name', org).status).toBe(0);
    const plain = admin('create-api-key', '--org', org, '--name', 'app');
    expect(plain.stdout).toContain('scopes: ingest)');
    const finance = admin('create-api-key', '--org', org, '--name', 'finance', '--scopes', 'billing,read');
    expect(finance.status).toBe(0);
    const financeKey = await testPrisma().apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(finance.stdout.trim().split('\n').pop()!) } });
    expect(financeKey.scopes).toEqual(['read', 'billing']);
    expect(admin('list-api-keys', '--org', org).stdout).toMatch(/scopes[\s\S]*ingest[\s\S]*read,billing/);

    const widened = admin('set-api-key-scopes', '--org', org, '--id', financeKey.id, '--scopes', 'all');
    expect(widened.status).toBe(0);
    expect((await testPrisma().apiKey.findUniqueOrThrow({ where: { id: financeKey.id } })).scopes).toEqual(['ingest', 'read', 'billing', 'admin', 'proxy']);

    const bad = admin('create-api-key', '--org', org, '--scopes', 'ingest,approve');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--scopes: unknown scope "approve"/);
  });

  it('sets an organization\'s and a key\'s rate limit, audited, and back to the default', async () => {
    const org = `admin-limit-${randomUUID()}`;
    expect(admin('create-org', '--name', org).status).toBe(0);
    const key = admin('create-api-key', '--org', org).stdout.trim().split('\n').pop()!;
    const stored = await testPrisma().apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(key) }, include: { organization: true } });

    const orgLimit = admin('set-rate-limit', '--org', org, '--per-second', '250');
    expect(orgLimit.status).toBe(0);
    expect(orgLimit.stdout).toContain('250 requests/s for all its API keys together');
    expect(admin('set-rate-limit', '--org', org, '--key', stored.id, '--per-second', '0').stdout).toContain('no limit');
    expect((await testPrisma().organization.findUniqueOrThrow({ where: { id: stored.organizationId } })).rateLimitPerSecond).toBe(250);
    expect((await testPrisma().apiKey.findUniqueOrThrow({ where: { id: stored.id } })).rateLimitPerSecond).toBe(0);
    expect(admin('list-api-keys', '--org', org).stdout).toMatch(/rate limit[\s\S]*none/);

    expect(admin('set-rate-limit', '--org', org, '--per-second', 'default').status).toBe(0);
    expect((await testPrisma().organization.findUniqueOrThrow({ where: { id: stored.organizationId } })).rateLimitPerSecond).toBeNull();
    const audits = await testPrisma().auditLog.findMany({ where: { organizationId: stored.organizationId, action: { in: ['organization.rate_limit_set', 'api_key.rate_limit_set'] } }, orderBy: { id: 'asc' } });
    expect(audits.map((a) => [a.action, a.before, a.after])).toEqual([
      ['organization.rate_limit_set', { rateLimitPerSecond: null }, { rateLimitPerSecond: 250 }],
      ['api_key.rate_limit_set', { rateLimitPerSecond: null }, { rateLimitPerSecond: 0 }],
      ['organization.rate_limit_set', { rateLimitPerSecond: 250 }, { rateLimitPerSecond: null }],
    ]);

    const bad = admin('set-rate-limit', '--org', org, '--per-second', 'lots');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--per-second must be a whole number/);
  });

  it('exits 2 with the usage text on bad usage', () => {
    const result = admin('create-api-key');
    expect(result.status).toBe(2);
    expect(`${result.stdout}${result.stderr}`).toMatch(/--org/);
  });
});
