import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { eventBurn } from '../billing/credit-burn';
import { dec } from '../billing/decimal';
import { loadBurnRates } from '../prisma/burn-rates';
import { creditedSql, EVENT_CREDITS_JOIN } from '../prisma/usage-aggregates';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma } from './harness/fixtures';
import { insertBatch } from './harness/insert-batch';

/*
 * An event its wallet covered in full keeps only the mark (usage_events.credits_covered); a close reads which meters
 * its credits covered from the burn rates in SQL (prisma/usage-aggregates.ts creditedSql). That SQL must say what the
 * burn said (billing/credit-burn.ts eventBurn's meterIds): random rate tables (versions in time, own values, default
 * rates, rates of 0) and random events (values with and without a rate, missing, numbers, across the versions), the
 * two compared event by event on the real database.
 */

jest.setTimeout(120_000);

let organizationId: string;

beforeAll(async () => {
  ({ organizationId } = await createTestOrganization('credits-covered-meters'));
});

afterAll(() => closeTestPrisma());

const T0 = Date.parse('2026-06-01T00:00:00Z');
const HOUR = 3_600_000;
const VALUES = ['gpt-4o', 'claude', 'mini', 4] as const;

/** One (meter, value) line of rate versions: consecutive, each with its credits (0 allowed), the last open or closed. */
const arbVersions = fc.record({
  value: fc.option(fc.constantFrom('gpt-4o', 'claude', '4'), { nil: null }),
  start: fc.integer({ min: 0, max: 6 }),
  lengths: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
  credits: fc.array(fc.constantFrom('0', '1', '2.5'), { minLength: 3, maxLength: 3 }),
  open: fc.boolean(),
});

const arbCase = fc.record({
  tokens: fc.uniqueArray(arbVersions, { maxLength: 4, selector: (v) => v.value }),
  calls: fc.uniqueArray(arbVersions.map((v) => ({ ...v, value: null })), { maxLength: 1, selector: (v) => v.value }),
  events: fc.array(
    fc.record({ hour: fc.integer({ min: 0, max: 12 }), model: fc.option(fc.constantFrom(...VALUES), { nil: undefined }), quantity: fc.constantFrom('1', '1000', '0.5') }),
    { minLength: 1, maxLength: 12 },
  ),
});

it('the meters SQL credits for a covered event are the meters its burn priced', async () => {
  await fc.assert(
    fc.asyncProperty(arbCase, async (c) => {
      const eventType = `covered-${randomUUID().slice(0, 8)}`;
      const prisma = testPrisma();
      const tokens = await prisma.meter.create({ data: { organizationId, key: `${eventType}-tokens`, name: 'Tokens', eventType, aggregation: 'sum', dimension: 'model' } });
      const calls = await prisma.meter.create({ data: { organizationId, key: `${eventType}-calls`, name: 'Calls', eventType, aggregation: 'count' } });
      for (const [meter, lines] of [[tokens, c.tokens], [calls, c.calls]] as const) {
        for (const line of lines) {
          let at = line.start;
          for (const [i, length] of line.lengths.entries()) {
            const last = i === line.lengths.length - 1;
            await prisma.creditBurnRate.create({
              data: {
                id: randomUUID(),
                organizationId,
                meterId: meter.id,
                dimensionValue: line.value,
                credits: line.credits[i]!,
                perUnits: '1000',
                effectiveFrom: new Date(T0 + at * HOUR),
                effectiveTo: last && line.open ? null : new Date(T0 + (at + length) * HOUR),
                createdBy: 'test',
              },
            });
            at += length;
          }
        }
      }
      const batch = await insertBatch(
        prisma,
        organizationId,
        c.events.map((e) => ({ customerExternalId: 'covered', eventType, timestamp: new Date(T0 + e.hour * HOUR + 1).toISOString(), quantity: e.quantity, properties: e.model === undefined ? {} : { model: e.model } })),
        { claim: false },
      );
      await prisma.usageEvent.updateMany({ where: { batchId: batch.requestId }, data: { creditsCovered: true } });

      const rates = ((await loadBurnRates(testPool(), organizationId))?.rates ?? []).filter((r) => r.eventType === eventType);
      const credited = async (meter: { id: string; aggregation: 'sum' | 'count' }) => {
        const rows = await prisma.$queryRaw<{ id: string; credited: string }[]>`
          SELECT e.id::text AS id, ${creditedSql(meter)} AS credited FROM usage_events e ${EVENT_CREDITS_JOIN} WHERE e.batch_id = ${batch.requestId}::uuid GROUP BY e.id`;
        return new Map(rows.map((r) => [r.id, dec(r.credited)]));
      };
      const [byTokens, byCalls] = [await credited({ id: tokens.id, aggregation: 'sum' }), await credited({ id: calls.id, aggregation: 'count' })];
      c.events.forEach((e, i) => {
        const id = batch.eventIds[i]!;
        const burn = eventBurn(rates, { eventType, quantity: dec(e.quantity), timestamp: new Date(T0 + e.hour * HOUR + 1), dimensions: { model: e.model === undefined ? null : String(e.model) } });
        // (an event whose credits round to nothing is never marked covered: the rule below is for marked events)
        if (burn.credits.isZero()) return;
        expect([id, byTokens.get(id)!.toFixed(), byCalls.get(id)!.toFixed()]).toEqual([
          id,
          burn.meterIds.includes(tokens.id) ? dec(e.quantity).toFixed() : '0',
          burn.meterIds.includes(calls.id) ? '1' : '0',
        ]);
      });
    }),
    { numRuns: 25 },
  );
});
