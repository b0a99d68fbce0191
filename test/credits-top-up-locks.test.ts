import { randomUUID } from 'node:crypto';
import { dec } from '../billing/decimal';
import { inTransaction } from '../prisma/pg';
import { pgRawDb } from '../prisma/raw-db';
import { failTopUp, grantTopUp, insertTopUp } from '../prisma/credit-top-ups';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';

/*
 * Lock order between settling a top-up and an ingest batch burning the same wallet: the batch locks the wallet, then
 * meets the top-up's row (queueing an automatic top-up against its pending one); settling a top-up must take the
 * wallet first too, or the two deadlock (PostgreSQL kills one after deadlock_timeout). Real PostgreSQL, two
 * connections, the batch's side played step by step.
 */

jest.setTimeout(60_000);

let organizationId: string;

beforeAll(async () => {
  ({ organizationId } = await createTestOrganization('credits-top-up-locks'));
});

afterAll(() => closeTestPrisma());

async function pendingTopUp(automatic = false): Promise<{ id: string; walletId: string }> {
  const customer = await testPrisma().customer.create({ data: { organizationId, externalId: `locks-${randomUUID().slice(0, 8)}` } });
  const { topUp } = await testPrisma().$transaction((tx) =>
    insertTopUp(tx, { organizationId, customerId: customer.id, credits: dec(10), pricePerCredit: dec('0.1'), currency: 'usd', idempotencyKey: randomUUID(), createdBy: 'test' }),
  );
  // (an automatic one's failure pauses the wallet's automatic top-up: a write to the wallet's row)
  if (automatic) await testPrisma().creditTopUp.update({ where: { id: topUp.id }, data: { automatic: true } });
  return { id: topUp.id, walletId: topUp.walletId };
}

/** The batch's side: the wallet's lock, then (once `settle` is waiting) the top-up's row; then the settlement finishes. */
async function raceWithBatch(topUp: { id: string; walletId: string }, settle: () => Promise<unknown>): Promise<unknown> {
  let settling: Promise<unknown> | undefined;
  await inTransaction(testPool(), async (batch) => {
    await batch.query('SELECT id FROM credit_wallets WHERE id = $1 FOR UPDATE', [topUp.walletId]);
    settling = settle();
    // (give the settlement time to take whatever it takes first)
    await new Promise((resolve) => setTimeout(resolve, 300));
    await batch.query('UPDATE credit_top_ups SET created_by = created_by WHERE id = $1', [topUp.id]);
  });
  return settling;
}

test('failing an automatic top-up while a batch holds its wallet waits for the batch instead of deadlocking', async () => {
  const topUp = await pendingTopUp(true);
  const failed = await raceWithBatch(topUp, () => inTransaction(testPool(), (db) => failTopUp(pgRawDb(db), { organizationId, topUpId: topUp.id, reason: 'the card was declined', now: new Date() })));
  expect(failed).toMatchObject({ failed: true, topUp: { status: 'failed' } });
});

test('granting a paid top-up while a batch holds its wallet waits for the batch instead of deadlocking', async () => {
  const topUp = await pendingTopUp();
  const granted = await raceWithBatch(topUp, () => inTransaction(testPool(), (db) => grantTopUp(pgRawDb(db), { organizationId, topUpId: topUp.id, createdBy: 'test', now: new Date() })));
  expect(granted).toMatchObject({ granted: true, topUp: { status: 'paid' } });
});
