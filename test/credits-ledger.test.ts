import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { dec } from '../billing/decimal';
import { burnCredits, ensureWallet, expireGrant, insertGrant, readGrants } from '../prisma/credit-ledger';
import { closeTestPrisma, createTestOrganization, testPrisma } from './harness/fixtures';
import { startTestApi, type TestApi } from './api-test-app';

/*
 * Prepaid credits (issue 15, points 1, 2 and 9 so far): grants through the
 * HTTP API, balances derived from an append-only double-entry ledger on the
 * real database, burns in burn order, expiry to breakage, idempotent steps,
 * and concurrent burns that spend each credit once.
 */

jest.setTimeout(120_000);

type Org = Awaited<ReturnType<typeof createTestOrganization>>;

let api: TestApi;
let org: Org;

const post = (path: string, body: unknown) => api.post(`/api/v1${path}`, org.apiKey, body);
const get = (path: string) => api.get(`/api/v1${path}`, org.apiKey);

beforeAll(async () => {
  api = await startTestApi();
  org = await createTestOrganization('credits-ledger');
});

afterAll(async () => {
  await api.close();
  await closeTestPrisma();
});

async function newCustomer(): Promise<{ id: string; externalId: string }> {
  return testPrisma().customer.create({ data: { organizationId: org.organizationId, externalId: `cust-${randomUUID().slice(0, 8)}` } });
}

/** Per grant: received minus given, summed from the entries themselves; and per account of the wallet. */
async function ledgerSums(walletId: string) {
  const rows = await testPrisma().$queryRaw<{ account: string; grant_id: string | null; balance: string }[]>`
    SELECT account, grant_id, sum(delta)::text AS balance FROM (
      SELECT credit::text AS account, grant_id, amount AS delta FROM credit_ledger_entries WHERE wallet_id = ${walletId}::uuid
      UNION ALL SELECT debit::text, grant_id, -amount FROM credit_ledger_entries WHERE wallet_id = ${walletId}::uuid
    ) s GROUP BY GROUPING SETS ((account, grant_id), (account))`;
  return rows;
}

describe('credit grants through the API', () => {
  test('a grant is written with its ledger transaction and an audit row; a repeat with its idempotency key returns it', async () => {
    const customer = await newCustomer();
    const body = { credits: '1000', kind: 'purchased', price_per_credit: '0.01', currency: 'USD', description: 'Starter pack', idempotency_key: `order-${randomUUID()}` };
    const created = await post(`/customers/${customer.externalId}/credit-grants`, body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'purchased', credits: '1000', balance: '1000', status: 'active', priority: 100, expires_at: null, price_per_credit: '0.01', currency: 'usd' });
    const again = await post(`/customers/${customer.externalId}/credit-grants`, body);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
    // The key names that grant: other terms, or another customer, are a conflict, and nothing is granted.
    const other = await post(`/customers/${customer.externalId}/credit-grants`, { ...body, credits: '2000' });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', details: { field: 'idempotency_key', grant_id: created.body.id } });
    const elsewhere = await post(`/customers/${(await newCustomer()).externalId}/credit-grants`, body);
    expect(elsewhere.status).toBe(409);
    expect(await testPrisma().creditGrant.count({ where: { idempotencyKey: body.idempotency_key } })).toBe(1);

    const wallet = await get(`/customers/${customer.externalId}/wallet`);
    expect(wallet.status).toBe(200);
    expect(wallet.body).toMatchObject({ customer_external_id: customer.externalId, balance: '1000' });
    expect(wallet.body.grants.map((g: { id: string }) => g.id)).toEqual([created.body.id]);
    // by the customer's id too; a customer without a wallet has an empty one
    expect((await get(`/customers/${customer.id}/wallet`)).body).toEqual(wallet.body);
    const walletless = await newCustomer();
    expect((await get(`/customers/${walletless.externalId}/wallet`)).body).toEqual({ customer_external_id: walletless.externalId, balance: '0', reserved: '0', low_balance_threshold: null, auto_top_up: null, auto_top_up_paused: null, pool: null, grants: [] });

    const entries = await get(`/customers/${customer.externalId}/wallet/entries`);
    expect(entries.body.data.map((e: { kind: string; debit: string; credit: string; amount: string; key: string }) => [e.kind, e.debit, e.credit, e.amount, e.key])).toEqual([
      ['grant', 'issuance', 'grant', '1000', `grant:${created.body.id}`],
    ]);
    const audit = await testPrisma().auditLog.findMany({ where: { organizationId: org.organizationId, entityId: created.body.id } });
    expect(audit.map((a) => a.action)).toEqual(['credits.granted']);
  });

  test.each([
    ['no credits', { credits: '0' }, 'credits'],
    ['negative credits', { credits: '-5' }, 'credits'],
    ['too many decimals', { credits: '1.0000001' }, 'credits'],
    ['an expiry in the past', { credits: '5', expires_at: '2020-01-01T00:00:00Z' }, 'expires_at'],
    ['an unknown kind', { credits: '5', kind: 'stolen' }, 'kind'],
    ['an unknown currency', { credits: '5', currency: 'xyz' }, 'currency'],
    ['an unknown field', { credits: '5', balance: '7' }, 'balance'],
  ])('refuses %s with a 400 naming the field', async (_, body, field) => {
    const customer = await newCustomer();
    const res = await post(`/customers/${customer.externalId}/credit-grants`, body);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(field);
    expect(await testPrisma().creditGrant.count({ where: { wallet: { customerId: customer.id } } })).toBe(0);
  });

  test('an unknown customer is a 404', async () => {
    expect((await post('/customers/nobody-here/credit-grants', { credits: '5' })).status).toBe(404);
    expect((await get('/customers/nobody-here/wallet')).status).toBe(404);
  });
});

describe('the ledger', () => {
  const now = new Date();
  const inDays = (d: number) => new Date(now.getTime() + d * 86_400_000);

  async function walletWith(grants: { credits: string; priority?: number; expiresAt?: Date | null; key: string }[]) {
    const prisma = testPrisma();
    const customer = await newCustomer();
    const walletId = await ensureWallet(prisma, org.organizationId, customer.id);
    const ids: Record<string, string> = {};
    for (const g of grants) {
      const { grantId } = await prisma.$transaction((tx) =>
        insertGrant(tx, {
          organizationId: org.organizationId,
          walletId,
          kind: 'purchased',
          credits: dec(g.credits),
          priority: g.priority ?? 100,
          expiresAt: g.expiresAt ?? null,
          pricePerCredit: dec('0.01'),
          currency: 'usd',
          description: null,
          idempotencyKey: `${g.key}-${randomUUID()}`,
          createdBy: 'test',
        }),
      );
      ids[g.key] = grantId;
    }
    return { customer, walletId, ids };
  }

  const burn = (walletId: string, credits: string, key: string = randomUUID(), at = now) =>
    testPrisma().$transaction((tx) => burnCredits(tx, { organizationId: org.organizationId, walletId, credits: dec(credits), key, createdBy: 'test', now: at }));

  test('burns in burn order (priority, soonest expiry, oldest), once per key, and reports what it could not cover', async () => {
    const { walletId, ids } = await walletWith([
      { credits: '100', key: 'never' },
      { credits: '50', key: 'soon', expiresAt: inDays(5) },
      { credits: '20', key: 'promo', priority: 10 },
    ]);
    const first = await burn(walletId, '60', 'call-1');
    expect(first.draws.map((d) => [d.grantId, d.credits.toFixed()])).toEqual([
      [ids.promo, '20'],
      [ids.soon, '40'],
    ]);
    expect(first).toMatchObject({ burned: true });
    expect(first.uncovered.toFixed()).toBe('0');
    // The same key again: nothing more is burned, the first burn is returned.
    const repeat = await burn(walletId, '60', 'call-1');
    expect(repeat).toMatchObject({ burned: false, transactionId: first.transactionId });
    expect(repeat.draws).toEqual(first.draws);

    const over = await burn(walletId, '200', 'call-2');
    expect(over.draws.map((d) => [d.grantId, d.credits.toFixed()])).toEqual([
      [ids.soon, '10'],
      [ids.never, '100'],
    ]);
    expect(over.uncovered.toFixed()).toBe('90');
    expect((await readGrants(testPrisma(), walletId)).map((g) => g.balance.toFixed())).toEqual(['0', '0', '0']);
  });

  test('expiry moves exactly what is left to breakage, once; not before its time', async () => {
    const expiresAt = new Date(Date.now() + 60_000);
    const { walletId, ids } = await walletWith([{ credits: '30', key: 'exp', expiresAt }]);
    await burn(walletId, '12.5');
    const expire = (at: Date) => testPrisma().$transaction((tx) => expireGrant(tx, { organizationId: org.organizationId, grantId: ids.exp!, now: at, createdBy: 'test' }));
    await expect(expire(new Date(expiresAt.getTime() - 1))).rejects.toThrow('does not expire before');
    const done = await expire(expiresAt);
    expect(done.expired.toFixed()).toBe('17.5');
    expect((await expire(expiresAt)).repeated).toBe(true);
    const sums = await ledgerSums(walletId);
    const account = (a: string) => sums.find((s) => s.account === a && s.grant_id === null)?.balance;
    expect([account('grant'), account('usage'), account('breakage'), account('issuance')]).toEqual(['0.000000', '12.500000', '17.500000', '-30.000000']);
    // An expired grant is not burned from, whatever its balance said before.
    expect((await burn(walletId, '1', randomUUID(), new Date(expiresAt.getTime() + 1))).uncovered.toFixed()).toBe('1');
  });

  test('the API lists a wallet\'s entries page by page, a transaction\'s in their order, filtered by kind or grant', async () => {
    const { customer, walletId, ids } = await walletWith([
      { credits: '10', key: 'first', priority: 1 },
      { credits: '10', key: 'second', priority: 2 },
    ]);
    await burn(walletId, '15', 'page-burn');
    const list = async (query: string) => (await get(`/customers/${customer.externalId}/wallet/entries${query}`)).body;
    const first = await list('?limit=3');
    expect(first.has_more).toBe(true);
    expect(first.data.map((e: { kind: string; grant_id: string; amount: string }) => [e.kind, e.grant_id, e.amount])).toEqual([
      ['grant', ids.first, '10'],
      ['grant', ids.second, '10'],
      ['burn', ids.first, '10'],
    ]);
    const rest = await list(`?limit=3&after=${first.data[2].id}`);
    expect(rest).toMatchObject({ has_more: false, data: [{ kind: 'burn', grant_id: ids.second, amount: '5', key: 'page-burn' }] });
    expect((await list('?kind=burn')).data).toHaveLength(2);
    expect((await list(`?grant_id=${ids.second}`)).data.map((e: { kind: string }) => e.kind)).toEqual(['grant', 'burn']);
    expect((await get(`/customers/${customer.externalId}/wallet/entries?kind=refund`)).status).toBe(400);
  });

  test('ledger rows are append-only', async () => {
    const { walletId } = await walletWith([{ credits: '5', key: 'a' }]);
    await expect(testPrisma().$executeRaw`UPDATE credit_ledger_entries SET amount = 6 WHERE wallet_id = ${walletId}::uuid`).rejects.toThrow('append-only');
    await expect(testPrisma().$executeRaw`DELETE FROM credit_transactions WHERE wallet_id = ${walletId}::uuid`).rejects.toThrow('append-only');
    await expect(testPrisma().$executeRaw`UPDATE credit_grants SET credits = 6 WHERE wallet_id = ${walletId}::uuid`).rejects.toThrow('append-only');
  });

  test('50 concurrent burns against one wallet spend each credit once', async () => {
    const { walletId } = await walletWith([
      { credits: '40', key: 'a', priority: 1 },
      { credits: '60.5', key: 'b', expiresAt: inDays(30) },
    ]);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => burn(walletId, '3', `concurrent-${i}`)));
    const drawn = results.reduce((s, r) => s.plus(r.draws.reduce((t, d) => t.plus(d.credits), dec(0))), dec(0));
    const uncovered = results.reduce((s, r) => s.plus(r.uncovered), dec(0));
    expect(drawn.toFixed()).toBe('100.5');
    expect(uncovered.toFixed()).toBe('49.5');
    const grants = await readGrants(testPrisma(), walletId);
    expect(grants.map((g) => g.balance.toFixed())).toEqual(['0', '0']);
    expect(await testPrisma().creditTransaction.count({ where: { walletId, kind: 'burn' } })).toBe(50);
  });

  test('property: after any sequence of grants, burns and expiries, each balance (and each entry\'s balance_after) equals the sum of the entries and no grant is negative', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('grant' as const), credits: fc.integer({ min: 1, max: 10_000 }), priority: fc.integer({ min: 0, max: 2 }), expires: fc.boolean() }),
      fc.record({ kind: fc.constant('burn' as const), credits: fc.integer({ min: 0, max: 8_000 }), repeatLast: fc.boolean() }),
      fc.record({ kind: fc.constant('expire' as const), pick: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const { walletId } = await walletWith([]);
        const expiring: string[] = [];
        const expiry = new Date(Date.now() + 1000);
        let lastBurn: string | null = null;
        let expected = dec(0);
        for (const o of ops) {
          if (o.kind === 'grant') {
            const expiresAt = o.expires ? expiry : null;
            const { grantId } = await testPrisma().$transaction((tx) =>
              insertGrant(tx, { organizationId: org.organizationId, walletId, kind: 'promotional', credits: dec(o.credits).div(100), priority: o.priority, expiresAt, pricePerCredit: dec(0), currency: 'usd', description: null, idempotencyKey: randomUUID(), createdBy: 'test' }),
            );
            if (o.expires) expiring.push(grantId);
            expected = expected.plus(dec(o.credits).div(100));
          } else if (o.kind === 'burn') {
            const key: string = o.repeatLast && lastBurn ? lastBurn : randomUUID();
            const r = await burn(walletId, dec(o.credits).div(100).toFixed(), key, new Date());
            if (r.burned) expected = expected.minus(r.draws.reduce((s, d) => s.plus(d.credits), dec(0)));
            lastBurn = key;
          } else if (expiring.length > 0) {
            const grantId = expiring[o.pick % expiring.length]!;
            const r = await testPrisma().$transaction((tx) => expireGrant(tx, { organizationId: org.organizationId, grantId, now: expiry, createdBy: 'test' }));
            if (!r.repeated) expected = expected.minus(r.expired);
          }
        }
        const grants = await readGrants(testPrisma(), walletId);
        const sums = await ledgerSums(walletId);
        for (const g of grants) {
          expect(g.balance.gte(0)).toBe(true);
          expect(g.balance.eq(dec(sums.find((s) => s.account === 'grant' && s.grant_id === g.id)?.balance ?? '0'))).toBe(true);
        }
        // Every entry's balance_after is the running sum of its grant's entries up to it.
        const [drift] = await testPrisma().$queryRaw<{ n: number }[]>`
          SELECT count(*)::int AS n FROM (
            SELECT balance_after, sum(CASE WHEN credit = 'grant' THEN amount ELSE -amount END) OVER (PARTITION BY grant_id ORDER BY seq) AS running
            FROM credit_ledger_entries WHERE wallet_id = ${walletId}::uuid) s
          WHERE balance_after <> running`;
        expect(drift!.n).toBe(0);
        const total = grants.reduce((s, g) => s.plus(g.balance), dec(0));
        expect(total.eq(expected)).toBe(true);
        // Double entry: every account's movements add up to zero across the wallet.
        expect(sums.filter((s) => s.grant_id === null).reduce((s, r) => s.plus(dec(r.balance)), dec(0)).isZero()).toBe(true);
      }),
      { numRuns: 15 },
    );
  });
});
