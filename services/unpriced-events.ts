import { z } from 'zod';
import 'zod-openapi';
import { dec } from '../billing/decimal';
import { linePrice, MAX_EVENT_COST, rateInEffect, rateVendorUsage, splitVendorUsage, toPlainString, USAGE_COUNTS, type TokenRate, type TokenUsage } from '../billing/token-cost';
import { auditRow, type AuditActor } from '../prisma/audit';
import { Prisma, type PrismaClient } from '../prisma/client';
import { tokenRateOf } from '../prisma/vendor-rates';
import { DomainError } from './errors';

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
/** A chunk's transaction: RERATE_CHUNK row updates and their audit rows take well under this on a loaded machine. */
const RERATE_TX = { maxWait: 10_000, timeout: 60_000 };

const pairFilter = {
  vendor: z.string().min(1).max(255).optional().meta({ description: 'Only unpriced lines of this vendor' }),
  model: z.string().min(1).max(255).optional().meta({ description: 'Only unpriced lines of this model' }),
};

export const UnpricedEventsQuerySchema = z.strictObject({
  ...pairFilter,
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(LIST_LIMIT).meta({ description: `Events listed, newest first (default ${LIST_LIMIT})` }),
});
export type UnpricedEventsQuery = z.output<typeof UnpricedEventsQuerySchema>;

export const RerateRequestSchema = z
  .strictObject({
    event_ids: z.array(z.uuid()).min(1).max(MAX_EVENT_IDS).optional().meta({ description: `These events only (at most ${MAX_EVENT_IDS}); default: every unpriced event (with an unpriced line of vendor and model, when named)` }),
    ...pairFilter,
  })
  .meta({ id: 'RerateRequest' });
export type RerateRequest = z.output<typeof RerateRequestSchema>;

const UnpricedLineSchema = z.object({
  line: z.unknown().meta({ description: 'The vendor_usage line as the event sent it' }),
  reason: z.enum(['no_rate', 'no_price', 'too_large', 'malformed']).meta({
    description:
      'no_rate: no rate of its vendor and model was in effect at the event\'s timestamp (a rate for that time prices it); no_price: the rate in effect has no price for a count (rates are never edited, so it stays unpriced); too_large: its cost is more than an event\'s cost holds (10^12); malformed: not a usage line',
  }),
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
  if (!priced.ok) {
    return {
      line,
      reason: 'no_price',
      detail: `rate ${rate.id} of ${usage.vendor}/${usage.model} has no price for ${priced.unpricedCounts.join(', ')}; rates are never edited, so this line stays unpriced (a new rate with that price prices usage from its start on)`,
      priceable_now: false,
    };
  }
  if (priced.cost.gte(MAX_EVENT_COST)) {
    return { line, reason: 'too_large', detail: `its cost at rate ${rate.id} (${toPlainString(priced.cost)}) is more than an event's cost holds`, priceable_now: false };
  }
  return { line, reason: 'no_rate', detail: `no rate was in effect when it was rated; rate ${rate.id} prices it now`, priceable_now: true };
}

/** SQL: the organization's unpriced lines, one row each, with vendor and model when the line is a usage line (NULL when not). */
const unpricedLines = (organizationId: string) => Prisma.sql`
  SELECT e.id AS event_id, e.timestamp, l.line,
         CASE WHEN jsonb_typeof(l.line) = 'object' AND jsonb_typeof(l.line -> 'vendor') = 'string' AND jsonb_typeof(l.line -> 'model') = 'string'
               AND NOT EXISTS (SELECT 1 FROM jsonb_each(l.line) AS c(k, v) WHERE c.k = ANY(${USAGE_COUNTS as string[]}::text[]) AND CASE WHEN jsonb_typeof(c.v) <> 'number' THEN TRUE ELSE (c.v::text)::numeric < 0 END)
              THEN TRUE ELSE FALSE END AS usage_line
    FROM usage_events AS e,
         jsonb_array_elements(CASE WHEN jsonb_typeof(e.unpriced_usage) = 'array' THEN e.unpriced_usage ELSE jsonb_build_array(e.unpriced_usage) END) AS l(line)
   WHERE e.organization_id = ${organizationId}::uuid AND e.unpriced_usage IS NOT NULL`;

/**
 * Every unpriced line of the organization by vendor and model, counted in
 * the database (a model without a rate for a month is millions of lines):
 * lines and events per pair, and per (pair, rate in effect at the line's
 * event, counts the line has) whether that rate prices such a line, which
 * is billing/token-cost.ts's rule applied once per group. Lines of the wrong
 * shape count under vendor and model "".
 */
async function summarize(prisma: PrismaClient, organizationId: string): Promise<UnpricedEventsJson['summary']> {
  const pairs = await prisma.$queryRaw<{ vendor: string; model: string; lines: bigint; events: bigint }[]>`
    SELECT CASE WHEN u.usage_line THEN u.line ->> 'vendor' ELSE '' END AS vendor, CASE WHEN u.usage_line THEN u.line ->> 'model' ELSE '' END AS model,
           count(*) AS lines, count(DISTINCT u.event_id) AS events
      FROM (${unpricedLines(organizationId)}) AS u
     GROUP BY 1, 2
     ORDER BY 1, 2`;
  const groups = await prisma.$queryRaw<{ vendor: string; model: string; rate_id: string; counts: string[]; lines: bigint }[]>`
    SELECT u.line ->> 'vendor' AS vendor, u.line ->> 'model' AS model, r.id AS rate_id,
           ARRAY(SELECT c.k FROM jsonb_each(u.line) AS c(k, v) WHERE c.k = ANY(${USAGE_COUNTS as string[]}::text[]) AND (c.v::text)::numeric > 0 ORDER BY c.k) AS counts,
           count(*) AS lines
      FROM (${unpricedLines(organizationId)}) AS u
      JOIN LATERAL (
             -- billing/token-cost.ts rateInEffect: effective_from <= at < effective_to, the latest start wins
             SELECT r.id FROM vendor_rates AS r
              WHERE r.organization_id = ${organizationId}::uuid AND r.vendor = u.line ->> 'vendor' AND r.model = u.line ->> 'model'
                AND r.effective_from <= u.timestamp AND (r.effective_to IS NULL OR r.effective_to > u.timestamp)
              ORDER BY r.effective_from DESC LIMIT 1
           ) AS r ON TRUE
     WHERE u.usage_line
     GROUP BY 1, 2, 3, 4`;
  const rates = new Map(
    groups.length === 0 ? [] : (await prisma.vendorRate.findMany({ where: { organizationId, id: { in: [...new Set(groups.map((g) => g.rate_id))] } } })).map((r) => [r.id, tokenRateOf(r)]),
  );
  const priceable = new Map<string, number>();
  for (const g of groups) {
    const rate = rates.get(g.rate_id);
    const counts = Object.fromEntries(g.counts.map((c) => [c, 1]));
    if (!rate || !linePrice(rate, counts).ok) continue;
    const key = `${g.vendor}\u0000${g.model}`;
    priceable.set(key, (priceable.get(key) ?? 0) + Number(g.lines));
  }
  return pairs.map((p) => ({ vendor: p.vendor, model: p.model, events: Number(p.events), lines: Number(p.lines), priceable_now: priceable.get(`${p.vendor}\u0000${p.model}`) ?? 0 }));
}

/** The unpriced events, newest first, each line with why it is unpriced and whether a re-rate would price it now; and a summary by vendor and model. */
export async function listUnpricedEvents(prisma: PrismaClient, organizationId: string, query: UnpricedEventsQuery): Promise<UnpricedEventsJson> {
  const rows = await prisma.$queryRaw<UnpricedRow[]>`
    SELECT id, idempotency_key, customer_external_id, event_type, timestamp, cost::text AS cost, rate_ids, unpriced_usage
      FROM usage_events
     WHERE organization_id = ${organizationId}::uuid AND unpriced_usage IS NOT NULL ${pairCondition(query)}
     ORDER BY timestamp DESC, id DESC
     LIMIT ${query.limit}`;
  const listedLines = rows.flatMap((r) => splitVendorUsage(r.unpriced_usage).lines);
  const [rates, summary] = await Promise.all([ratesFor(prisma, organizationId, listedLines), summarize(prisma, organizationId)]);
  return {
    summary,
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
      // One re-rate of an organization at a time: a second one answers at once instead of waiting on the first's rows.
      const [lock] = await tx.$queryRaw<{ locked: boolean }[]>`SELECT pg_try_advisory_xact_lock(hashtextextended(${`rerate:${organizationId}`}, 0)) AS locked`;
      if (!lock?.locked) throw new DomainError('conflict', 'RERATE_RUNNING', 'A re-rate of this organization is running; wait for it to finish, then list the unpriced events again');
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
        const { lines: all, malformed } = split.get(row.id)!;
        // With a vendor or model named, only that pair's lines are priced; the event's others wait for their own re-rate.
        const lines = all.filter((l) => (!request.vendor || l.vendor === request.vendor) && (!request.model || l.model === request.model));
        const others = all.filter((l) => !lines.includes(l));
        const rated = rateVendorUsage(rates, lines, row.timestamp, dec(row.cost ?? 0));
        const still = [...rated.unrated, ...others, ...malformed];
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
    }, RERATE_TX);
    if (chunk.length < RERATE_CHUNK) return result;
    const last = chunk[chunk.length - 1]!;
    after = { timestamp: last.timestamp, id: last.id };
  }
}
