import { z } from 'zod';
import 'zod-openapi';
import { dec } from '../billing/decimal';
import { linePrice, rateInEffect, rateVendorUsage, splitVendorUsage, toPlainString, type TokenRate, type TokenUsage } from '../billing/token-cost';
import { auditRow, type AuditActor } from '../prisma/audit';
import { Prisma, type PrismaClient } from '../prisma/client';
import { tokenRateOf } from '../prisma/vendor-rates';

/*
 * Events whose vendor usage rating left unpriced (usage_events.unpriced_usage:
 * no rate in effect at the event's timestamp, a count the rate has no price
 * for, a line of the wrong shape), and their re-rating once a rate prices
 * them. A re-rate only adds: the lines priced at rating keep their cost, the
 * lines a rate in effect at the event's timestamp now prices add theirs, and
 * what still has no price stays listed. Rates are never back-dated over a rate
 * that priced events (services/vendor-rates.ts), so pricing a line later
 * cannot disagree with how the event's other lines were priced.
 *
 * The API (api/routes/unpriced-events.ts) and the web app's unpriced-events
 * page call these; every re-rated event gets an audit row (`event.rerated`)
 * with its cost, rates and unpriced lines before and after.
 */

const LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 500;
/** Events re-rated per transaction: row locks held briefly, progress kept if a later chunk fails. */
const RERATE_CHUNK = 200;
const MAX_EVENT_IDS = 1000;

const pairFilter = {
  vendor: z.string().min(1).max(255).optional().meta({ description: 'Only events with an unpriced line of this vendor' }),
  model: z.string().min(1).max(255).optional().meta({ description: 'Only events with an unpriced line of this model' }),
};

export const UnpricedEventsQuerySchema = z.strictObject({
  ...pairFilter,
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(LIST_LIMIT).meta({ description: `Events listed, newest first (default ${LIST_LIMIT})` }),
});
export type UnpricedEventsQuery = z.output<typeof UnpricedEventsQuerySchema>;

export const RerateRequestSchema = z
  .strictObject({
    event_ids: z.array(z.uuid()).min(1).max(MAX_EVENT_IDS).optional().meta({ description: `These events only (at most ${MAX_EVENT_IDS}); default: every listed event that matches vendor and model` }),
    ...pairFilter,
  })
  .meta({ id: 'RerateRequest' });
export type RerateRequest = z.output<typeof RerateRequestSchema>;

const UnpricedLineSchema = z.object({
  line: z.unknown().meta({ description: 'The vendor_usage line as the event sent it' }),
  reason: z.enum(['no_rate', 'no_price', 'malformed']).meta({ description: 'no_rate: no rate of its vendor and model was in effect at the event\'s timestamp; no_price: the rate in effect has no price for a count; malformed: not a usage line' }),
  detail: z.string().meta({ description: 'The reason in words' }),
  priceable_now: z.boolean().meta({ description: 'Whether a re-rate would price it with the rates there are now' }),
});

export const UnpricedEventsSchema = z
  .object({
    summary: z.array(
      z.object({
        vendor: z.string(),
        model: z.string(),
        events: z.number().int(),
        lines: z.number().int(),
        priceable_now: z.number().int().meta({ description: 'Of the lines, those a re-rate would price now' }),
      }),
    ).meta({ description: 'Every unpriced line of the organization by vendor and model (malformed lines under vendor and model "")' }),
    data: z.array(
      z.object({
        id: z.uuid(),
        idempotency_key: z.string(),
        customer_external_id: z.string(),
        event_type: z.string(),
        timestamp: z.string(),
        cost: z.string().nullable().meta({ description: 'The cost of its priced lines, unrounded' }),
        rate_ids: z.array(z.string()),
        unpriced: z.array(UnpricedLineSchema),
      }),
    ),
  })
  .meta({ id: 'UnpricedEvents' });
export type UnpricedEventsJson = z.output<typeof UnpricedEventsSchema>;

export const RerateResultSchema = z
  .object({
    events_rerated: z.number().int().meta({ description: 'Events that had a line priced (each with an event.rerated audit row)' }),
    lines_priced: z.number().int(),
    lines_still_unpriced: z.number().int().meta({ description: 'Lines of the events looked at that no rate prices yet' }),
  })
  .meta({ id: 'RerateResult' });
export type RerateResultJson = z.output<typeof RerateResultSchema>;

interface UnpricedRow {
  id: string;
  idempotency_key: string;
  customer_external_id: string;
  event_type: string;
  timestamp: Date;
  cost: string | null;
  rate_ids: string[];
  unpriced_usage: unknown;
}

/** Events whose unpriced lines match vendor and model (JSON containment, through the partial index's rows). */
function pairCondition(filter: { vendor?: string | undefined; model?: string | undefined }): Prisma.Sql {
  const probe = { ...(filter.vendor ? { vendor: filter.vendor } : {}), ...(filter.model ? { model: filter.model } : {}) };
  return Object.keys(probe).length === 0 ? Prisma.empty : Prisma.sql`AND unpriced_usage @> ${JSON.stringify([probe])}::jsonb`;
}

/** The organization's rates for the vendor/model pairs of these lines, all their history. */
async function ratesFor(db: Pick<PrismaClient, 'vendorRate'>, organizationId: string, lines: readonly TokenUsage[]): Promise<TokenRate[]> {
  const pairs = [...new Map(lines.map((l) => [`${l.vendor}\u0000${l.model}`, { vendor: l.vendor, model: l.model }])).values()];
  if (pairs.length === 0) return [];
  return (await db.vendorRate.findMany({ where: { organizationId, OR: pairs } })).map(tokenRateOf);
}

function explain(rates: readonly TokenRate[], line: unknown, at: Date): z.output<typeof UnpricedLineSchema> {
  const { lines } = splitVendorUsage([line]);
  const usage = lines[0];
  if (!usage) return { line, reason: 'malformed', detail: 'not a usage line (vendor, model and counts); no rate can price it', priceable_now: false };
  const rate = rateInEffect(rates, usage.vendor, usage.model, at);
  if (!rate) {
    return { line, reason: 'no_rate', detail: `no rate of ${usage.vendor}/${usage.model} in effect at ${at.toISOString()}`, priceable_now: false };
  }
  const priced = linePrice(rate, usage);
  if (priced.ok) return { line, reason: 'no_rate', detail: `no rate was in effect when it was rated; rate ${rate.id} prices it now`, priceable_now: true };
  return { line, reason: 'no_price', detail: `rate ${rate.id} of ${usage.vendor}/${usage.model} has no price for ${priced.unpricedCounts.join(', ')}`, priceable_now: false };
}

/** The unpriced events, newest first, each line with why it is unpriced and whether a re-rate would price it now; and a summary by vendor and model. */
export async function listUnpricedEvents(prisma: PrismaClient, organizationId: string, query: UnpricedEventsQuery): Promise<UnpricedEventsJson> {
  const rows = await prisma.$queryRaw<UnpricedRow[]>`
    SELECT id, idempotency_key, customer_external_id, event_type, timestamp, cost::text AS cost, rate_ids, unpriced_usage
      FROM usage_events
     WHERE organization_id = ${organizationId}::uuid AND unpriced_usage IS NOT NULL ${pairCondition(query)}
     ORDER BY timestamp DESC, id DESC
     LIMIT ${query.limit}`;
  const lines = await prisma.$queryRaw<{ line: unknown; timestamp: Date; event_id: string }[]>`
    SELECT l.line, e.timestamp, e.id AS event_id
      FROM usage_events AS e, jsonb_array_elements(e.unpriced_usage) AS l(line)
     WHERE e.organization_id = ${organizationId}::uuid AND e.unpriced_usage IS NOT NULL AND jsonb_typeof(e.unpriced_usage) = 'array'`;
  const rates = await ratesFor(prisma, organizationId, splitVendorUsage(lines.map((l) => l.line)).lines);

  const summary = new Map<string, { vendor: string; model: string; events: Set<string>; lines: number; priceable_now: number }>();
  for (const { line, timestamp, event_id } of lines) {
    const usage = splitVendorUsage([line]).lines[0];
    const key = usage ? `${usage.vendor}\u0000${usage.model}` : '';
    const entry = summary.get(key) ?? { vendor: usage?.vendor ?? '', model: usage?.model ?? '', events: new Set<string>(), lines: 0, priceable_now: 0 };
    summary.set(key, entry);
    entry.events.add(event_id);
    entry.lines += 1;
    if (explain(rates, line, timestamp).priceable_now) entry.priceable_now += 1;
  }
  return {
    summary: [...summary.values()]
      .sort((a, b) => a.vendor.localeCompare(b.vendor) || a.model.localeCompare(b.model))
      .map(({ events, ...rest }) => ({ ...rest, events: events.size })),
    data: rows.map((r) => ({
      id: r.id,
      idempotency_key: r.idempotency_key,
      customer_external_id: r.customer_external_id,
      event_type: r.event_type,
      timestamp: r.timestamp.toISOString(),
      cost: r.cost === null ? null : toPlainString(dec(r.cost)),
      rate_ids: r.rate_ids,
      unpriced: (Array.isArray(r.unpriced_usage) ? r.unpriced_usage : [r.unpriced_usage]).map((line) => explain(rates, line, r.timestamp)),
    })),
  };
}

/**
 * Prices the unpriced lines of the chosen events (all that match, by
 * default) that a rate in effect at each event's timestamp prices now: the
 * event's cost grows by theirs, its rate ids gain the rates, the rest stays
 * unpriced. In chunks of RERATE_CHUNK events, each one transaction holding
 * the events' rows, so a re-rate running twice prices a line once.
 */
export async function rerateUnpricedEvents(prisma: PrismaClient, organizationId: string, request: RerateRequest, actor: AuditActor): Promise<RerateResultJson> {
  const result: RerateResultJson = { events_rerated: 0, lines_priced: 0, lines_still_unpriced: 0 };
  const ids = request.event_ids ? Prisma.sql`AND id = ANY(${request.event_ids}::uuid[])` : Prisma.empty;
  let after: { timestamp: Date; id: string } | null = null;
  for (;;) {
    const cursor: Prisma.Sql = after ? Prisma.sql`AND (timestamp, id) < (${after.timestamp}, ${after.id}::uuid)` : Prisma.empty;
    const chunk = await prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<UnpricedRow[]>`
        SELECT id, idempotency_key, customer_external_id, event_type, timestamp, cost::text AS cost, rate_ids, unpriced_usage
          FROM usage_events
         WHERE organization_id = ${organizationId}::uuid AND status = 'rated' AND unpriced_usage IS NOT NULL ${ids} ${pairCondition(request)} ${cursor}
         ORDER BY timestamp DESC, id DESC
         LIMIT ${RERATE_CHUNK}
           FOR UPDATE`;
      const split = new Map(rows.map((r) => [r.id, splitVendorUsage(r.unpriced_usage)]));
      const rates = await ratesFor(tx, organizationId, [...split.values()].flatMap((s) => s.lines));
      const audits: Prisma.AuditLogUncheckedCreateInput[] = [];
      for (const row of rows) {
        const { lines, malformed } = split.get(row.id)!;
        const rated = rateVendorUsage(rates, lines, row.timestamp);
        const still = [...rated.unrated, ...malformed];
        const priced = lines.length - rated.unrated.length;
        result.lines_still_unpriced += still.length;
        if (priced === 0) continue;
        const cost = toPlainString(dec(row.cost ?? 0).plus(rated.cost));
        const rateIds = [...new Set([...row.rate_ids, ...rated.rateIds])];
        await tx.usageEvent.update({ where: { id: row.id }, data: { cost, rateIds, unpricedUsage: still.length > 0 ? (still as Prisma.InputJsonValue) : Prisma.DbNull } });
        audits.push(
          auditRow({
            organizationId,
            actor,
            action: 'event.rerated',
            entityType: 'usage_event',
            entityId: row.id,
            before: { cost: row.cost === null ? null : toPlainString(dec(row.cost)), rateIds: row.rate_ids, unpricedLines: row.unpriced_usage as object[] },
            after: { cost, rateIds, unpricedLines: still as object[] },
          }),
        );
        result.events_rerated += 1;
        result.lines_priced += priced;
      }
      if (audits.length > 0) await tx.auditLog.createMany({ data: audits });
      return rows;
    });
    if (chunk.length < RERATE_CHUNK) return result;
    const last = chunk[chunk.length - 1]!;
    after = { timestamp: last.timestamp, id: last.id };
  }
}
