import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { PrismaClient } from './generated/client';
import { API_SCOPES } from './api-scopes';
import { createApiKey, hashApiKey } from './api-keys';
import { hashPassword, generatePassword, verifyPassword } from './passwords';
import { createUser, type UserRole } from './users';
import { dec } from '../billing/decimal';
import { ensureWallet, insertGrant } from './credit-ledger';

export const DEMO_ORGANIZATION = 'Demo Co';
const DEMO_KEY_NAME = 'demo (npm start)';

/**
 * Public list prices per one million tokens, USD, as published on the vendors'
 * pricing pages (openai.com/api/pricing, anthropic.com/pricing) and checked in
 * 2025. Real prices change: these are demo data, not a price feed.
 */
export const DEMO_RATES = [
  { vendor: 'openai', model: 'gpt-4o', input: '2.50', output: '10.00' },
  { vendor: 'openai', model: 'gpt-4o-mini', input: '0.15', output: '0.60' },
  { vendor: 'anthropic', model: 'claude-3-5-sonnet', input: '3.00', output: '15.00' },
  { vendor: 'anthropic', model: 'claude-3-5-haiku', input: '0.80', output: '4.00' },
] as const;
const RATES_EFFECTIVE_FROM = new Date('2025-01-01T00:00:00Z');

/** One SOFT limit for every customer and one HARD limit for a free-tier customer. */
export const DEMO_QUOTAS = [
  { eventType: 'llm.completion', customerExternalId: null, limitValue: '10000', mode: 'SOFT', softWarningPercent: 80, resetWindow: 'month' },
  { eventType: 'api.request', customerExternalId: 'acme-free-tier', limitValue: '1000', mode: 'HARD', softWarningPercent: 80, resetWindow: 'day' },
] as const;

/**
 * A small catalog so billing runs have something to bill: completions are
 * counted per period and priced per unit above an included allowance. Acme
 * subscribes from the first of the month two months back, so the first start
 * catches up on two closed periods (two drafts waiting for approval in the
 * Temporal UI) and then waits in the current one.
 */
export const DEMO_CATALOG = {
  meter: { key: 'completions', name: 'LLM completions', eventType: 'llm.completion', aggregation: 'count' as const },
  plans: [
    { key: 'starter', name: 'Starter', baseFee: '49', unitAmount: '0.002', includedUnits: '1000' },
    { key: 'growth', name: 'Growth', baseFee: '199', unitAmount: '0.0015', includedUnits: '10000' },
  ],
  subscriber: { externalId: 'acme', name: 'Acme Inc.', plan: 'starter', monthsBack: 2 },
};

/**
 * Prepaid credits in the demo: customer `globex` holds a wallet of promotional
 * credits, and every completion burns one (a burn rate on the demo meter), so
 * its completions show on its wallet page and its invoices bill only what the
 * credits did not cover.
 */
export const DEMO_CREDITS = { customer: { externalId: 'globex', name: 'Globex Corp.' }, credits: '5000', creditsPerCompletion: '1', grantKey: 'demo-credits-globex' };

/**
 * Web app users of the demo organization. Each one's generated password is
 * kept in `.data/demo-<role>-password` (mode 0600), like the demo API key.
 */
export const DEMO_USERS: { email: string; role: UserRole }[] = [
  { email: 'admin@demo.test', role: 'admin' },
  { email: 'finance@demo.test', role: 'finance' },
  { email: 'viewer@demo.test', role: 'viewer' },
];

export interface SeededUser {
  email: string;
  role: UserRole;
  passwordFile: string;
  created: boolean;
}

export interface SeedResult {
  organizationId: string;
  /** the demo key's plaintext (from keyFile, or newly created and written there) */
  apiKey: string;
  apiKeyCreated: boolean;
  users: SeededUser[];
  created: { organization: boolean; rates: number; quotas: number; subscription: boolean };
}

/**
 * Seeds the demo organization. Idempotent: a second run finds everything and
 * creates nothing. Keys are stored hashed, so the demo key's plaintext lives
 * in keyFile (local development only, mode 0600); if that file is lost or its
 * key was revoked, a new key is created and written there.
 */
export async function seedDemo(prisma: PrismaClient, options: { keyFile: string; now?: Date }): Promise<SeedResult> {
  let organization = await prisma.organization.findUnique({ where: { name: DEMO_ORGANIZATION } });
  const organizationCreated = !organization;
  organization ??= await prisma.organization.create({ data: { name: DEMO_ORGANIZATION } });
  const organizationId = organization.id;

  const rates = await prisma.vendorRate.createMany({
    data: DEMO_RATES.map((r) => ({
      organizationId,
      vendor: r.vendor,
      model: r.model,
      currency: 'usd',
      inputPerMillionTokens: r.input,
      outputPerMillionTokens: r.output,
      effectiveFrom: RATES_EFFECTIVE_FROM,
    })),
    skipDuplicates: true,
  });

  // The (organization, event type, customer) unique key does not stop
  // duplicates when customer is NULL (NULLs are distinct), so look first.
  let quotas = 0;
  for (const q of DEMO_QUOTAS) {
    const existing = await prisma.quotaLimit.findFirst({
      where: { organizationId, eventType: q.eventType, customerExternalId: q.customerExternalId },
    });
    if (existing) continue;
    await prisma.quotaLimit.create({ data: { organizationId, ...q } });
    quotas++;
  }

  const subscription = await seedCatalog(prisma, organizationId, options.now ?? new Date());
  await seedCredits(prisma, organizationId);
  const users = await seedDemoUsers(prisma, organizationId, path.dirname(options.keyFile));

  const stored = readKeyFile(options.keyFile);
  if (stored) {
    const live = await prisma.apiKey.findFirst({ where: { organizationId, keyHash: hashApiKey(stored), revokedAt: null } });
    if (live) return { organizationId, apiKey: stored, apiKeyCreated: false, users, created: { organization: organizationCreated, rates: rates.count, quotas, subscription } };
  }
  // The demo key has every scope, so the README's walk-through (post events, approve, settings) works with it.
  const key = await createApiKey(prisma, organizationId, DEMO_KEY_NAME, { type: 'system', id: 'seed' }, API_SCOPES);
  writeSecret(options.keyFile, key.key);
  return { organizationId, apiKey: key.key, apiKeyCreated: true, users, created: { organization: organizationCreated, rates: rates.count, quotas, subscription } };
}

/** The demo catalog and Acme's subscription; true when the subscription was created now. */
async function seedCatalog(prisma: PrismaClient, organizationId: string, now: Date): Promise<boolean> {
  const { meter: m, plans, subscriber } = DEMO_CATALOG;
  const meter = await prisma.meter.upsert({
    where: { organizationId_key: { organizationId, key: m.key } },
    create: { organizationId, ...m },
    update: {},
  });
  const planIds = new Map<string, string>();
  for (const p of plans) {
    const plan = await prisma.plan.upsert({
      where: { organizationId_key_version: { organizationId, key: p.key, version: 1 } },
      create: {
        organizationId,
        key: p.key,
        name: p.name,
        currency: 'usd',
        interval: 'month',
        baseFee: p.baseFee,
        prices: { create: [{ organizationId, meterId: meter.id, model: 'per_unit', unitAmount: p.unitAmount, includedUnits: p.includedUnits }] },
      },
      update: {},
    });
    planIds.set(p.key, plan.id);
  }
  const customer = await prisma.customer.upsert({
    where: { organizationId_externalId: { organizationId, externalId: subscriber.externalId } },
    create: { organizationId, externalId: subscriber.externalId, name: subscriber.name },
    update: {},
  });
  if (await prisma.subscription.findFirst({ where: { organizationId, customerId: customer.id } })) return false;
  const startDate = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - subscriber.monthsBack, 1));
  await prisma.subscription.create({ data: { organizationId, customerId: customer.id, planId: planIds.get(subscriber.plan)!, startDate, billingAnchorDay: 1 } });
  return true;
}

/** The demo's credits (DEMO_CREDITS): the burn rate if the meter has none, the customer, its wallet and its grant (once, by key). */
async function seedCredits(prisma: PrismaClient, organizationId: string): Promise<void> {
  const meter = await prisma.meter.findUniqueOrThrow({ where: { organizationId_key: { organizationId, key: DEMO_CATALOG.meter.key } } });
  if (!(await prisma.creditBurnRate.findFirst({ where: { organizationId, meterId: meter.id } }))) {
    await prisma.creditBurnRate.create({
      data: { id: randomUUID(), organizationId, meterId: meter.id, credits: DEMO_CREDITS.creditsPerCompletion, perUnits: '1', effectiveFrom: RATES_EFFECTIVE_FROM, createdBy: 'system:seed' },
    });
  }
  const { externalId, name } = DEMO_CREDITS.customer;
  const customer = await prisma.customer.upsert({ where: { organizationId_externalId: { organizationId, externalId } }, create: { organizationId, externalId, name }, update: {} });
  await prisma.$transaction(async (tx) => {
    const walletId = await ensureWallet(tx, organizationId, customer.id);
    await insertGrant(tx, {
      organizationId,
      walletId,
      kind: 'promotional',
      credits: dec(DEMO_CREDITS.credits),
      priority: 100,
      expiresAt: null,
      pricePerCredit: dec(0),
      currency: 'usd',
      description: 'Demo credits',
      idempotencyKey: DEMO_CREDITS.grantKey,
      createdBy: 'system:seed',
    });
  });
}

/**
 * The demo users, each with the password in its file: a user whose file is
 * missing (or no longer matches) gets a new password written there.
 */
export async function seedDemoUsers(prisma: PrismaClient, organizationId: string, dir: string): Promise<SeededUser[]> {
  const seeded: SeededUser[] = [];
  for (const { email, role } of DEMO_USERS) {
    const passwordFile = path.join(dir, `demo-${role}-password`);
    const stored = readKeyFile(passwordFile);
    const existing = await prisma.user.findUnique({ where: { organizationId_email: { organizationId, email } } });
    if (existing && stored && (await verifyPassword(stored, existing.passwordHash))) {
      seeded.push({ email, role, passwordFile, created: false });
      continue;
    }
    const password = generatePassword();
    if (existing) await prisma.user.update({ where: { id: existing.id }, data: { passwordHash: await hashPassword(password) } });
    else await createUser(prisma, { organizationId, email, role, password }, { type: 'system', id: 'seed' });
    writeSecret(passwordFile, password);
    seeded.push({ email, role, passwordFile, created: !existing });
  }
  return seeded;
}

function writeSecret(file: string, secret: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

function readKeyFile(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim() || null;
  } catch {
    return null;
  }
}
