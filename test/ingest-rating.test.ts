import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import { dec, toPlainString } from '../billing/decimal';
import { rateVendorUsage, splitVendorUsage, type TokenRate } from '../billing/token-cost';
import { closeTestPrisma, createTestOrganization, testPool, testPrisma, uniqueTaskQueue } from './harness/fixtures';
import { RecordingNotifier } from './harness/ingest-worker';
import { insertBatch } from './harness/insert-batch';

// The ingest path rates a batch through the database (rates read with plain
// pg, costs written to numeric(24,12) columns, unpriced lines to audit rows:
// activities/ingest-steps.ts rateBatchEvents); quotes and leak detection
// compute with billing/token-cost.ts alone. For random rate tables (effective
// windows, prices with up to 6 decimals, cache-read, reasoning, image and
// second prices set or not) and events (token counts up to millions, cache
// reads, reasoning, images and seconds, unknown models, lines of the wrong
// shape), what is stored must be
// exactly what the rule says: cost, rates and unpriced lines.

const activities = createActivities({ prisma: testPrisma(), pool: testPool(), taskQueue: uniqueTaskQueue('unused'), notifier: new RecordingNotifier() });

afterAll(async () => {
  await closeTestPrisma();
});

const MODELS = [
  ['openai', 'gpt-4o'],
  ['openai', 'gpt-4o-mini'],
  ['anthropic', 'claude-3-5-sonnet'],
] as const;
const DAY = 86_400_000;
const BASE = Date.UTC(2026, 10, 1);

/** A price per million tokens: up to 6 decimals, as the column holds. */
const price = fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 999_999 })).map(([whole, micros]) => toPlainString(dec(whole).plus(dec(micros).div(1_000_000))));

const rateTable = fc
  .array(
    fc.record({
      model: fc.integer({ min: 0, max: MODELS.length - 1 }),
      fromDay: fc.integer({ min: 0, max: 20 }),
      days: fc.option(fc.integer({ min: 1, max: 15 }), { nil: null }),
      input: price,
      output: price,
      // Prices a rate may leave unset: cache reads fall back to input, reasoning to output, images and seconds to nothing.
      cached: fc.option(price, { nil: null }),
      reasoning: fc.option(price, { nil: null }),
      image: fc.option(price, { nil: null }),
      second: fc.option(price, { nil: null }),
    }),
    { maxLength: 6 },
  )
  .map((rows) => {
    // (vendor, model, effective_from) is unique in the table.
    const seen = new Set<string>();
    return rows.filter((r) => {
      const key = `${r.model}:${r.fromDay}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  });

const usageLine = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record({
        model: fc.integer({ min: 0, max: MODELS.length }),
        input: fc.integer({ min: 0, max: 5_000_000 }),
        output: fc.integer({ min: 0, max: 5_000_000 }),
        // Other counts, sometimes: a count its rate has no price for leaves the line unpriced.
        more: fc.record(
          { cached_input_tokens: fc.integer({ min: 0, max: 5_000_000 }), reasoning_tokens: fc.integer({ min: 0, max: 5_000_000 }), images: fc.integer({ min: 0, max: 9 }), seconds: fc.integer({ min: 0, max: 10_000_000 }).map((ms) => ms / 1000) },
          { requiredKeys: [] },
        ),
      })
      .map(({ model, input, output, more }) => ({ vendor: MODELS[model]?.[0] ?? 'mistral', model: MODELS[model]?.[1] ?? 'mistral-large', input_tokens: input, output_tokens: output, ...more })),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>({ vendor: 'openai', model: 'gpt-4o', input_tokens: 10, seconds: 0.0000001 }, { vendor: 'openai', model: 'gpt-4o', input_tokens: -1, output_tokens: 2 }, 'text', 7) },
);

const events = fc.array(fc.record({ minute: fc.integer({ min: 0, max: 30 * 24 * 60 }), usage: fc.array(usageLine, { maxLength: 4 }) }), { minLength: 1, maxLength: 12 });

test('what rating stores agrees with billing/token-cost.ts on cost, rates and unpriced lines', async () => {
  await fc.assert(
    fc.asyncProperty(rateTable, events, async (rateRows, eventRows) => {
      const prisma = testPrisma();
      const { organizationId } = await createTestOrganization('rating-sql');
      const rates: TokenRate[] = rateRows.map((r) => ({
        id: randomUUID(),
        vendor: MODELS[r.model]![0],
        model: MODELS[r.model]![1],
        currency: 'usd',
        inputPerMillionTokens: r.input,
        outputPerMillionTokens: r.output,
        cachedInputPerMillionTokens: r.cached,
        reasoningPerMillionTokens: r.reasoning,
        perImage: r.image,
        perSecond: r.second,
        effectiveFrom: new Date(BASE + r.fromDay * DAY),
        effectiveTo: r.days === null ? null : new Date(BASE + (r.fromDay + r.days) * DAY),
      }));
      if (rates.length > 0) {
        await prisma.vendorRate.createMany({
          data: rates.map(({ id, vendor, model, currency, effectiveFrom, effectiveTo, ...prices }) => ({ id, organizationId, vendor, model, currency, effectiveFrom, effectiveTo, ...prices })),
        });
      }
      const batch = await insertBatch(
        prisma,
        organizationId,
        eventRows.map((e) => ({ customerExternalId: 'acme', timestamp: new Date(BASE + e.minute * 60_000).toISOString(), vendorUsage: e.usage })),
      );
      await prisma.customer.create({ data: { organizationId, externalId: 'acme' } });
      const env = new MockActivityEnvironment({ workflowExecution: { workflowId: `ingest:${batch.batchId}`, runId: 'run' } });
      await env.run(activities.rateEvents, { batchId: batch.batchId, organizationId });

      const stored = new Map((await prisma.usageEvent.findMany({ where: { batchId: batch.requestId } })).map((e) => [e.id, e]));
      const audits = new Map(
        (await prisma.auditLog.findMany({ where: { organizationId, action: 'event.rating_incomplete' } })).map((a) => [a.entityId, a.after as { unpricedLines: unknown[]; rateIds: string[]; pricedCost: string }]),
      );
      batch.eventIds.forEach((id, i) => {
        const event = stored.get(id)!;
        const at = new Date(BASE + eventRows[i]!.minute * 60_000);
        const { lines, malformed } = splitVendorUsage(eventRows[i]!.usage);
        const expected = rateVendorUsage(rates, lines, at);
        expect(event.status).toBe('rated');
        expect(toPlainString(dec(event.cost!.toString()))).toBe(toPlainString(expected.cost));
        expect(event.rateIds).toEqual(expected.rateIds);
        const unpriced = [...expected.unrated, ...malformed];
        // Kept on the event for the unpriced-events list and a re-rate.
        expect(event.unpricedUsage).toEqual(unpriced.length === 0 ? null : unpriced);
        if (unpriced.length === 0) expect(audits.has(id)).toBe(false);
        else expect(audits.get(id)).toEqual({ pricedCost: toPlainString(expected.cost), rateIds: expected.rateIds, unpricedLines: unpriced });
      });
    }),
    { numRuns: 30 },
  );
}, 120_000);
