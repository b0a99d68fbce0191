import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { hashApiKey } from '../prisma/api-keys';
import { DEMO_CATALOG, DEMO_ORGANIZATION, DEMO_QUOTAS, DEMO_RATES, seedDemo } from '../prisma/seed';
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
  };
}

describe('demo seed (npm start runs it on every start)', () => {
  it('seeds nothing twice and keeps printing the same working key', async () => {
    const keyFile = path.join(keyDir, 'demo-api-key');
    const first = await seedDemo(testPrisma(), { keyFile });
    const afterFirst = await demoCounts(first.organizationId);
    expect(afterFirst).toEqual({ organizations: 1, rates: DEMO_RATES.length, quotas: DEMO_QUOTAS.length, keys: 1, plans: DEMO_CATALOG.plans.length, subscriptions: 1 });

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

  it('exits 2 with the usage text on bad usage', () => {
    const result = admin('create-api-key');
    expect(result.status).toBe(2);
    expect(`${result.stdout}${result.stderr}`).toMatch(/--org/);
  });
});
